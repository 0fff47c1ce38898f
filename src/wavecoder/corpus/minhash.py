"""MinHash signatures of code over token n-grams, computed for many snippets at once.

Pure numpy; the result is exactly datasketch's `MinHash(scheme="affine32")` signature of the
same shingle hash values (the same permutations from the same seed, the same MurmurHash3
pre-mix), so signatures go straight into `datasketch.MinHashLSH` as `LeanMinHash` objects. What
differs from a plain datasketch loop is speed: tokens are hashed once each (cached), n-gram
hashes are rolled with vector arithmetic, and the permute-and-min step runs on a whole batch
of snippets at a time instead of one `MinHash.update_batch` call per snippet.

Tokens: identifiers/numbers (`\\w+`) and single punctuation characters; whitespace ignored.
A snippet with fewer than `ngram` tokens is padded with a sentinel so it has one shingle.

Not here: the LSH index and the choice of representatives (the `dedup` stage).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from itertools import chain

import numpy as np

TOKEN = re.compile(r"\w+|[^\w\s]")
_FMIX32 = (16, 0x85EBCA6B, 13, 0xC2B2AE35, 16)
_ROLL = np.uint64(0x100000001B3)  # FNV-64 prime: the n-gram rolling multiplier
_MIX = np.uint64(0xFF51AFD7ED558CCD)
_PAD = 0x9E3779B9  # token hash of the padding sentinel
_CHUNK_SHINGLES = 1 << 13  # shingles permuted at once: 8192 x 128 x 4 B = 4 MiB, cache-sized


def fmix32(values: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer, element-wise (datasketch's pre-mix for affine32)."""
    s1, m1, s2, m2, s3 = _FMIX32
    hv = values.astype(np.uint32)
    hv = hv ^ (hv >> np.uint32(s1))
    hv = hv * np.uint32(m1)
    hv = hv ^ (hv >> np.uint32(s2))
    hv = hv * np.uint32(m2)
    return hv ^ (hv >> np.uint32(s3))


def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's affine32 permutation parameters (a odd, b) for `seed`."""
    from datasketch import MinHash

    a, b = MinHash(num_perm=num_perm, seed=seed, scheme="affine32").permutations
    return a.astype(np.uint32), b.astype(np.uint32)


class MinHasher:
    """Signatures (n, num_perm) uint32 for snippets of code; token hashes are cached."""

    def __init__(self, *, num_perm: int = 128, ngram: int = 5, seed: int = 1) -> None:
        if num_perm < 1 or ngram < 1:
            raise ValueError("num_perm and ngram must be positive")
        self.num_perm = num_perm
        self.ngram = ngram
        self.seed = seed
        self.a, self.b = permutations(num_perm, seed)
        self._tokens: dict[str, int] = {}

    def token_hashes(self, code: str) -> list[int]:
        cache = self._tokens
        out = []
        for tok in TOKEN.findall(code):
            h = cache.get(tok)
            if h is None:
                h = cache[tok] = zlib.crc32(tok.encode("utf-8"))
            out.append(h)
        return out

    def shingle_hashes(self, codes: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(32-bit hash of every token n-gram, start offset of each snippet's shingles)."""
        k = self.ngram
        rows = [self.token_hashes(c) for c in codes]
        rows = [r + [_PAD] * (k - len(r)) if len(r) < k else r for r in rows]
        lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
        flat = np.fromiter(chain.from_iterable(rows), dtype=np.uint64, count=int(lengths.sum()))
        windows = len(flat) - k + 1
        acc = np.zeros(max(windows, 0), dtype=np.uint64)
        for j in range(k):
            acc = acc * _ROLL + flat[j : j + windows]
        acc ^= acc >> np.uint64(33)
        acc *= _MIX
        acc ^= acc >> np.uint64(29)
        starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
        counts = lengths - k + 1  # windows that stay inside one snippet
        offsets = np.concatenate(([0], np.cumsum(counts)[:-1]))
        keep = np.repeat(starts - offsets, counts) + np.arange(int(counts.sum()))
        return (acc[keep] >> np.uint64(32)).astype(np.uint32), offsets

    def signatures_of_hashes(self, hashes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """Min over each snippet's shingles of a*fmix32(h)+b mod 2^32, for every permutation.

        Works on cache-sized chunks of whole snippets with one reused buffer: allocating the
        full (shingles x num_perm) matrix is several times slower than the arithmetic."""
        mixed = fmix32(hashes)
        out = np.empty((len(offsets), self.num_perm), dtype=np.uint32)
        bounds = np.append(offsets, len(mixed)).astype(np.int64)
        longest = int(np.diff(bounds).max()) if len(offsets) else 0
        buf = np.empty((max(_CHUNK_SHINGLES, longest), self.num_perm), dtype=np.uint32)
        first = 0
        while first < len(offsets):
            limit = bounds[first] + buf.shape[0]
            last = int(np.searchsorted(bounds, limit, side="right")) - 1
            last = min(max(last, first + 1), len(offsets))
            lo, hi = int(bounds[first]), int(bounds[last])
            view = buf[: hi - lo]
            np.multiply(mixed[lo:hi, None], self.a[None, :], out=view)
            view += self.b[None, :]
            out[first:last] = np.minimum.reduceat(view, bounds[first:last] - lo, axis=0)
            first = last
        return out

    def signatures(self, codes: Sequence[str]) -> np.ndarray:
        if not codes:
            return np.empty((0, self.num_perm), dtype=np.uint32)
        hashes, offsets = self.shingle_hashes(codes)
        return self.signatures_of_hashes(hashes, offsets)
