"""Benchmark: MinHash near-duplicate detection of 100k functions, against a plain datasketch loop.

Builds N synthetic Python functions (seeded; a tenth of them are edited copies of others), then
times (1) wavecoder's path - batched numpy MinHash (`wavecoder.corpus.minhash`) and the `dedup`
stage's LSH clustering - and (2) the plain loop people write with datasketch: one `MinHash` per
function, `update_batch` over its token 5-grams, `MinHashLSH.query`, then `insert` when new.
Both use 128 permutations and Jaccard 0.85. Prints seconds, functions/s, duplicates found,
the speed ratio, and how many duplicate decisions the two agree on. Target: 100k in under 60 s.

    python benchmarks/bench_dedup.py [--n 100000] [--baseline-n N]
"""

from __future__ import annotations

import argparse
import random
import time

import numpy as np

from wavecoder.corpus.dedup import near_clusters
from wavecoder.corpus.minhash import TOKEN, MinHasher


def make_corpus(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    names = [f"v{i}" for i in range(5000)]
    ops = ["+", "-", "*", "//", "%"]
    out: list[str] = []
    for i in range(n):
        if i > 10 and rng.random() < 0.1:  # an edited copy: one token changed
            lines = out[rng.randrange(i)].split("\n")
            k = rng.randrange(1, len(lines) - 1)
            lines[k] = lines[k].rsplit(" ", 1)[0] + f" {rng.randint(100, 999)}"
            out.append("\n".join(lines))
            continue
        body = [
            f"    {rng.choice(names)} = {rng.choice(names)} {rng.choice(ops)} {rng.randint(0, 99)}"
            for _ in range(rng.randint(12, 30))
        ]
        out.append(f"def f{i}({rng.choice(names)}):\n" + "\n".join(body) + "\n    return 0")
    return out


def ours(codes: list[str]) -> tuple[float, set[int]]:
    start = time.perf_counter()
    sigs = MinHasher(num_perm=128, ngram=5, seed=1).signatures(codes)
    dups = near_clusters(sigs, threshold=0.85, seed=1)
    return time.perf_counter() - start, set(dups)


def plain_datasketch(codes: list[str]) -> tuple[float, set[int]]:
    from datasketch import MinHash, MinHashLSH

    start = time.perf_counter()
    lsh = MinHashLSH(threshold=0.85, num_perm=128)
    sketches: list[MinHash] = []
    dups: set[int] = set()
    for i, code in enumerate(codes):
        toks = TOKEN.findall(code)
        grams = {" ".join(toks[j : j + 5]).encode() for j in range(max(1, len(toks) - 4))}
        m = MinHash(num_perm=128)
        m.update_batch(grams)
        sketches.append(m)
        if any(m.jaccard(sketches[k]) >= 0.85 for k in lsh.query(m)):
            dups.add(i)
        else:
            lsh.insert(i, m)
    return time.perf_counter() - start, dups


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--baseline-n", type=int, default=0, help="0 = same as --n")
    args = parser.parse_args()
    codes = make_corpus(args.n)
    base_codes = codes[: args.baseline_n or args.n]
    t_ours, d_ours = ours(codes)
    t_base, d_base = plain_datasketch(base_codes)
    n_base = len(base_codes)
    d_ours_base = {i for i in d_ours if i < n_base}
    print(f"{'method':<34}{'functions':>10}{'seconds':>9}{'func/s':>9}{'dups':>7}")
    print(
        f"{'wavecoder (batched numpy + LSH)':<34}{len(codes):>10}{t_ours:>9.2f}"
        f"{len(codes) / t_ours:>9.0f}{len(d_ours):>7}"
    )
    print(
        f"{'plain datasketch loop':<34}{n_base:>10}{t_base:>9.2f}{n_base / t_base:>9.0f}"
        f"{len(d_base):>7}"
    )
    ratio = (n_base / t_base) and (len(codes) / t_ours) / (n_base / t_base)
    agree = len(d_ours_base & d_base) / max(1, len(d_ours_base | d_base))
    print(
        f"throughput ratio: {ratio:.1f}x; agreement on duplicates (first {n_base}): "
        f"{agree:.3f}; target 100k < 60 s: {'met' if t_ours < 60 else 'MISSED'}"
    )
    return 0 if np.isfinite(ratio) else 1


if __name__ == "__main__":
    raise SystemExit(main())
