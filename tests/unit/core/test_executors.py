"""The executor choice without a cluster: config and command-line checks, `wavecoder status` on
shards that are done / running / failed, the worker's run-directory check, and that choosing
nothing imports nothing (the Ray runs themselves: tests/unit/corpus/test_ray_executor.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from wavecoder import cli
from wavecoder import pipeline as pl
from wavecoder.config import ConfigError
from wavecoder.executors import LocalExecutor, RayConfig, current, open_executor
from wavecoder.store import Shard

REPO = Path(__file__).resolve().parents[3]
TINY = REPO / "configs" / "tiny.yaml"


def test_the_default_is_local_and_the_config_can_choose_ray(tmp_path: Path) -> None:
    rc = pl.load_run_config(TINY)
    assert rc.executor == "local" and rc.ray == RayConfig()
    rc = pl.load_run_config(TINY, ["executor=ray", "ray.shards=8", "ray.gpus.embed=1"])
    assert rc.executor == "ray" and rc.ray.shards == 8 and rc.ray.gpus == {"embed": 1.0}
    assert rc.to_data()["ray"]["shards"] == 8  # recorded in the run's config.yaml


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ("executor=dask", "executor: 'dask' is not one of local, ray"),
        ("ray.shards=0", "shards must be at least 1"),
        ("ray.gpus.embedd=1", "ray.gpus: embedd is not a stage"),
        ("ray.adress=auto", "ray.adress"),
    ],
)
def test_bad_executor_settings_name_the_key(override: str, named: str) -> None:
    with pytest.raises(ConfigError, match="tiny.yaml") as info:
        pl.load_run_config(TINY, [override])
    assert named in str(info.value)


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--executor", "ray", "--shard", "0/2"], "--shard 0/2: the Ray executor shards"),
        (["--executor", "local", "--address", "auto"], "--address auto: only with --executor"),
    ],
)
def test_contradicting_options_are_usage_errors(
    argv: list[str], named: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["run", str(TINY), f"run_dir={tmp_path / 'run'}", *argv])
    err = capsys.readouterr().err
    assert code == 2 and named in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()  # refused before anything was written


def test_a_sharded_run_refuses_an_executor_that_shards_itself(tmp_path: Path) -> None:
    class Sharding(LocalExecutor):
        name = "ray"

    rc = pl.load_run_config(TINY, [f"run_dir={tmp_path / 'run'}"])
    with pytest.raises(pl.UsageError, match="drop --shard"):
        pl.run_pipeline(rc, shard=Shard(0, 2), executor=Sharding())


def test_current_is_the_open_executor_and_local_outside(tmp_path: Path) -> None:
    assert current().name == "local" and current().map(abs, [-1, 2]) == [1, 2]
    with open_executor("local", RayConfig(), tmp_path) as executor:
        assert current() is executor


def test_status_shows_shards_done_running_failed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from wavecoder.show import status_rows

    folder = tmp_path / "filter"
    folder.mkdir()
    (folder / "fingerprint.json").write_text("{}")
    (folder / "done.shard-00000-of-00004.json").write_text(json.dumps({"seconds": 1.0}))
    (folder / "records.shard-00001-of-00004.jsonl").write_text("")  # parts, no done marker
    (folder / "records.shard-00002-of-00004.jsonl").write_text("")
    (folder / "failed.shard-00002-of-00004.json").write_text("{}")  # Ray gave up on it
    (tmp_path / "select").mkdir()
    (tmp_path / "select" / "fingerprint.json").write_text("{}")
    (tmp_path / "select" / "failed.json").write_text("{}")
    rows = {r[0]: r for r in status_rows(tmp_path)}
    assert rows["filter"][1] == "partial (shards 1,2,3 missing: 1 running, 2 failed, 3 pending)"
    assert rows["select"][1] == "failed (see failed.json)"
    (folder / "done.shard-00002-of-00004.json").write_text("{}")  # retried locally since
    rows = {r[0]: r for r in status_rows(tmp_path)}
    assert rows["filter"][1] == "partial (shards 1,3 missing: 1 running, 3 pending)"


def test_a_worker_checks_it_sees_the_drivers_run_directory(tmp_path: Path) -> None:
    from wavecoder.ray_worker import TOKEN_FILE, RunDirNotVisible, check_visible, write_token

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    token = write_token(run_dir)
    check_visible(token)  # the driver's own view
    (run_dir / TOKEN_FILE).write_text(json.dumps({"token": "another-run"}))
    with pytest.raises(RunDirNotVisible, match=r"sees another .*run than the driver"):
        check_visible(token)
    (run_dir / TOKEN_FILE).unlink()
    with pytest.raises(RunDirNotVisible, match=f"cannot see the run directory {run_dir}"):
        check_visible(token)


def test_choosing_no_executor_imports_no_ray() -> None:
    code = (
        "import sys; from wavecoder import cli, pipeline as pl, executors; "
        f"cli.build_parser(); pl.load_run_config(__import__('pathlib').Path({str(TINY)!r})); "
        "print('ray' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={"PYTHONPATH": str(REPO / "src")},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_an_address_ray_cannot_use_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("ray")
    argv = ["run", str(TINY), f"run_dir={tmp_path / 'run'}", "--address", "head:port", "-q"]
    code = cli.main(argv)
    err = capsys.readouterr().err
    assert code == 2 and "ray.address head:port: Unable to parse port" in err, err
    assert len(err.strip().splitlines()) == 1


def test_a_stage_keeps_to_its_tasks_cpu_share(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from wavecoder.executors import CPUS_ENV, cpu_slots

    monkeypatch.delenv(CPUS_ENV, raising=False)
    assert cpu_slots() == (os.cpu_count() or 1)
    monkeypatch.setenv(CPUS_ENV, "3")  # what a Ray worker sets for its task
    assert cpu_slots() == 3


def test_a_stale_stage_stops_a_ray_run_before_ray_is_asked(tmp_path: Path) -> None:
    """The driver's checks (fingerprints here) come before any task or cluster."""
    ray = pytest.importorskip("ray")
    rc = pl.load_run_config(
        TINY, [f"run_dir={tmp_path / 'run'}", 'ingest.exclude=["/*", "!/json/"]']
    )
    pl.run_pipeline(rc, stop="filter", quiet=True)
    changed = pl.replace_section(rc, "filter", max_chars=500)
    with open_executor("ray", RayConfig(), rc.run_dir) as executor:
        with pytest.raises(pl.StaleStageError, match="filter"):
            pl.run_pipeline(changed, stop="filter", quiet=True, executor=executor)
        assert not ray.is_initialized()
    assert not (rc.run_dir / ".wavecoder-executor.json").exists()


class spreading:  # a stage module that hands out work units (the shape of generate, eval)
    VERSION = 1
    INPUTS: tuple[str, ...] = ()
    SHARDABLE = False

    @dataclass(frozen=True)
    class Config:
        n: int = 4

    @staticmethod
    def run(ctx: Any, *, map_fn: Any = None, workers: int = 1) -> dict[str, Any]:
        items = list(range(ctx.cfg.n))
        squares = (map_fn or (lambda f, xs: list(map(f, xs))))(_square, items)
        return {"in": len(items), "out": sum(squares), "spread": map_fn is not None,
                "workers": workers}  # fmt: skip


def _square(x: int) -> int:
    return x * x


def test_the_runner_hands_a_spreading_executors_map_to_stages_that_take_it(
    tmp_path: Path,
) -> None:
    class Spreading(LocalExecutor):
        name = "spread"

        def __init__(self) -> None:
            self.calls: list[int] = []

        def map(self, fn: Any, items: Any) -> list[Any]:
            self.calls.append(len(items))
            return [fn(x) for x in items]

        def workers(self) -> int:
            return 7

    stages = (pl.StageSpec("spreading", f"{__name__}:spreading", "toy"),)
    rc = pl.build_run_config({"run_dir": str(tmp_path / "run")}, stages)
    local = pl.run_pipeline(rc, stages=stages, quiet=True)["spreading"]
    assert local == {"in": 4, "out": 14, "spread": False, "workers": 1}
    spread = Spreading()
    stats = pl.run_pipeline(rc, stages=stages, quiet=True, force=["spreading"], executor=spread)
    assert stats["spreading"] == {"in": 4, "out": 14, "spread": True, "workers": 7}
    assert spread.calls == [4]
    assert current().name == "local"  # only while the run lasts
