"""The leakage report (the paper's Figure 3, for any dataset): per benchmark, how close the
training data comes to each benchmark solution.

For every reference problem, the cosine similarity of its solution to its nearest training
instance (`decontaminate_core.Nearest.ref_sim`); per benchmark the distribution of those values
with its mean and quantiles, as JSON numbers and a PNG (one histogram per benchmark,
the mean marked). The figure depends on the embedding model: the paper used GTE-Large
(`thenlper/gte-large`, 0.880 on HumanEval for its data, 0.944 for Magicoder-evol-codealpaca);
wavecoder's default is MiniLM, whose values are lower across the board and are comparable only
with MiniLM values. Not here: computing the neighbours (`decontaminate_core.embed_nearest`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from wavecoder.instruct.decontaminate_core import Item, Nearest
from wavecoder.instruct.decontaminate_refs import Reference
from wavecoder.store import atomic_path

BINS = np.linspace(-0.2, 1.0, 61)


def leakage_report(
    refs: Sequence[Reference],
    items: Sequence[Item],
    nearest: Nearest,
    *,
    embedder: str,
    after_drops: bool = False,
) -> dict[str, Any]:
    """Per benchmark: count, mean, quantiles, histogram and every problem's value. With
    `after_drops` (and `nearest` computed with drops), over the instances decontamination kept,
    the data that goes on, with the means and maxima before the drops beside them."""
    kept = after_drops and nearest.kept is not None and nearest.kept_ref_sim is not None
    sim = nearest.kept_ref_sim if kept else nearest.ref_sim
    near = nearest.kept_ref_item if kept else nearest.ref_item
    assert sim is not None and near is not None
    by_bench: dict[str, list[int]] = {}
    for i, r in enumerate(refs):
        by_bench.setdefault(r.benchmark, []).append(i)
    benchmarks = {}
    for name, idx in by_bench.items():
        sims = sim[idx].astype(np.float64)
        # clipped: rounding can put a copy at 1.0000001, and the first bin holds all below it
        counts, _ = np.histogram(np.clip(sims[sims > -1], BINS[0], BINS[-1]), bins=BINS)
        per_problem = [
            {
                "problem_id": refs[i].problem_id,
                "similarity": round(float(sim[i]), 4),
                "nearest_id": items[int(near[i])].id if near[i] >= 0 else "",
            }
            for i in idx
        ]
        entry: dict[str, Any] = {"problems": len(idx), **_stats(sims)}
        if kept:
            entry["before_drops"] = _stats(nearest.ref_sim[idx].astype(np.float64))
        entry["histogram"] = {"bin_edges": [_r(b) for b in BINS], "counts": counts.tolist()}
        entry["per_problem"] = per_problem
        benchmarks[name] = entry
    n_kept = int(np.count_nonzero(nearest.kept)) if kept and nearest.kept is not None else None
    return {
        "what": "per benchmark problem: cosine similarity of its solution to the nearest "
        "training instance's code (paper Figure 3)",
        "embedder": embedder,
        "embedder_note": "values depend on the embedding model; the paper used GTE-Large "
        "(thenlper/gte-large); compare only figures made with the same model",
        "over": "kept" if kept else "all",  # kept: the instances left after decontamination
        "instances": n_kept if n_kept is not None else len(items),
        "checked": len(items),
        "benchmarks": benchmarks,
    }


QUANTILES = {"p10": 0.1, "p25": 0.25, "median": 0.5, "p75": 0.75, "p90": 0.9}


def _stats(sims: np.ndarray) -> dict[str, float | None]:
    """Mean, quantiles and maximum, or None for each when there is no value (or no instance:
    -1 marks a problem with nothing to compare)."""
    ok = sims[sims > -1]
    out: dict[str, float | None] = {"mean": _r(ok.mean()) if len(ok) else None}
    out.update({k: _r(np.quantile(ok, q)) if len(ok) else None for k, q in QUANTILES.items()})
    out["max"] = _r(ok.max()) if len(ok) else None
    return out


def _r(x: float) -> float:
    return round(float(x), 4)


def plot_leakage(report: dict[str, Any], path: Path) -> None:
    """One histogram per benchmark with its mean marked, as a PNG (matplotlib's Agg canvas)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = list(report["benchmarks"])
    cols = min(4, max(1, len(names)))
    rows = max(1, math.ceil(len(names) / cols))
    # at least 5 inches wide: the two-line title must fit above a single benchmark's panel
    fig = Figure(figsize=(max(5.0, 3.2 * cols), 2.6 * rows + 0.8), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):
        bench = report["benchmarks"][name]
        sims = [p["similarity"] for p in bench["per_problem"] if p["similarity"] > -1]
        ax.hist(np.clip(sims, BINS[0], BINS[-1]), bins=BINS, color="#4c72b0")
        if bench["mean"] is not None:
            ax.axvline(bench["mean"], color="#c44e52", linestyle="--", linewidth=1.2)
        mean = "-" if bench["mean"] is None else f"{bench['mean']:.3f}"
        ax.set_title(f"{name}: mean {mean}", fontsize=9)
        ax.set_xlim(BINS[0], BINS[-1])
        ax.set_xlabel("cosine to nearest instance", fontsize=8)
        ax.set_ylabel("problems", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(names) :]:
        ax.set_visible(False)
    kept = " kept" if report.get("over") == "kept" else ""
    fig.suptitle(
        "nearest-neighbour cosine, benchmark solution -> training data\n"
        f"({report['embedder']}, {report['instances']}{kept} instances)",
        fontsize=9,
    )
    fig.tight_layout()
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fig.savefig(fh, format="png")
