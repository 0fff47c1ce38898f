"""Benchmark: the Ray executor's overhead against the local run, on the demo corpus.

Runs the corpus stages of `configs/tiny.yaml` (ingest -> select on the Python standard library,
hashing embedder) into a fresh run directory, stage by stage, with the local executor and with
the Ray executor on a Ray started here (`--cpus`, default every core; `--shards`, default one
per CPU), alternating for `--rounds` rounds. Prints the median wall seconds per stage for both,
their ratio, and Ray's start-up once. Both runs' outputs are checked to be the same records.
On a 2-core machine that others share, the figures are noisy: read the ratios.

    python benchmarks/bench_ray.py [--rounds 3] [--cpus N] [--shards N] [--small]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from wavecoder import pipeline as pl
from wavecoder.executors import RayConfig, open_executor

REPO = Path(__file__).resolve().parents[1]
STAGES = ("ingest", "filter", "dedup", "embed", "select")
SMALL = ('ingest.exclude=["/*", "!/email/", "!/json/", "!/logging/"]', "select.budget=20")


def timed_run(rc: pl.RunConfig, kind: str, ray_cfg: RayConfig) -> dict[str, float]:
    """Wall seconds of each corpus stage, run one at a time (the driver waits for each)."""
    seconds: dict[str, float] = {}
    with open_executor(kind, ray_cfg, rc.run_dir) as executor:
        for stage in STAGES:
            start = time.perf_counter()
            pl.run_pipeline(rc, start=stage, stop=stage, quiet=True, executor=executor)
            seconds[stage] = time.perf_counter() - start
    return seconds


def picks(run_dir: Path) -> bytes:
    return (run_dir / "select" / "records.jsonl").read_bytes()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cpus", type=int, default=None, help="CPUs of the local Ray")
    parser.add_argument("--shards", type=int, default=None, help="default: one per CPU")
    parser.add_argument("--small", action="store_true", help="three stdlib packages only")
    args = parser.parse_args()
    import ray

    start = time.perf_counter()
    ray.init(num_cpus=args.cpus, include_dashboard=False, logging_level="WARNING")
    startup = time.perf_counter() - start
    ray_cfg = RayConfig(shards=args.shards)
    overrides = list(SMALL if args.small else ())
    times: dict[str, list[dict[str, float]]] = {"local": [], "ray": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for kind in ("local", "ray") if r % 2 == 0 else ("ray", "local"):
                run_dir = Path(tmp) / f"{kind}-{r}"
                rc = pl.load_run_config(
                    REPO / "configs" / "tiny.yaml", [*overrides, f"run_dir={run_dir}"]
                )
                times[kind].append(timed_run(rc, kind, ray_cfg))
            if picks(Path(tmp) / f"local-{r}") != picks(Path(tmp) / f"ray-{r}"):
                print("the Ray run's coreset differs from the local one", file=sys.stderr)
                return 1
        cpus = int(ray.cluster_resources().get("CPU", 0))
    ray.shutdown()
    shards = args.shards or cpus
    corpus = "3 stdlib packages" if args.small else "the Python stdlib"
    print(f"demo corpus ({corpus}), {args.rounds} rounds, Ray with {cpus} CPUs, {shards} shards")
    print(f"Ray start-up (once per run): {startup:.1f} s")
    print(f"{'stage':<8}{'local s':>9}{'ray s':>9}{'ray/local':>11}")
    total = {"local": 0.0, "ray": 0.0}
    for stage in STAGES:
        med = {k: statistics.median(t[stage] for t in times[k]) for k in times}
        total = {k: total[k] + med[k] for k in total}
        print(
            f"{stage:<8}{med['local']:>9.2f}{med['ray']:>9.2f}{med['ray'] / med['local']:>10.2f}x"
        )
    ratio = total["ray"] / total["local"]
    print(f"{'total':<8}{total['local']:>9.2f}{total['ray']:>9.2f}{ratio:>10.2f}x")
    print("same coreset in every round: yes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
