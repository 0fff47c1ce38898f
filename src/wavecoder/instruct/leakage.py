"""The leakage report (the paper's Figure 3, for any dataset): per benchmark, how close the
training data comes to each benchmark solution.

For every reference problem, the cosine similarity of its solution to its nearest training
instance (`decontaminate_core.Nearest.ref_sim`); per benchmark the distribution of those values
with its mean, median and quantiles, as JSON numbers and a PNG (one histogram per benchmark,
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
    refs: Sequence[Reference], items: Sequence[Item], nearest: Nearest, *, embedder: str
) -> dict[str, Any]:
    """Per benchmark: count, mean, median, quantiles, histogram and every problem's value."""
    by_bench: dict[str, list[int]] = {}
    for i, r in enumerate(refs):
        by_bench.setdefault(r.benchmark, []).append(i)
    benchmarks = {}
    for name, idx in by_bench.items():
        sims = nearest.ref_sim[idx].astype(np.float64)
        # clipped: rounding can put a copy at 1.0000001, and the first bin holds all below it
        counts, _ = np.histogram(np.clip(sims, BINS[0], BINS[-1]), bins=BINS)
        per_problem = [
            {
                "problem_id": refs[i].problem_id,
                "similarity": round(float(nearest.ref_sim[i]), 4),
                "nearest_id": items[int(nearest.ref_item[i])].id
                if nearest.ref_item[i] >= 0
                else "",
            }
            for i in idx
        ]
        benchmarks[name] = {
            "problems": len(idx),
            "mean": _r(sims.mean()) if len(sims) else None,
            "median": _r(np.median(sims)) if len(sims) else None,
            "p10": _r(np.quantile(sims, 0.1)) if len(sims) else None,
            "p90": _r(np.quantile(sims, 0.9)) if len(sims) else None,
            "max": _r(sims.max()) if len(sims) else None,
            "histogram": {"bin_edges": [_r(b) for b in BINS], "counts": counts.tolist()},
            "per_problem": per_problem,
        }
    return {
        "what": "per benchmark problem: cosine similarity of its solution to the nearest "
        "training instance's code (paper Figure 3)",
        "embedder": embedder,
        "embedder_note": "values depend on the embedding model; the paper used GTE-Large "
        "(thenlper/gte-large); compare only figures made with the same model",
        "instances": len(items),
        "benchmarks": benchmarks,
    }


def _r(x: float) -> float:
    return round(float(x), 4)


def plot_leakage(report: dict[str, Any], path: Path) -> None:
    """One histogram per benchmark with its mean marked, as a PNG (matplotlib's Agg canvas)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = list(report["benchmarks"])
    cols = min(4, max(1, len(names)))
    rows = max(1, math.ceil(len(names) / cols))
    fig = Figure(figsize=(3.2 * cols, 2.6 * rows + 0.6), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):
        bench = report["benchmarks"][name]
        sims = [p["similarity"] for p in bench["per_problem"]]
        ax.hist(np.clip(sims, BINS[0], BINS[-1]), bins=BINS, color="#4c72b0")
        if bench["mean"] is not None:
            ax.axvline(bench["mean"], color="#c44e52", linestyle="--", linewidth=1.2)
        ax.set_title(f"{name}: mean {bench['mean']:.3f}", fontsize=9)
        ax.set_xlim(BINS[0], BINS[-1])
        ax.set_xlabel("cosine to nearest instance", fontsize=8)
        ax.set_ylabel("problems", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(names) :]:
        ax.set_visible(False)
    fig.suptitle(
        f"nearest-neighbour cosine, benchmark solution -> training data ({report['embedder']}, "
        f"{report['instances']} instances)",
        fontsize=9,
    )
    fig.tight_layout()
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fig.savefig(fh, format="png")
