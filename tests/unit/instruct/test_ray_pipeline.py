"""The pipeline under the Ray executor: the runner hands the executor's map to generate +
judge (their rounds spread over Ray workers, tests/unit/instruct/test_distributed.py) and the
run gives the local run's dataset and pools, through the local teacher server."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.helpers.raymap import ray_session  # noqa: F401
from tests.unit.instruct.conftest import dataset, run, run_config
from wavecoder import pipeline as pl
from wavecoder.executors import RayConfig

ray_executor = pytest.importorskip("wavecoder.ray_executor")  # needs ray
pytestmark = pytest.mark.timeout(180)


class Counting(ray_executor.RayExecutor):  # type: ignore[misc,name-defined]
    """The Ray executor, counting the maps the stages ask of it."""

    maps = 0

    def map(self, fn, items):  # type: ignore[no-untyped-def]
        self.maps += 1
        return super().map(fn, items)


@pytest.mark.usefixtures("ray_session")
def test_generate_and_judge_under_the_ray_executor_give_the_local_dataset(  # type: ignore[no-untyped-def]
    tmp_path: Path, run_dir: Path, teacher
) -> None:
    server, _ = teacher
    on_ray = tmp_path / "ray"
    shutil.copytree(run_dir, on_ray)
    # no request cache: each run asks the server, and the workers never open the user's cache
    llm = {"cache": False}
    local = run(run_config(run_dir, server.url, gen_llm=llm, judge_llm=llm))
    asked = len(server.requests)
    server.requests.clear()
    rc = run_config(on_ray, server.url, gen_llm=llm, judge_llm=llm)
    executor = Counting(RayConfig(shards=2), rc.run_dir)
    stats = pl.run_pipeline(rc, start="generate", quiet=True, executor=executor)
    assert executor.maps == 2  # one map per round (rc: 2 rounds), each over Ray tasks
    assert dataset(on_ray) == dataset(run_dir)
    pool = sorted((on_ray / "judge/pool.jsonl").read_text().splitlines())
    assert pool == sorted((run_dir / "judge/pool.jsonl").read_text().splitlines())
    assert len(server.requests) == asked
    assert stats["generate"]["usage"]["requests"] == local["generate"]["usage"]["requests"]
