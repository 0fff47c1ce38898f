"""The export report's PNG plots: funnel, task and language mix, acceptance, lengths.

matplotlib's Agg canvas directly (no pyplot state, no display), as `corpus.plots` does. Each
function draws one figure from values the report already computed. Not here: the numbers
(`report`, `export_rows.Funnel`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wavecoder.store import atomic_path

if TYPE_CHECKING:
    from wavecoder.instruct.export_rows import Funnel
    from wavecoder.instruct.report import Mix


def _figure(width: float, height: float, cols: int = 1) -> tuple[Any, list[Any]]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig, [fig.add_subplot(1, cols, i + 1) for i in range(cols)]


def _save(fig: Any, path: Path) -> None:
    fig.tight_layout()
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fig.savefig(fh, format="png")


def _barh(ax: Any, labels: Sequence[str], values: Sequence[float], title: str) -> None:
    ys = range(len(labels))
    ax.barh(list(ys), list(values), color="#4c72b0")
    ax.set_yticks(list(ys), labels=list(labels), fontsize="small")
    ax.invert_yaxis()
    ax.set_title(title, fontsize="medium")
    ax.grid(True, axis="x", alpha=0.3)


def plot_funnel(funnel: Funnel, path: Path) -> None:
    steps = funnel.steps()
    fig, (ax,) = _figure(7.0, 3.2)
    _barh(ax, [s[0] for s in steps], [s[1] for s in steps], "From selected code to dataset")
    for i, (_, count, _) in enumerate(steps):
        ax.annotate(str(count), (count, i), xytext=(3, 0), textcoords="offset points", va="center")
    _save(fig, path)


def plot_mix(mix: Mix, path: Path) -> None:
    fig, axes = _figure(9.0, 3.4, cols=2)
    for ax, counts, title in (
        (axes[0], mix.task, "by task"),
        (axes[1], mix.language, "by language"),
    ):
        items = counts.most_common()
        _barh(ax, [k for k, _ in items], [v for _, v in items], f"Exported instances {title}")
    _save(fig, path)


def plot_acceptance(funnel: Funnel, path: Path) -> None:
    tasks = sorted(funnel.judged_by_task)
    rules = sorted(funnel.rule_answers)
    fig, axes = _figure(10.0, max(3.0, 0.28 * len(rules) + 1.2), cols=2)
    task_rates = [100 * funnel.accepted_by_task[t] / funnel.judged_by_task[t] for t in tasks]
    _barh(axes[0], tasks, task_rates, "Accepted by the judge (%)")
    rule_rates = [100 * funnel.rule_yes[k] / funnel.rule_answers[k] for k in rules]
    _barh(axes[1], [f"{t}: {r}" for t, r in rules], rule_rates, "Rule answered yes (%)")
    for ax in axes:
        ax.set_xlim(0, 100)
    _save(fig, path)


def plot_lengths(lens: Mapping[str, Mapping[str, Sequence[int]]], path: Path) -> None:
    """One histogram per field, stacked by task."""
    fig, axes = _figure(10.0, 3.2, cols=len(lens))
    for ax, (name, by_task) in zip(axes, lens.items(), strict=True):
        tasks = sorted(by_task)
        if tasks:
            ax.hist([list(by_task[t]) for t in tasks], bins=30, stacked=True, label=tasks)
        ax.set_title(f"{name} length", fontsize="medium")
        ax.set_xlabel("characters")
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("instances")
    if any(lens.values()):
        axes[-1].legend(fontsize="small")
    _save(fig, path)


def draw_all(
    folder: Path, *, funnel: Funnel, mix: Mix, lens: Mapping[str, Mapping[str, Sequence[int]]]
) -> list[str]:
    """Write every plot into `folder`; returns their file names."""
    plot_funnel(funnel, folder / "funnel.png")
    plot_mix(mix, folder / "mix.png")
    plot_acceptance(funnel, folder / "acceptance.png")
    plot_lengths(lens, folder / "lengths.png")
    return ["funnel.png", "mix.png", "acceptance.png", "lengths.png"]
