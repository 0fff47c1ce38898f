"""The exact and n-gram levels: one index over every reference, built once, scanned in batches.

Every reference solution becomes the set of hashes of its token n-grams (`match_tokens`: renamed
identifiers give the same tokens). N-grams found in more than `max_df` of one benchmark's
problems (`for ID in range ( len ( ID ) ) :` and the like) are boilerplate and left out, so a
score measures what is specific to the problem. A batch of instructions is tokenised, its
n-grams hashed with numpy (a polynomial hash over token ids, windows across two texts masked)
and looked up in the sorted key array at once; only the few hits go back to Python.

* n-gram level: score = the share of the reference's n-grams that the instruction contains
  (containment); a match needs `threshold` and at least `min_shared` n-grams.
* exact level: the reference's body (`exact_key`) as a substring of the instruction's
  `exact_key`. Checked for the pairs that share an n-gram (a copy shares all of them); the few
  bodies with no specific n-gram inside are scanned directly.

The span of a match is the character range of the instruction from the first to the last shared
n-gram. Not here: references (`decontaminate_refs`), embeddings, the stages.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from wavecoder.instruct.decontaminate_refs import Reference
from wavecoder.instruct.decontaminate_text import (
    FAMILY_LANGUAGE,
    comment_family,
    exact_key,
    match_tokens,
    token_strings,
)
from wavecoder.records import normalize_code

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PRIME = np.uint64(0x100000001B3)  # FNV-64 prime: odd, so the hash is a bijection per position


@dataclass(frozen=True)
class Hit:
    """One (instruction, reference) pair found by the exact or the n-gram level."""

    item: int
    ref: int
    level: str  # "exact" | "ngram"
    score: float
    span: tuple[int, int]


def _hashes(ids: np.ndarray, n: int) -> np.ndarray:
    """uint64 hash of every window of `n` consecutive ids (len(ids) - n + 1 of them)."""
    m = len(ids) - n + 1
    if m <= 0:
        return np.zeros(0, np.uint64)
    with np.errstate(over="ignore"):
        h = np.zeros(m, np.uint64)
        for k in range(n):
            h = h * _PRIME + ids[k : k + m]
    return h


class NgramIndex:
    """Every reference's n-grams and exact keys; `scan` a batch of texts against them."""

    def __init__(
        self,
        refs: Sequence[Reference],
        *,
        n: int = 10,
        max_df: float = 0.05,
        exact_min_chars: int = 40,
    ) -> None:
        if n < 2:
            raise ValueError(f"n-gram length must be at least 2, got {n}")
        self.refs = list(refs)
        self.n = n
        self.vocab: dict[str, int] = {}
        grams = [self._ref_hashes(r.solution) for r in self.refs]
        self.stop = _boilerplate(grams, [r.benchmark for r in self.refs], max_df)
        self.ref_grams = [np.setdiff1d(g, self.stop) for g in grams]
        postings: dict[int, list[int]] = defaultdict(list)
        for i, g in enumerate(self.ref_grams):
            for h in g.tolist():
                postings[h].append(i)
        self.postings = postings
        self.keys = np.array(sorted(postings), dtype=np.uint64)
        self.exact = [
            key if len(key := exact_key(r.body, r.language)) >= exact_min_chars else ""
            for r in self.refs
        ]
        # per body: how many indexed n-grams lie inside it; a pair sharing fewer cannot hold it
        self.body_need = [self._inner_indexed(i) if key else 0 for i, key in enumerate(self.exact)]
        self.anchored = {i for i, need in enumerate(self.body_need) if need}
        # bodies a copy of which may share no indexed n-gram: checked against every text
        self.scan_all = [i for i, key in enumerate(self.exact) if key and i not in self.anchored]
        # and their longest name, which any copy holds verbatim: a cheap test before normalising
        self.hint = {i: _longest_name(self.refs[i]) for i in self.scan_all}

    def _ref_hashes(self, text: str) -> np.ndarray:
        ids = [self.vocab.setdefault(t, len(self.vocab) + 1) for t in token_strings(text)]
        return np.unique(_hashes(np.array(ids, np.uint64), self.n))

    def _inner_indexed(self, i: int) -> int:
        """Indexed n-grams among the body's inner ones (not touching its first or last token,
        which a copy may glue to its neighbours): an exact copy of the body shares them all."""
        ids = [self.vocab.get(t, 0) for t in token_strings(self.refs[i].body)]
        inner = np.unique(_hashes(np.array(ids[1:-1], np.uint64), self.n))
        return int(np.isin(inner, self.ref_grams[i]).sum())

    @property
    def size(self) -> int:
        return len(self.keys)

    def scan(
        self, texts: Sequence[str], *, threshold: float, min_shared: int, exact: bool, ngram: bool
    ) -> list[Hit]:
        """Hits of `texts` (indexes into it) at the enabled levels."""
        found = self._shared([token_strings(t) for t in texts])
        hits: list[Hit] = []
        keys: dict[tuple[int, str], str] = {}
        for item, per_ref in found.items():
            offsets: list[tuple[str, int, int]] = []  # token offsets, for the items that match
            for ref, (count, lo, hi) in per_ref.items():
                total = len(self.ref_grams[ref])
                is_copy = (
                    exact
                    and ref in self.anchored
                    and count >= self.body_need[ref]
                    and self._contains(texts, item, ref, keys)
                )
                is_ngram = ngram and count >= min_shared and count >= threshold * total
                if not (is_copy or is_ngram):
                    continue
                offsets = offsets or match_tokens(texts[item])
                span = (offsets[lo][1], offsets[hi + self.n - 1][2])
                if is_copy:
                    hits.append(Hit(item, ref, "exact", 1.0, span))
                if is_ngram:
                    hits.append(Hit(item, ref, "ngram", round(count / total, 4), span))
        if exact:
            for ref in self.scan_all:
                for item, text in enumerate(texts):
                    if self.hint[ref] in text and self._contains(texts, item, ref, keys):
                        hits.append(Hit(item, ref, "exact", 1.0, (0, len(texts[item]))))
        return hits

    def _shared(self, toks: list[list[str]]) -> dict[int, dict[int, list[int]]]:
        """item -> ref -> [shared distinct n-grams, first window, last window]."""
        get = self.vocab.get
        ids = [np.array([get(t, 0) for t in tk], np.uint64) for tk in toks]
        lengths = np.array([len(x) for x in ids])
        if not len(ids) or lengths.sum() < self.n:
            return {}
        flat = np.concatenate(ids)
        doc = np.repeat(np.arange(len(ids)), lengths)
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        h = _hashes(flat, self.n)
        ok = doc[: len(h)] == doc[self.n - 1 :]  # windows inside one text
        at = np.searchsorted(self.keys, h)
        at[at == len(self.keys)] = 0
        pos = np.flatnonzero(ok & (self.keys[at] == h)) if len(self.keys) else at[:0]
        found: dict[int, dict[int, list[int]]] = defaultdict(dict)
        seen: set[tuple[int, int]] = set()
        for p, d, key in zip(pos.tolist(), doc[pos].tolist(), h[pos].tolist(), strict=True):
            window = p - int(starts[d])
            first = (d, key) not in seen
            seen.add((d, key))
            for ref in self.postings[key]:
                entry = found[d].get(ref)
                if entry is None:
                    found[d][ref] = [1, window, window]
                    continue
                entry[0] += first
                entry[1] = min(entry[1], window)
                entry[2] = max(entry[2], window)
        return found

    def _contains(
        self, texts: Sequence[str], item: int, ref: int, keys: dict[tuple[int, str], str]
    ) -> bool:
        family = comment_family(self.refs[ref].language)
        key = keys.get((item, family))
        if key is None:
            key = keys[(item, family)] = exact_key(texts[item], FAMILY_LANGUAGE[family])
        return self.exact[ref] in key


def _longest_name(ref: Reference) -> str:
    names = _NAME.findall(normalize_code(ref.body, ref.language))
    return max(names, key=len, default="")


def _boilerplate(grams: list[np.ndarray], benchmarks: list[str], max_df: float) -> np.ndarray:
    """Hashes found in more than `max_df` of the problems of some benchmark (at least 3)."""
    per_bench: dict[str, Counter[int]] = defaultdict(Counter)
    sizes: Counter[str] = Counter(benchmarks)
    for g, b in zip(grams, benchmarks, strict=True):
        per_bench[b].update(g.tolist())
    stop = {
        h
        for b, counts in per_bench.items()
        for h, c in counts.items()
        if c > max(2, max_df * sizes[b])
    }
    return np.array(sorted(stop), dtype=np.uint64)
