"""Stage `dedup`: drop exact and near-duplicate code, keeping one representative per cluster.

1. Exact: records with the same `code_hash` (code with comments and whitespace normalised, see
   `wavecoder.records.normalize_code`) form a cluster.
2. Near: MinHash signatures over token n-grams (default 5-grams, 128 permutations) go into a
   `datasketch.MinHashLSH` at the Jaccard threshold (default 0.85). Candidates the index
   returns are confirmed with the signatures' estimated Jaccard before a record counts as a
   duplicate (LSH alone has false positives).

Representatives are chosen deterministically and independently of input order: records are
ranked by (has no docstring, id) - documented code first, then the smaller id - and each record,
in that order, either joins the most similar representative already kept or becomes one. The
dropped records go to `rejected` with the id they duplicate (and the similarity for near ones).

Needs every record at once (SHARDABLE = False): it holds ids, hashes and code in memory and
one uint32 signature row per exact representative (num_perm x 4 bytes each).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from wavecoder.progress import track
from wavecoder.records import Code, Rejected

VERSION = 1
INPUTS: tuple[str, ...] = ("filter",)
SHARDABLE = False
PLACEMENT = "task"  # under Ray: one task over every record


@dataclass(frozen=True)
class Config:
    exact: bool = True
    near: bool = True
    threshold: float = 0.85  # Jaccard similarity of token n-gram sets
    ngram: int = 5
    num_perm: int = 128
    minhash_seed: int = 1  # permutations of the MinHash (datasketch's default seed)
    batch: int = 4096  # snippets hashed per numpy batch

    def __post_init__(self) -> None:  # checked when the config loads, before any stage runs
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"threshold is a Jaccard similarity in (0, 1], got {self.threshold}")
        if self.ngram < 1 or self.num_perm < 2 or self.batch < 1:
            raise ValueError("need ngram >= 1, num_perm >= 2 and batch >= 1")


def rank_key(code: Code) -> tuple[int, str]:
    """The order that decides representatives: documented first, then the smaller id."""
    return (0 if code.docstring.strip() else 1, code.id)


def exact_clusters(codes: Sequence[Code]) -> dict[int, int]:
    """{index of duplicate: index of its representative} by `code_hash`; `codes` are ranked."""
    first: dict[str, int] = {}
    dups: dict[int, int] = {}
    for i, code in enumerate(codes):
        rep = first.setdefault(code.code_hash, i)
        if rep != i:
            dups[i] = rep
    return dups


def near_clusters(
    signatures: np.ndarray, *, threshold: float, seed: int, desc: str = "dedup lsh"
) -> dict[int, tuple[int, float]]:
    """{row: (representative row, estimated Jaccard)} for rows in rank order: a row joins the
    most similar earlier representative at or above `threshold`, else becomes one."""
    from datasketch import LeanMinHash, MinHashLSH

    num_perm = signatures.shape[1]
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    dups: dict[int, tuple[int, float]] = {}
    for i in track(range(len(signatures)), total=len(signatures), desc=desc):
        sig = signatures[i]
        mh = LeanMinHash(seed=seed, hashvalues=sig, scheme="affine32")
        best: tuple[int, float] | None = None
        for j in sorted(lsh.query(mh)):
            sim = float(np.count_nonzero(signatures[j] == sig)) / num_perm
            if sim >= threshold and (best is None or sim > best[1]):
                best = (j, sim)
        if best is None:
            lsh.insert(i, mh, check_duplication=False)
        else:
            dups[i] = best
    return dups


def run(ctx: Any) -> dict[str, int | float | str]:
    from wavecoder.corpus.minhash import MinHasher

    cfg: Config = ctx.cfg
    if ctx.shard is not None:
        raise ValueError("dedup compares every record with every other: run it without --shard")
    source = ctx.inputs["filter"]
    given = list(
        track(
            source.read_records("records", Code),
            total=source.count_records("records"),
            desc="dedup read",
        )
    )
    order = sorted(range(len(given)), key=lambda i: rank_key(given[i]))
    codes = [given[i] for i in order]
    rejected: list[Rejected] = []
    exact = exact_clusters(codes) if cfg.exact else {}
    for i, rep in exact.items():
        rejected.append(
            Rejected(
                codes[i].id,
                "dedup",
                "exact_duplicate",
                f"duplicate of {codes[rep].id} (same normalised code)",
            )
        )
    reps = [i for i in range(len(codes)) if i not in exact]
    near: dict[int, tuple[int, float]] = {}
    if cfg.near and reps:
        hasher = MinHasher(num_perm=cfg.num_perm, ngram=cfg.ngram, seed=cfg.minhash_seed)
        batches = range(0, len(reps), cfg.batch)
        sigs = np.concatenate(
            [
                hasher.signatures([codes[i].code for i in reps[lo : lo + cfg.batch]])
                for lo in track(batches, total=len(batches), desc="dedup minhash")
            ]
        )
        near = near_clusters(sigs, threshold=cfg.threshold, seed=cfg.minhash_seed)
        for row, (rep_row, sim) in near.items():
            rejected.append(
                Rejected(
                    codes[reps[row]].id,
                    "dedup",
                    "near_duplicate",
                    f"near duplicate of {codes[reps[rep_row]].id} (estimated Jaccard {sim:.3f})",
                )
            )
    dropped = {order[i] for i in exact} | {order[reps[row]] for row in near}
    out = ctx.out.write_records("records", (c for i, c in enumerate(given) if i not in dropped))
    rejected.sort(key=lambda r: r.id)
    ctx.out.write_rejected(rejected)
    return {
        "in": len(given),
        "out": out,
        "rejected.exact_duplicate": len(exact),
        "rejected.near_duplicate": len(near),
    }
