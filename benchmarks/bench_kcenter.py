"""Benchmark: exact k-center greedy against the reference style and the memory-bandwidth bound.

In one process, on the same float32 data, with one BLAS thread for both:
  reference  google/active-learning's loop (also WaveCoder's): per step, sklearn
             `pairwise_distances` from the new centre to all points, then the min-update
  ours       `wavecoder.corpus.coreset.kcenter_greedy` (numpy; with and without pruning)
It prints both times, their ratio, the share of identical picks, and the bandwidth bound:
bytes read per step (N x d x 4) x k / copy bandwidth, the copy bandwidth measured here as
STREAM does (bytes read + bytes written per second of `np.copyto`).
Data sets: isotropic Gaussian ("random") and a Gaussian mixture ("clustered": cluster sizes
Zipf-like, spreads varying per cluster), since real code embeddings are clustered.
Finally it projects the CPU time at the paper's scale (N=1.2M, d=1024, k=20,000) from the
measured per-step time, and (with --torch) times the torch path, on a GPU when there is one.

    python benchmarks/bench_kcenter.py                        # N=100k, d=768, k=1000
    python benchmarks/bench_kcenter.py --n 20000 --k 300      # quick
    python benchmarks/bench_kcenter.py --torch --device cuda --paper-scale   # GPU, paper size
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

from wavecoder.corpus.coreset import first_center, kcenter_greedy

PAPER_N, PAPER_D, PAPER_K = 1_200_000, 1024, 20_000


def reference_kcenter(x: np.ndarray, k: int, seed: int) -> np.ndarray:
    """google/active-learning's kcenter_greedy loop, seeded with our first centre."""
    from sklearn.metrics import pairwise_distances

    min_distances = None
    picks = []
    ind = first_center(len(x), seed)
    for _ in range(k):
        dist = pairwise_distances(x, x[[ind]], metric="euclidean")
        min_distances = dist if min_distances is None else np.minimum(min_distances, dist)
        picks.append(ind)
        ind = int(np.argmax(min_distances))
    return np.array(picks)


def first_difference(x: np.ndarray, a: np.ndarray, b: np.ndarray) -> str:
    """Where two pick sequences first differ, and how close the two rows were to being tied
    (relative gap of their float64 distances to the earlier, common picks)."""
    diff = np.flatnonzero(a != b)
    if not len(diff):
        return ""
    i = int(diff[0])
    prev = x[a[:i]].astype(np.float64)

    def dist(j: int) -> float:
        return float(np.sqrt(((prev - x[j]) ** 2).sum(axis=1)).min())

    da, db = dist(int(a[i])), dist(int(b[i]))
    return f"first differing pick: step {i}, relative distance gap {abs(da - db) / da:.1e}"


def make_data(kind: str, n: int, d: int, clusters: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "random":
        return rng.standard_normal((n, d), dtype=np.float32)
    weights = 1.0 / np.arange(1, clusters + 1) ** 0.8
    labels = rng.choice(clusters, size=n, p=weights / weights.sum())
    centres = rng.standard_normal((clusters, d), dtype=np.float32)
    spread = rng.uniform(0.15, 0.45, size=clusters).astype(np.float32)
    x = rng.standard_normal((n, d), dtype=np.float32)
    x *= spread[labels, None]
    x += centres[labels]
    return x


def copy_bandwidth(nbytes: int = 1 << 30) -> float:
    """Bytes per second (read + write) of a large np.copyto, best of 5."""
    src = np.ones(nbytes // 4, np.float32)
    dst = np.empty_like(src)
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - t)
    return 2 * src.nbytes / best


def timed(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t


def bench_numpy(args: argparse.Namespace, bw: float) -> float:
    bound = args.n * args.d * 4 * args.k / bw
    print(f"bandwidth bound for k={args.k}: {bound:.2f}s (copy bandwidth {bw / 1e9:.1f} GB/s)")
    print(f"{'data':10} {'method':18} {'seconds':>9} {'x ref':>7} {'/bound':>7} {'same picks':>10}")
    step = 0.0
    reference_kcenter(np.ones((10, 4), np.float32), 2, 0)  # warm up (imports) outside the timing
    for kind in ("random", "clustered"):
        x = make_data(kind, args.n, args.d, args.clusters, args.seed)
        ref_t = None
        ref = None
        if not args.skip_reference:
            with threadpool_limits(limits=1, user_api="blas"):
                ref, ref_t = timed(reference_kcenter, x, args.k, args.seed)
            print(f"{kind:10} {'reference':18} {ref_t:9.2f} {1.0:7.2f} {ref_t / bound:7.2f}")
        for prune in (False, True):
            res, t = timed(kcenter_greedy, x, args.k, seed=args.seed, prune=prune, blas_threads=1)
            for _ in range(args.repeat - 1):  # best of --repeat: machine noise only adds time
                t = min(
                    t,
                    timed(kcenter_greedy, x, args.k, seed=args.seed, prune=prune, blas_threads=1)[
                        1
                    ],
                )
            same = f"{(res.indices == ref).mean():.4f}" if ref is not None else "-"
            speed = f"{ref_t / t:7.2f}" if ref_t else "      -"
            name = "ours, pruned" if prune else "ours, plain"
            print(f"{kind:10} {name:18} {t:9.2f} {speed} {t / bound:7.2f} {same:>10}")
            if ref is not None and (note := first_difference(x, ref, res.indices)):
                print(f"{'':29} {note}")
            if kind == "random" and not prune:
                step = t / args.k
    return step


def bench_torch(args: argparse.Namespace) -> None:
    import torch

    n, d, k = (PAPER_N, PAPER_D, PAPER_K) if args.paper_scale else (args.n, args.d, args.k)
    x = make_data("random", n, d, args.clusters, args.seed)
    dev = args.device
    if dev.startswith("cuda"):
        kcenter_greedy(x[:1000], 10, backend="torch", device=dev)  # warm up the context
        torch.cuda.synchronize()
    res, t = timed(
        kcenter_greedy, x, k, seed=args.seed, backend="torch", device=dev, blas_threads=1
    )
    print(f"torch on {dev}: N={n} d={d} k={k}: {t:.2f}s ({t / k * 1e3:.2f} ms/step)")
    if not args.paper_scale and not args.skip_reference:
        ours = kcenter_greedy(x, k, seed=args.seed, prune=False)
        print(f"torch vs numpy identical picks: {(res.indices == ours.indices).mean():.4f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--n", type=int, default=100_000)
    p.add_argument("--d", type=int, default=768)
    p.add_argument("--k", type=int, default=1000)
    p.add_argument("--clusters", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repeat", type=int, default=1, help="best of this many runs of ours")
    p.add_argument("--skip-reference", action="store_true", help="time only our implementation")
    p.add_argument("--torch", action="store_true", help="also time the torch path")
    p.add_argument("--device", default="cuda" if _has_cuda() else "cpu")
    p.add_argument("--paper-scale", action="store_true", help="torch path at N=1.2M, d=1024, k=20k")
    args = p.parse_args()
    bw = copy_bandwidth()
    step = bench_numpy(args, bw)
    scale = PAPER_N * PAPER_D / (args.n * args.d)
    print(
        f"projected CPU time at paper scale (N={PAPER_N}, d={PAPER_D}, k={PAPER_K}), plain loop, "
        f"1 thread: {step * scale * PAPER_K / 60:.1f} min; bandwidth bound "
        f"{PAPER_N * PAPER_D * 4 * PAPER_K / bw / 60:.1f} min"
    )
    if args.torch:
        bench_torch(args)


def _has_cuda() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except ImportError:
        return False


if __name__ == "__main__":
    main()
