"""generate + judge: the local loop against the same rounds spread over workers (`distributed.py`).

Against the local test server in its own process (fixed latency per reply, the scripted teacher;
see `bench_instruct.py`), N fresh codes in R rounds go through (1) the local loop and (2) the
map seam: in-process with one worker (`local_map`, which runs groups one after another: the
seam's own cost) and, with `--ray`, W Ray tasks per round on a local Ray (started before the
clock; its first round also pays for starting the worker processes). Each role's concurrency
is C in every case (a worker gets ceil(C / W)), so the endpoint sees the same load and a ratio
near 1 means the seam costs little; the rounds are alternated, so compare within a round.

    .venv/bin/python benchmarks/bench_distributed.py --codes 300 --rounds 2 --workers 2 --ray
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from benchmarks.bench_instruct import make_run, start_server  # noqa: E402


def timed(run_dir: Path, url: str, args: argparse.Namespace, spread: Any) -> float:
    """Seconds for generate + judge on a fresh run directory."""
    from wavecoder import pipeline as pl
    from wavecoder.instruct import generate
    from wavecoder.progress import setup_logging

    setup_logging(quiet=True, verbose=False)
    llm = {"base_url": url, "concurrency": args.concurrency, "model": "test-model", "cache": False}
    rc = pl.build_run_config({
        "run_dir": str(run_dir), "stop_after": "judge",
        "generate": {"llm": llm, "rounds": args.rounds}, "judge": {"llm": llm},
    })  # fmt: skip
    pair = generate.run_pair
    if spread is not None:
        map_fn, workers = spread
        generate.run_pair = lambda c, j: pair(c, j, map_fn=map_fn, workers=workers)  # type: ignore[assignment]
    try:
        start = time.perf_counter()
        stats = pl.run_pipeline(rc, start="generate", quiet=True)
        seconds = time.perf_counter() - start
    finally:
        generate.run_pair = pair  # type: ignore[assignment]
    assert stats["judge"] is not None and stats["judge"]["in"] == args.codes
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--codes", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--latency", type=float, default=0.2)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--ray", action="store_true", help="also time Ray tasks (needs ray)")
    args = ap.parse_args()
    from wavecoder.instruct.distributed import local_map

    # in-process groups run one after another, so that line uses one worker: the seam's cost
    maps: dict[str, Any] = {"local loop": None, "map seam, in-process, W=1": (local_map, 1)}
    if args.ray:
        import ray

        from tests.helpers.raymap import ray_map

        ray.init(num_cpus=max(2, args.workers), include_dashboard=False, log_to_driver=False,
                 runtime_env={"env_vars": {"PYTHONPATH": f"{ROOT / 'src'}:{ROOT}"}})  # fmt: skip
        maps[f"map seam, Ray tasks, W={args.workers}"] = (ray_map, args.workers)
    server, url = start_server(args.latency)
    try:
        for rnd in range(args.repeat):
            order = list(maps.items())
            order = order if rnd % 2 == 0 else order[::-1]
            times: dict[str, float] = {}
            for name, spread in order:
                with tempfile.TemporaryDirectory() as tmp:
                    os.environ["WAVECODER_CACHE_DIR"] = tmp + "/cache"
                    times[name] = timed(make_run(Path(tmp) / "run", args.codes), url, args, spread)
            base = times["local loop"]
            for name, seconds in times.items():
                rate = 2 * args.codes / seconds
                print(f"round {rnd + 1}  {name:<32} {seconds:7.2f} s  {rate:7.1f} req/s  "
                      f"ratio to local {base / seconds:.2f}")  # fmt: skip
    finally:
        server.kill()


if __name__ == "__main__":
    main()
