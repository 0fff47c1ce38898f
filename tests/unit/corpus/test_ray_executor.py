"""The Ray executor on a local Ray (2 CPUs, started and stopped here): the demo's corpus stages
give the local run's records, a worker killed mid-shard is retried to the same output, and a
worker that cannot see the run directory is a clear error, not an empty shard.

One Ray instance serves the module (starting one costs seconds); its workers run
`tests.helpers.ray_faults.install`, which kills a worker only when a test arms it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from tests.helpers import ray_faults  # noqa: E402
from tests.helpers.executable import wavecoder  # noqa: E402
from tests.unit.corpus.demo_run import (  # noqa: E402
    REPO,
    SMALL,
    STAGES,
    demo_config,
    demo_outputs,
)
from wavecoder import pipeline as pl  # noqa: E402
from wavecoder.executors import RayConfig, open_executor  # noqa: E402
from wavecoder.store import RunStore, StageDir  # noqa: E402

CONFIG = RayConfig(shards=2, max_retries=2)


@pytest.fixture(scope="module")
def faults(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path | None]:
    """A local Ray for the module; the folder where tests arm worker kills (None: a Ray that
    another suite started is shared, without the fault hook)."""
    if ray.is_initialized():  # tests/helpers/raymap.py's session Ray, when that suite ran first
        yield None
        return
    folder = tmp_path_factory.mktemp("faults")
    env = {
        ray_faults.FAULTS_ENV: str(folder),
        "PYTHONPATH": os.pathsep.join(
            [str(REPO / "src"), str(REPO), os.environ.get("PYTHONPATH", "")]
        ),
        "RAY_AUTH_MODE": "disabled",  # a throwaway local cluster; the subprocess joins it
    }
    saved = {k: os.environ.get(k) for k in [*env, "RAY_ADDRESS"]}
    os.environ.pop("RAY_ADDRESS", None)  # a Ray of our own, never a cluster the shell names
    os.environ.update(env)  # the workers inherit it from the raylet this starts
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        logging_level="WARNING",
        runtime_env={"worker_process_setup_hook": "tests.helpers.ray_faults.install"},
    )
    try:
        yield folder
    finally:
        ray.shutdown()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    run_dir = tmp_path_factory.mktemp("local") / "run"
    pl.run_pipeline(demo_config(run_dir), stop="select", quiet=True)
    return demo_outputs(run_dir)


def _ray_run(run_dir: Path, stop: str = "select") -> dict[str, pl.Stats | None]:
    rc = demo_config(run_dir)
    with open_executor("ray", CONFIG, rc.run_dir) as executor:
        return pl.run_pipeline(rc, stop=stop, quiet=True, executor=executor)


def test_ray_run_gives_the_local_records(
    faults: Path | None, local: dict[str, object], tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    results = _ray_run(run_dir)
    assert all(results[s] for s in ("ingest", "filter", "dedup", "embed", "select"))
    for stage in ("ingest", "filter", "embed"):  # ran as 2 shards, each a shard's own files
        sd = RunStore(run_dir).stage(stage)
        assert sd.layout() == 2 and pl.completion(sd) == ("done", [])
    for stage in ("dedup", "select"):  # one task each, unsharded
        assert (run_dir / stage / "done.json").exists()
    assert demo_outputs(run_dir) == local
    assert ray.is_initialized()  # a Ray the executor joined is left running
    again = _ray_run(run_dir)  # finished: nothing submitted again
    assert all(v is None for v in again.values())


@pytest.mark.parametrize("target", ray_faults.TARGETS)
def test_a_worker_killed_mid_shard_is_retried_to_the_same_output(
    target: str, faults: Path | None, local: dict[str, object], tmp_path: Path
) -> None:
    if faults is None:
        pytest.skip("needs the Ray this module starts (its workers run the fault hook)")
    stage = target.split(":")[0].rsplit(".", 1)[1]
    killed = ray_faults.arm(faults, target)
    run_dir = tmp_path / "run"
    _ray_run(run_dir, stop=stage)
    assert killed.exists(), "no worker was killed"
    assert not (faults / f"{target}.arm").exists()
    assert not list(run_dir.glob("*/failed*.json"))
    stages = STAGES[: STAGES.index(stage) + 1]
    assert pl.completion(RunStore(run_dir).stage(stage)) == ("done", [])
    want = {k: v for k, v in local.items() if k.split(".")[0] in stages}
    assert demo_outputs(run_dir, stages) == want


def _square(x: int) -> int:
    if x < 0:
        raise ValueError(f"negative: {x}")
    return x * x


def test_map_runs_items_as_ray_tasks_in_order(faults: Path | None, tmp_path: Path) -> None:
    """The seam stages spread work units through: builtin map's results, a failing item's own
    error."""
    with open_executor("ray", CONFIG, tmp_path / "run") as executor:
        assert executor.map(_square, [3, 1, 2, 5]) == [9, 1, 4, 25]
        assert executor.map(_square, []) == []
        with pytest.raises(ValueError, match="negative: -2"):
            executor.map(_square, [1, -2])


def test_a_worker_that_cannot_see_the_run_dir_is_a_clear_error(
    faults: Path | None, tmp_path: Path
) -> None:
    from wavecoder.ray_executor import RemoteStageError
    from wavecoder.ray_worker import TOKEN_FILE

    rc = demo_config(tmp_path / "run")
    with open_executor("ray", CONFIG, rc.run_dir) as executor:
        executor._connect()  # type: ignore[attr-defined]  # the driver writes its token
        (rc.run_dir / TOKEN_FILE).unlink()  # what a node without the mount sees: no token
        out = StageDir(rc.run_dir / "ingest")
        with pytest.raises(RemoteStageError) as info:
            executor.run_stage(
                pl.stage_spec("ingest"), rc.sections["ingest"], out, inputs={}, seed=rc.seed,
                force=False, quiet=True, extra=None,
            )  # fmt: skip
    message = str(info.value)
    assert f"cannot see the run directory {rc.run_dir.resolve()}" in message
    assert "node " in message and "docs/ray.md" in message and "\n" not in message
    assert info.value.exit_code == 2
    failed = json.loads((out.path / "failed.shard-00000-of-00002.json").read_text())
    assert failed["error"] == "RunDirNotVisible" and failed["shard"] == "0/2"
    assert not list(out.path.glob("records*"))  # no silent empty shard


def test_wavecoder_run_executor_ray_through_the_executable(
    faults: Path | None, tmp_path: Path
) -> None:
    """`wavecoder run CONFIG --executor ray --address ADDR`, then `wavecoder status`."""
    if faults is None:
        pytest.skip("joins the Ray this module starts (authentication off)")
    address = ray.get_runtime_context().gcs_address
    run_dir = tmp_path / "run"
    proc = wavecoder(
        "run", REPO / "configs" / "tiny.yaml", "--executor", "ray", "--address", address,
        "--to", "filter", "ray.shards=3", f"run_dir={run_dir}", SMALL[0], "-q",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert RunStore(run_dir).stage("filter").layout() == 3
    status = wavecoder("status", run_dir)
    rows = {line.split()[0]: line for line in status.stdout.splitlines()[2:]}
    assert rows["filter"].split()[1] == "done"


def test_wavecoder_run_starts_a_ray_of_its_own_without_an_address(
    faults: Path | None, tmp_path: Path
) -> None:
    """No address, no RAY_ADDRESS: the run starts a Ray for itself (1 CPU here, so 1 shard by
    default) and stops it when done."""
    run_dir = tmp_path / "run"
    proc = wavecoder(
        "run", REPO / "configs" / "tiny.yaml", "--executor", "ray", "--to", "ingest",
        "ray.num_cpus=1", f"run_dir={run_dir}", SMALL[0], "-q", timeout=240,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert RunStore(run_dir).stage("ingest").layout() == 1
    assert "Traceback" not in proc.stderr


def test_the_driver_shows_one_progress_bar_per_stage_across_shards(
    faults: Path | None, tmp_path: Path
) -> None:
    """On a terminal the driver draws a bar per Ray stage that counts its finished shards."""
    import fcntl
    import pty
    import struct
    import subprocess
    import termios

    from tests.helpers.executable import EXECUTABLE, env

    if faults is None:
        pytest.skip("joins the Ray this module starts (authentication off)")
    address = ray.get_runtime_context().gcs_address
    primary, secondary = pty.openpty()
    # a terminal 120 columns wide (a fresh pty has 0, and tqdm then draws nothing)
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
    argv = [
        EXECUTABLE, "run", str(REPO / "configs" / "tiny.yaml"), "--executor", "ray",
        "--address", address, "--to", "filter", "ray.shards=3", f"run_dir={tmp_path / 'run'}",
        SMALL[0],
    ]  # fmt: skip
    proc = subprocess.Popen(argv, env=env(), stdin=subprocess.DEVNULL, stdout=secondary,
                            stderr=secondary)  # fmt: skip
    os.close(secondary)
    chunks = []
    while True:
        try:
            data = os.read(primary, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    assert proc.wait(timeout=240) == 0
    os.close(primary)
    screen = b"".join(chunks).decode("utf-8", "replace")
    for stage in ("ingest", "filter"):
        assert f"{stage} (Ray)" in screen and "3/3" in screen.split(f"{stage} (Ray)", 1)[1]
