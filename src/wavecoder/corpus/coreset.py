"""Exact k-center greedy (farthest-point sampling) over an embedding matrix.

Picks `k` rows one at a time, each the row farthest from every row picked so far; the first is
drawn from `seed`. State is O(N): the squared distance from every row to its nearest centre and
that centre's rank; each step reads the N x d matrix at most once (one matrix-vector product with
precomputed squared norms), never an N x k or N x N matrix.

The numpy path also prunes exactly, with the triangle inequality: rows are laid out in blocks of
nearby points (grouped by nearest centre, re-laid as centres accumulate) and a step skips every
block whose nearest possible distance to the new centre already exceeds the largest current
distance inside it. Skipped rows could not have moved, so the picks equal the unpruned ones; on
clustered data (real embeddings are) most blocks are skipped. The torch path (CPU or GPU) runs the
plain loop without host synchronisation (`wavecoder.corpus.coreset_torch`). Not here: reading
embeddings or writing records (`wavecoder.corpus.select`), plotting (`wavecoder.corpus.plots`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

Metric = Literal["euclidean", "cosine"]
Backend = Literal["numpy", "torch"]
OnPick = Callable[[int], None]

# Relayout of the blocks when the number of centres reaches each of these.
_RELAYOUT_AT = tuple(2**i for i in range(3, 40))
_MAX_BLOCK = 512  # rows; large groups are cut so a partly touched group is not read whole
_MIN_BLOCK = 32  # rows; neighbouring small groups are merged to keep per-step overhead low


@dataclass(frozen=True)
class Coreset:
    """The result, all in input row numbers.

    `indices[r]` is the r-th pick; `radii[r]` the covering radius of the first r+1 picks (largest
    distance from any row to its nearest pick; cosine distance 1 - cos for the cosine metric);
    `min_dist[i]` the final distance of row i to its nearest pick and `nearest[i]` that pick's rank.
    """

    indices: np.ndarray
    radii: np.ndarray
    min_dist: np.ndarray
    nearest: np.ndarray


def first_center(n: int, seed: int) -> int:
    """The first centre: a row drawn uniformly by `seed` (not always row 0)."""
    return int(np.random.default_rng(seed).integers(n))


def prepare(x: np.ndarray, metric: Metric = "euclidean") -> np.ndarray:
    """A float32, C-contiguous, mean-centred copy (rows L2-normalised first for cosine).

    Centring leaves every distance unchanged but shrinks the norms, so the float32 expansion
    |x|^2 - 2 x.c + |c|^2 loses less to cancellation.
    """
    if x.ndim != 2:
        raise ValueError(f"expected a 2-D matrix of embeddings, got shape {x.shape}")
    out = np.array(x, dtype=np.float32, order="C", copy=True)
    if not np.isfinite(out).all():
        raise ValueError("embeddings contain NaN or infinite values")
    if metric == "cosine":
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        out /= np.where(norms > 0, norms, 1.0)
    out -= out.mean(axis=0, dtype=np.float64).astype(np.float32)
    return out


def kcenter_greedy(
    x: np.ndarray,
    k: int,
    *,
    seed: int = 0,
    metric: Metric = "euclidean",
    backend: Backend = "numpy",
    prune: bool = True,
    blas_threads: int | None = 1,
    device: str = "auto",
    on_pick: OnPick | None = None,
    first: int | None = None,
) -> Coreset:
    """Select min(k, N) distinct rows of `x` by exact k-center greedy.

    Once every row is covered (duplicates), the remaining picks are the uncovered-by-identity
    rows in layout order with radius 0. `blas_threads` caps BLAS threads inside the loop (one is
    often fastest on small shared machines; None leaves the library default). `on_pick(r)` is
    called after each pick, for progress bars. `first` is the first centre's row (default: drawn
    by `seed`).
    """
    n = len(x)
    k = max(0, min(int(k), n))
    if k == 0:
        return Coreset(
            np.zeros(0, np.int64), np.zeros(0), np.zeros(n, np.float32), np.full(n, -1, np.int64)
        )
    xs = prepare(x, metric)
    first = first_center(n, seed) if first is None else first
    if not 0 <= first < n:
        raise ValueError(f"first centre {first} is not a row of the {n} rows")
    if backend == "torch":
        from wavecoder.corpus.coreset_torch import kcenter_torch

        idx, r2, mind2, near = kcenter_torch(
            xs, k, first, device=device, threads=blas_threads, on_pick=on_pick
        )
    else:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=blas_threads, user_api="blas"):
            idx, r2, mind2, near = _Blocks(xs, prune=prune).run(k, first, on_pick)
    return Coreset(idx, _to_metric(r2, metric), _to_metric(mind2, metric).astype(np.float32), near)


def _to_metric(d2: np.ndarray, metric: Metric) -> np.ndarray:
    d2 = np.maximum(d2.astype(np.float64), 0.0)
    # On unit vectors |a - b|^2 = 2 - 2 cos, so the cosine distance is half the squared distance.
    return d2 / 2.0 if metric == "cosine" else np.sqrt(d2)


class _Blocks:
    """Mutable state of the numpy loop: rows permuted into blocks of nearby points."""

    def __init__(self, x: np.ndarray, *, prune: bool) -> None:
        n = len(x)
        self.x = x
        self.prune = prune
        self.n2 = np.einsum("ij,ij->i", x, x, dtype=np.float64).astype(np.float32)
        self.perm = np.arange(n)
        self.mind2 = np.full(n, np.inf, np.float32)
        self.near = np.full(n, -1, np.int64)
        self.centre_row = np.zeros(0, np.int64)  # layout row of each centre, by rank
        # Pruning slack in distance units: 3x the worst-case rounding of a float32 expansion
        # |x|^2 - 2 x.c + |c|^2 (dot-product error <= d * 2^-24 * |x||c|), so that rounding in
        # the bound's three terms can never skip a row that the plain loop would update.
        d = x.shape[1]
        self.slack = 3.0 * float(np.sqrt(2.0 * d * 2.0**-24 * float(self.n2.max(initial=0.0))))
        self.spare: np.ndarray | None = None  # second buffer for relayouts
        self._set_blocks(np.array([0, n]))

    def run(self, k: int, first: int, on_pick: OnPick | None) -> tuple[np.ndarray, ...]:
        picks = np.zeros(k, np.int64)
        radii2 = np.zeros(k, np.float64)
        self.centre_row = np.zeros(k, np.int64)
        j = first
        for m in range(k):
            picks[m] = self.perm[j]
            self.centre_row[m] = j
            self._add_centre(j, m)
            j, r2 = self._farthest()
            radii2[m] = max(r2, 0.0)
            due = self.prune and m + 1 in _RELAYOUT_AT and m + 1 < k
            if due and self._worth_relayout(m + 1, r2):
                j = self._relayout(m + 1, j)
            if on_pick is not None:
                on_pick(m)
        inv = np.empty_like(self.perm)
        inv[self.perm] = np.arange(len(self.perm))
        mind2 = np.maximum(self.mind2[inv], 0.0)
        return picks, radii2, mind2, self.near[inv]

    def _set_blocks(self, starts: np.ndarray) -> None:
        """Block b holds layout rows starts[b]:starts[b+1]; anchors are block means."""
        self.starts = starts
        nb = len(starts) - 1
        self.bmax2 = np.full(nb, np.inf, np.float32)
        if not self.prune or nb == 1:
            self.anchors = np.zeros((nb, self.x.shape[1]))
            self.a2 = np.zeros(nb)
            self.brad = np.full(nb, np.inf)
            return
        self.anchors = np.empty((nb, self.x.shape[1]))
        self.brad = np.empty(nb)
        for b, (lo, hi) in enumerate(zip(starts[:-1].tolist(), starts[1:].tolist(), strict=True)):
            rows = self.x[lo:hi]
            a = rows.mean(axis=0, dtype=np.float64)
            self.anchors[b] = a
            r2 = self.n2[lo:hi] - 2.0 * (rows @ a.astype(np.float32)) + a @ a
            self.brad[b] = np.sqrt(max(float(r2.max()), 0.0))
        self.a2 = np.einsum("ij,ij->i", self.anchors, self.anchors)

    def _add_centre(self, j: int, m: int) -> None:
        c = self.x[j].copy()
        c2 = self.n2[j]
        for lo, hi, b0, b1 in self._touched_runs(c):
            d2 = self.x[lo:hi] @ c
            d2 *= -2.0
            d2 += self.n2[lo:hi]
            d2 += c2
            np.maximum(d2, 0.0, out=d2)
            seg = self.mind2[lo:hi]
            np.putmask(self.near[lo:hi], np.less(d2, seg), m)
            np.minimum(seg, d2, out=seg)
            self.bmax2[b0:b1] = np.maximum.reduceat(seg, self.starts[b0:b1] - lo)
        self.mind2[j] = -1.0  # picked: never picked again, even among exact duplicates
        b = int(np.searchsorted(self.starts, j, side="right")) - 1
        self.bmax2[b] = self.mind2[self.starts[b] : self.starts[b + 1]].max()

    def _touched_runs(self, c: np.ndarray) -> list[tuple[int, int, int, int]]:
        """Row ranges (and block ranges) that the new centre may bring closer, merged into runs."""
        nb = len(self.starts) - 1
        if nb == 1:
            return [(0, int(self.starts[-1]), 0, 1)]
        c64 = c.astype(np.float64)
        dist = np.sqrt(np.maximum(self.a2 - 2.0 * (self.anchors @ c64) + c64 @ c64, 0.0))
        reach = np.sqrt(np.maximum(self.bmax2.astype(np.float64), 0.0))
        # Lower bound on any row's distance to c: dist - brad. Skip when it exceeds the block's
        # current maximum (infinite before the block is first touched, so never skipped then).
        touched = dist - self.brad <= reach + self.slack
        edges = np.flatnonzero(np.diff(np.concatenate(([0], touched.view(np.int8), [0]))))
        return [
            (int(self.starts[b0]), int(self.starts[b1]), int(b0), int(b1))
            for b0, b1 in zip(edges[::2], edges[1::2], strict=True)
        ]

    def _farthest(self) -> tuple[int, float]:
        b = int(np.argmax(self.bmax2))
        lo, hi = int(self.starts[b]), int(self.starts[b + 1])
        j = lo + int(np.argmax(self.mind2[lo:hi]))
        return j, float(self.mind2[j])

    def _worth_relayout(self, m: int, r2: float) -> bool:
        """Whether grouping by the m centres can pay for its ~6 passes over the matrix.

        A block is skipped when the new centre lies more than about twice the covering radius
        from it, so the share of centre pairs that far apart estimates the share of rows a step
        skips; over the next m steps that must save more than the relayout costs. On isotropic
        data (all centres about equally far apart) this is never the case."""
        sample = self.centre_row[np.linspace(0, m - 1, num=min(m, 256)).astype(np.int64)]
        c = self.x[sample].astype(np.float64)
        sq = np.einsum("ij,ij->i", c, c)
        d2 = sq[:, None] + sq[None, :] - 2.0 * (c @ c.T)
        far = (d2 > 4.0 * r2).sum() / max(len(sample) * (len(sample) - 1), 1)
        return bool(far * m > 8.0)

    def _relayout(self, m: int, j: int) -> int:
        """Group rows by nearest centre, groups ordered by where their centre sits now (so the
        layout stays hierarchical), then rebuild blocks. Returns the new row of `j`."""
        key = self.centre_row[self.near]
        order = np.argsort(key, kind="stable")
        key = key[order]
        if self.spare is None:
            self.spare = np.empty_like(self.x)
        np.take(self.x, order, axis=0, out=self.spare)
        self.x, self.spare = self.spare, self.x
        self.n2, self.mind2, self.near = self.n2[order], self.mind2[order], self.near[order]
        self.perm = self.perm[order]
        inv = np.empty_like(order)
        inv[order] = np.arange(len(order))
        self.centre_row[:m] = inv[self.centre_row[:m]]
        bounds = np.concatenate(([0], np.flatnonzero(np.diff(key)) + 1, [len(key)]))
        self._set_blocks(_block_starts(np.diff(bounds)))
        self.bmax2 = np.maximum.reduceat(self.mind2, self.starts[:-1])
        return int(inv[j])


def _block_starts(sizes: np.ndarray) -> np.ndarray:
    """Block boundaries over consecutive groups: cut groups above _MAX_BLOCK rows, merge
    neighbours while the block stays under _MIN_BLOCK rows."""
    starts = [0]
    pos = 0
    for size in sizes.tolist():
        if pos + size - starts[-1] <= _MIN_BLOCK:
            pos += size
            continue
        if pos != starts[-1]:
            starts.append(pos)
        for cut in range(_MAX_BLOCK, size, _MAX_BLOCK):
            starts.append(pos + cut)
        pos += size
    if pos != starts[-1]:
        starts.append(pos)
    return np.array(starts, dtype=np.int64)
