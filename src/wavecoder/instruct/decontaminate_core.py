"""The pure core of decontamination: plain (id, text) items in, every benchmark match out.

Both the `decontaminate` stage (Example records) and the `wavecoder decontaminate` command (any
instruction file) turn their records into `Item`s and call `find_matches`. Three levels, each
with its threshold in `Config`:

    exact      a reference body inside the item after normalising whitespace, comments, quotes
    ngram      share of a reference's identifier-normalised token n-grams found in the item
    embedding  cosine similarity of the item's code to its nearest reference solution

The embedding pass also gives, for free, each reference's nearest item: the leakage report
(`leakage.py`) is built from it. Not here: reading and writing records (the stage and command
shells), the index (`decontaminate_index`), the references (`decontaminate_refs`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from wavecoder.corpus.embedders import EmbedderConfig
from wavecoder.instruct.decontaminate_index import NgramIndex
from wavecoder.instruct.decontaminate_refs import REFERENCE_SETS, Reference

Level = Literal["exact", "ngram", "embedding"]
LEVELS: tuple[Level, ...] = ("exact", "ngram", "embedding")
Action = Literal["drop", "flag"]


@dataclass(frozen=True)
class Config:
    """The `decontaminate` config section, shared by the stage and the command: which reference
    sets, which levels with which thresholds, and what to do with a match."""

    benchmarks: tuple[str, ...] = REFERENCE_SETS
    reference_files: tuple[str, ...] = ()  # the user's own reference files (decontaminate_refs)
    data: str = ""  # benchmark data folder; "" = the loaders' pinned downloads
    action: Action = "drop"  # "flag": keep every instance, list the matches
    leakage_report: bool = True  # leakage.json + leakage.png (needs the embedding level)
    levels: tuple[Level, ...] = LEVELS
    exact_min_chars: int = 40  # shorter bodies (`return len(s)`) are too common to be evidence
    ngram_n: int = 10
    ngram_threshold: float = 0.7  # share of the reference's specific n-grams in the item
    ngram_min_shared: int = 8
    ngram_max_df: float = 0.05  # n-grams in more than this share of a benchmark's problems
    embedding_threshold: float = 0.92  # cosine (MiniLM; see docs/decontamination.md)
    embedder: EmbedderConfig = field(
        default_factory=lambda: EmbedderConfig(backend="minilm", normalize=True)
    )
    batch_size: int = 2048  # items per n-gram batch and per similarity block
    # reuse the references' embeddings across runs (`decontaminate_cache`); the vectors are the
    # same either way, so the setting is outside the fingerprint
    cache: bool = field(default=True, metadata={"fingerprint": False})

    def __post_init__(self) -> None:
        unknown = [lv for lv in self.levels if lv not in LEVELS]
        if unknown:
            raise ValueError(f"levels: unknown {unknown}; known: {', '.join(LEVELS)}")
        bad = [b for b in self.benchmarks if b not in REFERENCE_SETS]
        if bad:
            raise ValueError(f"benchmarks: unknown {bad}; known: {', '.join(REFERENCE_SETS)}")
        if self.action not in ("drop", "flag"):
            raise ValueError(f"action: expected drop or flag, got {self.action!r}")
        if not 0 < self.ngram_threshold <= 1 or not -1 <= self.embedding_threshold <= 1:
            raise ValueError("ngram_threshold must be in (0, 1], embedding_threshold in [-1, 1]")


@dataclass(frozen=True)
class Item:
    """One instruction instance: `text` is scanned by the exact and n-gram levels, `code` (the
    response; default the whole text) is what the embedding level and the leakage report embed."""

    id: str
    text: str
    code: str = ""

    @property
    def code_text(self) -> str:
        return self.code or self.text


@dataclass(frozen=True)
class Match:
    item_id: str
    benchmark: str
    problem_id: str
    level: Level
    score: float
    span: tuple[int, int]  # characters of the item's text
    split: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.item_id,
            "benchmark": self.benchmark,
            "problem_id": self.problem_id,
            "split": self.split,
            "level": self.level,
            "score": self.score,
            "span": list(self.span),
        }

    def describe(self, text: str = "") -> str:
        snippet = text[self.span[0] : self.span[1]][:80].replace("\n", "\\n")
        out = (
            f"{self.benchmark} {self.problem_id} level={self.level} score={self.score:.4f} "
            f"span={self.span[0]}-{self.span[1]}"
        )
        return f"{out} text={snippet!r}" if snippet else out


@dataclass(frozen=True)
class Nearest:
    """Embedding nearest neighbours both ways: per item its nearest reference and per
    reference its nearest item (cosine; -1 where there was nothing to compare). With
    `action: drop`, also per reference its nearest among the items `kept` (no match at any
    level): what the data that leaves decontamination looks like."""

    item_sim: np.ndarray
    item_ref: np.ndarray
    ref_sim: np.ndarray
    ref_item: np.ndarray
    model: str
    kept: np.ndarray | None = None  # bool per item
    kept_ref_sim: np.ndarray | None = None
    kept_ref_item: np.ndarray | None = None


@dataclass(frozen=True)
class Scan:
    matches: list[Match]
    nearest: Nearest | None


def find_matches(
    items: Sequence[Item],
    refs: Sequence[Reference],
    cfg: Config,
    *,
    index: NgramIndex | None = None,
) -> Scan:
    """Every match of every item at the configured levels, ordered by item then level."""
    matches: list[Match] = []
    order = {it.id: i for i, it in enumerate(items)}
    if {"exact", "ngram"} & set(cfg.levels):
        index = index or build_index(refs, cfg)
        for lo in range(0, len(items), cfg.batch_size):
            batch = items[lo : lo + cfg.batch_size]
            hits = index.scan(
                [it.text for it in batch],
                threshold=cfg.ngram_threshold,
                min_shared=cfg.ngram_min_shared,
                exact="exact" in cfg.levels,
                ngram="ngram" in cfg.levels,
            )
            for h in hits:
                r = refs[h.ref]
                lvl: Level = "exact" if h.level == "exact" else "ngram"
                it = batch[h.item]
                matches.append(
                    Match(it.id, r.benchmark, r.problem_id, lvl, h.score, h.span, r.split)
                )
    nearest = None
    if "embedding" in cfg.levels:
        dropped = None
        if cfg.action == "drop":
            dropped = np.zeros(len(items), bool)
            dropped[[order[m.item_id] for m in matches]] = True
        nearest = embed_nearest(items, refs, cfg, dropped=dropped)
        matches.extend(embedding_matches(items, refs, nearest, cfg.embedding_threshold))
    matches.sort(key=lambda m: (order[m.item_id], LEVELS.index(m.level), -m.score))
    return Scan(matches, nearest)


def build_index(refs: Sequence[Reference], cfg: Config) -> NgramIndex:
    return NgramIndex(
        refs, n=cfg.ngram_n, max_df=cfg.ngram_max_df, exact_min_chars=cfg.exact_min_chars
    )


def embed_nearest(
    items: Sequence[Item],
    refs: Sequence[Reference],
    cfg: Config,
    *,
    dropped: np.ndarray | None = None,
) -> Nearest:
    """Cosine nearest neighbours between the items' code and the reference solutions. With
    `dropped` (items matched by the other levels), also each reference's nearest kept item:
    not dropped and below `embedding_threshold`."""
    from wavecoder.corpus.embedders import load_embedder
    from wavecoder.instruct.decontaminate_cache import reference_vectors

    embedder = load_embedder(cfg.embedder)
    ref_texts = [r.solution for r in refs]
    item_texts = [it.code_text for it in items]
    # fits the hashing backend on both sides (one projection), or loads its fit from the cache
    ref_vecs = _unit(
        reference_vectors(embedder, cfg.embedder, ref_texts, item_texts, cache=cfg.cache)
    )
    item_sim = np.full(len(items), -1.0, np.float32)
    item_ref = np.full(len(items), -1, np.int64)
    best = _Best(len(refs))
    kept = None if dropped is None else ~np.asarray(dropped, bool)
    kept_best = None if kept is None else _Best(len(refs))
    for lo in range(0, len(items), cfg.batch_size):
        vecs = _unit(embedder.encode(item_texts[lo : lo + cfg.batch_size]).vectors)
        if not len(refs) or not len(vecs):
            continue
        sims = vecs @ ref_vecs.T  # (batch, refs)
        top = sims.argmax(axis=1)
        item_ref[lo : lo + len(vecs)] = top
        item_sim[lo : lo + len(vecs)] = sims[np.arange(len(vecs)), top]
        best.update(sims, lo)
        if kept is not None and kept_best is not None:
            part = kept[lo : lo + len(vecs)]
            part &= item_sim[lo : lo + len(vecs)] < cfg.embedding_threshold
            kept_best.update(np.where(part[:, None], sims, -np.inf), lo)
    return Nearest(
        item_sim,
        item_ref,
        best.sim,
        best.item,
        embedder.name,
        kept,
        None if kept_best is None else kept_best.sim,
        None if kept_best is None else kept_best.item,
    )


class _Best:
    """Per reference, the most similar item seen so far over batches of similarities."""

    def __init__(self, n_refs: int) -> None:
        self.sim = np.full(n_refs, -1.0, np.float32)
        self.item = np.full(n_refs, -1, np.int64)

    def update(self, sims: np.ndarray, offset: int) -> None:
        col = sims.argmax(axis=0)
        col_sim = sims[col, np.arange(sims.shape[1])]
        better = col_sim > self.sim
        self.sim[better] = col_sim[better]
        self.item[better] = col[better] + offset


def _unit(vecs: np.ndarray) -> np.ndarray:
    vecs = np.asarray(vecs, np.float32)
    norms = np.linalg.norm(vecs, axis=1, keepdims=True)
    return vecs / np.where(norms > 0, norms, 1.0)


def embedding_matches(
    items: Sequence[Item], refs: Sequence[Reference], nearest: Nearest, threshold: float
) -> list[Match]:
    out = []
    for i in np.flatnonzero(nearest.item_sim >= threshold).tolist():
        r = refs[int(nearest.item_ref[i])]
        it = items[i]
        start = max(it.text.find(it.code_text), 0)
        span = (start, start + len(it.code_text))
        score = round(float(nearest.item_sim[i]), 4)
        out.append(Match(it.id, r.benchmark, r.problem_id, "embedding", score, span, r.split))
    return out


def first_match(matches: Sequence[Match]) -> dict[str, Match]:
    """Per item, the match that decides its fate: the strictest level, then the highest score
    (`find_matches` orders them so)."""
    best: dict[str, Match] = {}
    for m in matches:
        best.setdefault(m.item_id, m)
    return best


def summarize(items: Sequence[Item], matches: Sequence[Match]) -> dict[str, Any]:
    """Counts for stats and reports: items matched per level and per benchmark."""
    decided = first_match(matches)
    per_level = {lv: 0 for lv in LEVELS}
    for m in decided.values():
        per_level[m.level] += 1
    per_bench: dict[str, set[str]] = {}
    for m in matches:
        per_bench.setdefault(m.benchmark, set()).add(m.item_id)
    return {
        "items": len(items),
        "contaminated": len(decided),
        "rate": round(len(decided) / len(items), 6) if items else 0.0,
        "matches": len(matches),
        "by_level": per_level,
        "by_benchmark": {b: len(ids) for b, ids in sorted(per_bench.items())},
    }
