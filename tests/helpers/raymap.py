"""A Ray-backed `map_fn` for tests of the distributed paths (a local Ray, 2 CPUs, no cluster).

`ray_map(fn, items)` runs `fn` on every item as a Ray task (retried if its worker dies) and
returns the results in order: the seam the pipeline's Ray executor offers. The `ray_session`
fixture starts Ray once per test session and stops it at the end; tests that use it are
skipped where Ray is not installed (failed under CI=true). `die_after_first_attempt` plays a
worker killed mid-item. Test double only; never part of the package.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest


def _apply(fn: Callable[[Any], Any], item: Any) -> Any:
    return fn(item)


def ray_map(fn: Callable[[Any], Any], items: list[Any]) -> list[Any]:
    import ray

    task = ray.remote(max_retries=2)(_apply)
    fn_ref = ray.put(fn)
    return list(ray.get([task.remote(fn_ref, x) for x in items]))


REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def ray_session() -> Iterator[None]:
    try:
        import ray
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("required under CI: ray (the `ray` extra)")
        pytest.skip("ray is not installed")
    if ray.is_initialized():  # started by another module's copy of this fixture
        yield
        return
    # the workers import this module (die_after_first_attempt) and the package from the tree
    env = {"PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)])}
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             configure_logging=False, runtime_env={"env_vars": env})  # fmt: skip
    try:
        yield
    finally:
        ray.shutdown()


def die_after_first_attempt(fn: Callable[[Any], Any], mark: str, item: Any) -> Any:
    """`fn(item)`; but the first call to finish anywhere (the one that creates `mark`) exits its
    worker process before handing the result back (a worker killed mid-item, its work done), so
    Ray must run that item again."""
    result = fn(item)
    try:
        os.close(os.open(mark, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return result
    os._exit(1)
