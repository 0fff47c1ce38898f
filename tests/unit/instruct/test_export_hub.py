"""Pushing an export to the hub, checked at the `HubApi` seam: never the network.

The recorder stands in for `huggingface_hub.HfApi` and checks the calls a push makes; which
files the push sends is computed with huggingface_hub's own pattern filter, as upload_folder
does. The real client is built too (no request is made by building it) and, under the test
suite's offline mode, refuses to send anything.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest
from huggingface_hub import HfApi

from tests.unit.instruct.export_run import build
from wavecoder import cli
from wavecoder import pipeline as pl
from wavecoder.config import ConfigError
from wavecoder.instruct import hub
from wavecoder.instruct.export import Config

TOKEN = "hf_test_0123456789abcdef"


class Recorder:
    """Records create_repo / create_branch / upload_folder and answers like the hub does."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def create_repo(self, repo_id: str, **kwargs: Any) -> Any:
        self.calls.append(("create_repo", {"repo_id": repo_id, **kwargs}))
        return f"https://huggingface.co/datasets/{repo_id}"

    def create_branch(self, repo_id: str, **kwargs: Any) -> Any:
        self.calls.append(("create_branch", {"repo_id": repo_id, **kwargs}))

    def upload_folder(self, **kwargs: Any) -> Any:
        self.calls.append(("upload_folder", kwargs))

        class Info:
            commit_url = f"https://huggingface.co/datasets/{kwargs['repo_id']}/commit/abc123"

        return Info()


def uploaded(folder: Path, patterns: list[str]) -> list[str]:
    """The files upload_folder would send from `folder` with these allow patterns."""
    from huggingface_hub.utils import filter_repo_objects

    files = [p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()]
    return sorted(filter_repo_objects(files, allow_patterns=patterns))


def test_the_stage_pushes_card_data_and_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    api = Recorder()
    monkeypatch.setattr(hub, "client", lambda: api)
    built = build(tmp_path / "run")
    spec = pl.stage_spec("export")
    inputs = {n: built.store.stage(n) for n in pl.load_stage(spec).INPUTS}
    cfg = Config(hub_repo="octo/codeocean-mini", hub_revision="v1", plots=False)
    stats = pl.run_stage(spec, cfg, built.store.stage("export"), inputs=inputs, quiet=True)
    assert stats is not None
    assert stats["hub"] == "https://huggingface.co/datasets/octo/codeocean-mini/commit/abc123"
    names = [name for name, _ in api.calls]
    assert names == ["create_repo", "create_branch", "upload_folder"]
    for name, kwargs in api.calls:  # each call binds to the real method's signature
        real = getattr(HfApi, name)
        inspect.signature(real).bind(None, **kwargs)
    create, branch, upload = (kw for _, kw in api.calls)
    assert create == {
        "repo_id": "octo/codeocean-mini",
        "repo_type": "dataset",
        "private": True,
        "exist_ok": True,
    }
    assert branch["branch"] == "v1" and branch["repo_type"] == "dataset"
    assert upload["repo_type"] == "dataset" and upload["revision"] == "v1"
    folder = Path(upload["folder_path"])
    assert folder == built.store.stage("export").path
    assert uploaded(folder, upload["allow_patterns"]) == [
        "README.md",
        "data/alpaca.json",
        "data/alpaca.parquet",
        "data/messages.jsonl",
        "report/report.md",
    ], "the stage's bookkeeping (stats, fingerprint, rejected) stays local"
    assert upload["commit_message"].startswith("wavecoder export ")
    for path in folder.rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), f"the token leaked into {path}"


def test_the_stage_pushes_through_the_real_client_to_a_local_hub(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The production path end to end: HfApi built from HF_TOKEN, create_repo, the card's
    YAML check, preupload and commit, against tests/helpers/fake_hub.py on 127.0.0.1 (xet off:
    small files go inline in the commit, as the hub takes them without xet)."""
    from huggingface_hub import constants

    from tests.helpers.fake_hub import fake_hub

    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)  # loopback only: the guard stays
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    built = build(tmp_path / "run")
    spec = pl.stage_spec("export")
    inputs = {n: built.store.stage(n) for n in pl.load_stage(spec).INPUTS}
    out = built.store.stage("export")
    with fake_hub() as fake:
        monkeypatch.setattr(constants, "ENDPOINT", fake.url)
        stats = pl.run_stage(spec, Config(hub_repo="octo/mini"), out, inputs=inputs, quiet=True)
    assert stats is not None and stats["hub"].startswith(f"{fake.url}/datasets/octo/mini/commit/")
    assert fake.repos == {"octo/mini": {"visibility": "private", "type": "dataset"}}
    sent = fake.files["octo/mini"]
    assert sorted(sent) == uploaded(out.path, hub.UPLOAD)
    assert "report/funnel.png" in sent and "stats.json" not in sent
    for name, content in sent.items():
        assert content == (out.path / name).read_bytes(), name
    assert set(fake.auth) == {f"Bearer {TOKEN}"}
    (commit,) = fake.commits
    assert commit["revision"] == "main" and commit["summary"].startswith("wavecoder export ")


def test_a_push_without_a_token_or_with_a_bad_id_stops_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("HF_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="HF_TOKEN is not set"):
        pl.load_stage(pl.stage_spec("export")).preflight(Config(hub_repo="octo/x"))
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    with pytest.raises(ConfigError, match="not a hub id; expected owner/name"):
        hub.check("no-owner")
    monkeypatch.delenv("HF_TOKEN")
    built = build(tmp_path / "run")
    root = built.store.root
    args = [
        f"-i{root / n}" for n in ("dedup", "select", "generate", "judge", "verify", "decontaminate")
    ]
    code = cli.main(["export", *args, "-o", str(tmp_path / "out"), "hub_repo=octo/x"])
    assert code == 2 and "HF_TOKEN is not set" in capsys.readouterr().err
    rc = pl.build_run_config({"run_dir": str(root), "export": {"hub_repo": "octo/x"}})
    with pytest.raises(ConfigError, match="HF_TOKEN"):
        pl.run_pipeline(rc, start="export", stop="export", quiet=True)
    assert not (root / "export").exists()


def test_the_real_client_takes_the_token_from_the_environment_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import constants
    from huggingface_hub.errors import OfflineModeIsEnabled

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)  # read once, at import
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    api = hub.client()
    assert getattr(api, "token", None) == TOKEN
    (tmp_path / "README.md").write_text("card")
    # offline (the suite's guard): the real client refuses before any byte leaves the machine
    with pytest.raises(hub.HubError, match="rerun it with --force export") as err:
        hub.push(tmp_path, repo_id="octo/x")
    assert isinstance(err.value.__cause__, OfflineModeIsEnabled)
    assert TOKEN not in str(err.value)


def test_a_refused_push_fails_the_stage_with_the_files_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub.errors import HfHubHTTPError

    class Refusing(Recorder):
        def upload_folder(self, **kwargs: Any) -> Any:
            import httpx2

            request = httpx2.Request("POST", "https://huggingface.co/api/datasets/octo/x/commit")
            response = httpx2.Response(403, request=request)
            raise HfHubHTTPError("403 Forbidden: no write access to octo/x", response=response)

    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.setattr(hub, "client", Refusing)
    built = build(tmp_path / "run")
    spec = pl.stage_spec("export")
    inputs = {n: built.store.stage(n) for n in pl.load_stage(spec).INPUTS}
    out = built.store.stage("export")
    with pytest.raises(hub.HubError, match="403 Forbidden"):
        pl.run_stage(spec, Config(hub_repo="octo/x", plots=False), out, inputs=inputs)
    assert not out.is_done() and (out.path / "data" / "alpaca.json").is_file()


def test_publishing_settings_leave_the_fingerprint_alone(tmp_path: Path) -> None:
    """Pushing a finished export later must not make the trained model after it stale."""
    spec = pl.stage_spec("export")
    module = pl.load_stage(spec)
    built = build(tmp_path / "run")
    inputs = {n: built.store.stage(n) for n in module.INPUTS}

    def fp(cfg: Config) -> str:
        return str(pl.fingerprint_record(spec, module, cfg, 42, inputs)["fingerprint"])

    plain = fp(Config())
    assert fp(Config(hub_repo="octo/x", hub_private=False, hub_revision="v2")) == plain
    assert fp(Config(formats=("parquet",))) != plain


def test_the_documented_push_command_needs_the_token(tmp_path: Path) -> None:
    """docs/export.md's push command, through the installed executable, without HF_TOKEN."""
    import os
    import subprocess
    import sys

    built = build(tmp_path / "run")
    config = tmp_path / "x.yaml"
    config.write_text(f"run_dir: {built.store.root}\n")
    env = {k: v for k, v in os.environ.items() if k != "HF_TOKEN"}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[3] / "src")
    exe = Path(sys.executable).parent / "wavecoder"
    opts = ["--from", "export", "--to", "export", "--force", "export"]
    push = [str(exe), "run", str(config), *opts, "export.hub_repo=me/codeocean"]
    done = subprocess.run(push, capture_output=True, text=True, env=env)
    assert done.returncode == 2 and "HF_TOKEN is not set" in done.stderr
    plain = [str(exe), "run", str(config), "export.plots=false", *opts, "export.dedup=true"]
    done = subprocess.run(plain, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert (built.store.root / "export" / "data" / "alpaca.json").is_file()
