"""Sharding is exact: the demo config run in 1, 2 or 4 shards gives the unsharded records.

Ingest shards by source file and the later stages by record id, so these runs also check the
store's contract that a shard of a stage reads exactly its own part of an upstream stage
sharded the same way (not the ids it would own by hash).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.unit.corpus.demo_run import REPO, SMALL
from tests.unit.corpus.demo_run import demo_config as _config
from tests.unit.corpus.demo_run import demo_outputs as _outputs
from tests.unit.corpus.demo_run import rows_of as _rows
from wavecoder import pipeline as pl
from wavecoder.store import RunStore, Shard


def _plain_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".shard-" not in p.name)


@pytest.fixture(scope="module")
def unsharded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    run_dir = tmp_path_factory.mktemp("plain") / "run"
    pl.run_pipeline(_config(run_dir), quiet=True)
    out = _outputs(run_dir)
    assert len(out["ingest.records"]) > 100 and len(out["select.records"]) > 0  # type: ignore[arg-type]
    return out


@pytest.mark.parametrize("count", [1, 2, 4])
def test_sharded_demo_gives_the_unsharded_records(
    count: int, tmp_path: Path, unsharded: dict[str, object]
) -> None:
    run_dir = tmp_path / "run"
    rc = _config(run_dir)
    for index in range(count):  # each shard runs up to the first stage that needs them all
        pl.run_pipeline(rc, shard=Shard(index, count), quiet=True)
    for stage in ("ingest", "filter"):
        assert pl.completion(RunStore(run_dir).stage(stage)) == ("done", [])
    results = pl.run_pipeline(rc, stop="dedup", quiet=True)  # dedup, reusing the shards
    assert results["ingest"] is None and results["filter"] is None  # not run again
    for index in range(count):  # embed sharded again, reading the unsharded dedup
        pl.run_pipeline(rc, shard=Shard(index, count), start="embed", quiet=True)
    pl.run_pipeline(rc, quiet=True)  # select over all embed parts
    for stage in ("ingest", "filter", "embed"):  # no plain file beside the parts
        assert _plain_files(run_dir / stage) == ["fingerprint.json"]
    assert _outputs(run_dir) == unsharded


def test_unsharded_run_finishes_missing_shards_with_the_same_count(
    tmp_path: Path, unsharded: dict[str, object]
) -> None:
    run_dir = tmp_path / "run"
    rc = _config(run_dir)
    pl.run_pipeline(rc, shard=Shard(1, 3), stop="filter", quiet=True)
    assert pl.completion(RunStore(run_dir).stage("ingest")) == ("partial", [0, 2])
    results = pl.run_pipeline(rc, quiet=True)
    assert results["ingest"] is not None  # shards 0 and 2 ran now, as shards
    assert _plain_files(run_dir / "filter") == ["fingerprint.json"]
    assert _outputs(run_dir) == unsharded


def test_stage_command_sharded_then_unsharded_into_one_folder(tmp_path: Path) -> None:
    """`wavecoder filter --shard k/4` four times, then `wavecoder filter`: the same records as
    one unsharded filter, nothing run twice, nothing doubled."""
    rc = _config(tmp_path / "run")
    pl.run_pipeline(rc, stop="ingest", quiet=True)
    spec = pl.stage_spec("filter")
    ingest = RunStore(rc.run_dir).stage("ingest")
    section = rc.sections["filter"]
    whole = RunStore(tmp_path / "whole").stage("filter")
    pl.run_stage(spec, section, whole, inputs={"ingest": ingest})
    folder = tmp_path / "filter"
    for k in range(4):
        out = RunStore(tmp_path, shard=Shard(k, 4)).stage("filter")
        pl.run_stage(spec, section, out, inputs={"ingest": ingest})
    assert (
        pl.run_stage(spec, section, RunStore(tmp_path).stage("filter"), inputs={"ingest": ingest})
        is None
    )
    merged = RunStore(tmp_path).stage("filter")
    for name in ("records", "rejected"):
        got = sorted(json.dumps(o) for p in merged.parts(name) for o in _rows(p))
        want = sorted(json.dumps(o) for p in whole.parts(name) for o in _rows(p))
        assert got == want
    assert pl.stage_stats(merged)["out"] == whole.read_json("stats")["out"]
    assert _plain_files(folder) == ["fingerprint.json"]


def test_readme_shard_commands_with_the_installed_executable(tmp_path: Path) -> None:
    """README's `wavecoder filter ... --shard k/4`, four times, then the unsharded command."""
    import os
    import subprocess
    import sys

    exe = Path(sys.executable).parent / "wavecoder"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}

    def wc(*args: str) -> str:
        done = subprocess.run(
            [str(exe), *args], env=env, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    ingest, out = tmp_path / "ingest", tmp_path / "filter"
    wc("ingest", "-i", "stdlib", "-o", str(ingest), SMALL[0].removeprefix("ingest."), "-q")
    for k in range(4):
        wc("filter", "-i", str(ingest), "-o", str(out), "max_chars=1000", "--shard", f"{k}/4")
    summary = wc("filter", "-i", str(ingest), "-o", str(out), "max_chars=1000")
    n_in = len((ingest / "records.jsonl").read_text(encoding="utf-8").splitlines())
    n_out = sum(len(p.read_text().splitlines()) for p in out.glob("records.shard-*.jsonl"))
    n_rej = sum(len(p.read_text().splitlines()) for p in out.glob("rejected.shard-*.jsonl"))
    assert n_out + n_rej == n_in  # every ingested record kept or rejected exactly once
    assert f"in={n_in}" in summary and f"out={n_out}" in summary
    assert _plain_files(out) == ["fingerprint.json"]
