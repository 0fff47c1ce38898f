"""Stage `select`: the raw-code coreset, by exact k-center greedy over the snippet embeddings.

Reads `embed`'s matrix and ids (and `dedup`'s records for the languages when budgets are per
language), picks the budget and writes, in its folder:
    records.jsonl   `Selected(code_id, rank, radius)` in selection order; rank 0 is the first
                    centre (drawn by the run seed in id order, so the row order of the
                    embeddings, e.g. shard parts, does not matter); radius is the covering
                    radius once this pick is made (per language when budgets are per language)
    rejected.jsonl  every snippet not picked, with its nearest pick and distance
    radius.png      covering radius against k
    selection.json  budget per language, final radius, metric
The budget is a count (>= 1) or a fraction (< 1) of the snippets. With `per_language`, each
language gets a share in proportion to its snippets (largest remainder), or the count/fraction
given in `language_budgets`, and is selected on its own; picks are then merged by radius.
Not here: the algorithm (`wavecoder.corpus.coreset`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from wavecoder.config import ConfigError
from wavecoder.corpus.coreset import Backend, Coreset, Metric, first_center, kcenter_greedy
from wavecoder.records import Code, Rejected, Selected, normalize_language

VERSION = 2  # 2: the first centre is drawn in id order (row order no longer matters)
INPUTS = ("dedup", "embed")
SHARDABLE = False  # the greedy needs every vector at once
PLACEMENT = "task"  # under Ray: one task, with ray.gpus.select GPUs (torch backend)


@dataclass(frozen=True)
class Config:
    budget: float = 0.1  # >= 1: that many snippets; 0 < budget < 1: that fraction of them
    per_language: bool = False  # split the budget over languages, keeping the language mix
    language_budgets: dict[str, float] = field(default_factory=dict)  # per-language overrides
    metric: Metric = "euclidean"  # "cosine": on L2-normalised vectors
    backend: Backend = "numpy"  # "torch": CPU or GPU, same picks
    device: str = "auto"  # torch backend only
    prune: bool = True  # exact triangle-inequality pruning (numpy backend)
    blas_threads: int | None = 1  # BLAS threads inside the loop; null: library default
    plot: bool = True

    def __post_init__(self) -> None:  # checked when the config loads, before any stage runs
        resolve_budget(self.budget, 1, where="budget")
        for name, value in self.language_budgets.items():
            normalize_language(name)  # an unknown language fails here, not after embedding
            resolve_budget(value, 1, where=f"language_budgets.{name}")


def resolve_budget(budget: float, n: int, *, where: str = "select.budget") -> int:
    """A count (budget >= 1, must be whole) or a fraction (0 < budget < 1, rounded) of n."""
    if not budget > 0:
        raise ValueError(f"{where} must be positive, got {budget}")
    if budget < 1:
        return min(n, max(1 if n else 0, round(budget * n)))
    if budget != int(budget):
        raise ValueError(f"{where}: a count must be whole, got {budget} (fractions are < 1)")
    return min(n, int(budget))


def split_budget(total: int, counts: dict[str, int]) -> dict[str, int]:
    """Split `total` over groups in proportion to `counts` (largest remainder, ties by name)."""
    n = sum(counts.values())
    if n == 0 or total <= 0:
        return {g: 0 for g in counts}
    quotas = {g: total * c / n for g, c in counts.items()}
    shares = {g: math.floor(q) for g, q in quotas.items()}
    left = total - sum(shares.values())
    for g in sorted(counts, key=lambda g: (-(quotas[g] - shares[g]), g))[:left]:
        shares[g] += 1
    return shares


def plan_budgets(cfg: Config, counts: dict[str, int]) -> dict[str, int]:
    """Picks per language: explicit `language_budgets` first, the rest of the total split
    over the other languages in proportion to their snippets."""
    total = resolve_budget(cfg.budget, sum(counts.values()))
    fixed: dict[str, int] = {}
    for name, value in cfg.language_budgets.items():
        lang = normalize_language(name)
        if lang not in counts:
            raise ConfigError(
                f"select.language_budgets.{name}: no {lang} snippets in the input "
                f"(languages: {', '.join(sorted(counts))})"
            )
        fixed[lang] = resolve_budget(value, counts[lang], where=f"select.language_budgets.{name}")
    rest = total - sum(fixed.values())
    if rest < 0:
        raise ConfigError(
            f"select.language_budgets ask for {sum(fixed.values())} snippets, more "
            f"than the total budget {total}"
        )
    others = {g: c for g, c in counts.items() if g not in fixed}
    return {**fixed, **split_budget(rest, others)}


def run(ctx: Any) -> dict[str, int | float | str]:
    from wavecoder.corpus.embed import load_embeddings

    cfg: Config = ctx.cfg
    ids, emb = load_embeddings(ctx.inputs["embed"])
    groups = _groups(cfg, ids, ctx.inputs["dedup"])
    counts = {g: len(idx) for g, idx in groups.items()}
    budgets = (
        plan_budgets(cfg, counts)
        if cfg.per_language or cfg.language_budgets
        else {g: resolve_budget(cfg.budget, c) for g, c in counts.items()}
    )
    results = {
        g: _select(cfg, emb, groups[g], budgets[g], first=_first_row(ids, groups[g], ctx.seed))
        for g in groups
    }
    picks = _merge(groups, results)
    ctx.out.write_records(
        "records",
        [Selected(code_id=ids[i], rank=r, radius=rad) for r, (i, rad) in enumerate(picks)],
    )
    rejected = ctx.out.write_rejected(_not_selected(ids, groups, results))
    final = _write_summary(ctx, cfg, results, budgets=budgets, counts=counts)
    stats: dict[str, int | float | str] = {
        "in": len(ids),
        "out": len(picks),
        "rejected.not_selected": rejected,
    }
    stats.update({f"out.{g}": budgets[g] for g in budgets if len(budgets) > 1})
    stats["radius.final"] = max(final.values(), default=0.0)
    return stats


def _write_summary(
    ctx: Any,
    cfg: Config,
    results: dict[str, Coreset],
    *,
    budgets: dict[str, int],
    counts: dict[str, int],
) -> dict[str, float]:
    """radius.png and selection.json; returns the final radius per group."""
    if cfg.plot:
        from wavecoder.corpus.plots import plot_radius

        curves = {g: res.radii for g, res in results.items()}
        plot_radius(curves, ctx.out.path / "radius.png", metric=cfg.metric)
    final = {g: float(res.radii[-1]) if len(res.radii) else 0.0 for g, res in results.items()}
    summary = {"metric": cfg.metric, "seed": ctx.seed, "budgets": budgets, "available": counts}
    ctx.out.write_json("selection", {**summary, "final_radius": final})
    return final


def _groups(cfg: Config, ids: list[str], dedup: Any) -> dict[str, np.ndarray]:
    if not cfg.per_language and not cfg.language_budgets:
        return {"all": np.arange(len(ids))}
    language = {r.id: r.language for r in dedup.read_records("records", Code)}
    missing = [i for i in ids if i not in language]
    if missing:
        raise ValueError(
            f"{len(missing)} embedded ids have no dedup record (e.g. {missing[0]}); "
            f"the embed stage is older than dedup: rerun embed"
        )
    langs = np.array([language[i] for i in ids])
    return {str(g): np.flatnonzero(langs == g) for g in sorted(set(langs.tolist()))}


def _first_row(ids: list[str], idx: np.ndarray, seed: int) -> int:
    """The seed's draw of the first centre, taken in id order: the coreset then does not depend
    on the row order (a sharded embed's parts arrive in shard order)."""
    if not len(idx):
        return 0
    group_ids = [ids[i] for i in idx.tolist()]
    order = sorted(range(len(group_ids)), key=group_ids.__getitem__)
    return order[first_center(len(order), seed)]


def _select(cfg: Config, emb: np.ndarray, idx: np.ndarray, k: int, *, first: int) -> Coreset:
    from tqdm.auto import tqdm

    from wavecoder.progress import is_quiet

    with tqdm(total=k, desc="k-center", disable=True if is_quiet() else None) as bar:
        rows = emb if len(idx) == len(emb) else emb[idx]  # no copy of the (mapped) matrix
        return kcenter_greedy(
            rows,
            k,
            first=first,
            metric=cfg.metric,
            backend=cfg.backend,
            prune=cfg.prune,
            blas_threads=cfg.blas_threads,
            device=cfg.device,
            on_pick=lambda _m: bar.update(1),
        )


def _merge(groups: dict[str, np.ndarray], results: dict[str, Coreset]) -> list[tuple[int, float]]:
    """(row, radius) of every pick; across groups by decreasing radius, then group order."""
    rows = []
    for gi, (g, res) in enumerate(results.items()):
        for r, (i, rad) in enumerate(zip(res.indices.tolist(), res.radii.tolist(), strict=True)):
            rows.append((-rad, gi, r, int(groups[g][i])))
    rows.sort()
    return [(row, -neg) for neg, _gi, _r, row in rows]


def _not_selected(
    ids: list[str], groups: dict[str, np.ndarray], results: dict[str, Coreset]
) -> Iterator[Rejected]:
    for g, res in results.items():
        chosen = np.zeros(len(groups[g]), bool)
        chosen[res.indices] = True
        for i in np.flatnonzero(~chosen).tolist():
            centre = int(groups[g][res.indices[res.nearest[i]]]) if len(res.indices) else -1
            detail = (
                f"nearest pick {ids[centre]} at distance {res.min_dist[i]:.4g}"
                if centre >= 0
                else "budget is 0"
            )
            yield Rejected(
                id=ids[int(groups[g][i])], stage="select", reason="not_selected", detail=detail
            )
