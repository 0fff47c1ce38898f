"""A Ray-backed `map_fn` for tests of the distributed paths (a local Ray, 2 CPUs, no cluster).

`ray_map(fn, items)` runs `fn` on every item as a Ray task (retried if its worker dies) and
returns the results in order: the seam the pipeline's Ray executor offers. The `ray_session`
fixture starts Ray once per test session and stops it at the end; tests that use it are
skipped where Ray is not installed. Test double only; never part of the package.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest


def ray_map(fn: Callable[[Any], Any], items: list[Any]) -> list[Any]:
    import ray

    task = ray.remote(max_retries=2)(fn)
    return list(ray.get([task.remote(x) for x in items]))


@pytest.fixture(scope="session")
def ray_session() -> Iterator[None]:
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             configure_logging=False)  # fmt: skip
    try:
        yield
    finally:
        ray.shutdown()
