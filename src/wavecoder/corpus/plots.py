"""The covering radius of a k-center selection against k, as a PNG.

Uses matplotlib's Agg canvas directly (no pyplot state, no display needed). Not here: the
selection itself (`wavecoder.corpus.coreset`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from wavecoder.store import atomic_path


def plot_radius(
    curves: Mapping[str, np.ndarray],
    path: Path,
    *,
    metric: str,
    title: str = "k-center greedy: covering radius against k",
) -> None:
    """One line per curve (e.g. per language): radius after the k-th pick, k = 1..len."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.0, 4.5), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    longest = 0
    for name, radii in curves.items():
        r = np.asarray(radii, dtype=np.float64)
        if len(r):
            ax.plot(np.arange(1, len(r) + 1), r, label=f"{name} (k={len(r)})", linewidth=1.2)
            longest = max(longest, len(r))
    if longest > 100:
        ax.set_xscale("log")
    unit = "cosine distance" if metric == "cosine" else "Euclidean distance"
    ax.set_xlabel("k (centres selected)")
    ax.set_ylabel(f"covering radius ({unit})")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    if len(curves) > 1:
        ax.legend(fontsize="small")
    fig.tight_layout()
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fig.savefig(fh, format="png")
