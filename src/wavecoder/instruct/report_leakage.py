"""The export report's section on benchmark decontamination and leakage (the paper's Figure 3).

Read from what the `decontaminate` stage wrote: `report.json` (the settings, counts per level
and every match, from which the instances per benchmark and level are counted) and
`leakage.json` + `leakage.png` (per benchmark, the nearest-neighbour cosine of each benchmark
solution to the training instances: mean and percentiles, with the embedding model named). The
PNG is copied beside `report.md`, so the report folder stands alone (and is what the hub gets).
When decontaminate wrote no report or ran without the embedding level, the section says so in
one line instead of leaving it out. Not here: computing any of it (`decontaminate`, `leakage`).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wavecoder.instruct.report import rate, table

LEVELS = ("exact", "ngram", "embedding")
PAPER_NOTE = (
    "The values depend on the embedding model: the paper (WaveCoder, Figure 3) measured a mean "
    "of 0.880 on HumanEval for its CodeOcean data against 0.944 for Magicoder-evol-codealpaca "
    "with GTE-Large (`thenlper/gte-large`). Compare a figure only with figures made by the same "
    "model; to reproduce the paper's scale, run decontaminate with "
    "`embedder.backend=sentence-transformers embedder.model=thenlper/gte-large`."
)
HASHING_NOTE = (
    "The `hashing` backend is a lexical measure fit on this data (references and instances "
    "together): its values are comparable with no other dataset's."
)


@dataclass(frozen=True)
class Decontamination:
    """What the decontaminate stage left for the report (None: the file is not there)."""

    report: Mapping[str, Any] | None
    leakage: Mapping[str, Any] | None
    png: Path | None


def load(folder: Path | None) -> Decontamination:
    """The decontaminate stage's report.json, leakage.json and leakage.png, where present."""
    if folder is None:
        return Decontamination(None, None, None)
    png = folder / "leakage.png"
    return Decontamination(
        _json(folder / "report.json"),
        _json(folder / "leakage.json"),
        png if png.is_file() else None,
    )


def _json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def copy_plot(decon: Decontamination, folder: Path) -> list[str]:
    """leakage.png beside the report; returns its name when there is one."""
    if decon.png is None or decon.leakage is None:
        return []
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(decon.png, folder / "leakage.png")
    return ["leakage.png"]


def counts_by_benchmark(matches: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, int]]:
    """benchmark -> level (and "any") -> distinct instances matched."""
    seen: dict[str, dict[str, set[str]]] = {}
    for m in matches:
        per = seen.setdefault(str(m["benchmark"]), {lv: set() for lv in (*LEVELS, "any")})
        per.setdefault(str(m["level"]), set()).add(str(m["id"]))
        per["any"].add(str(m["id"]))
    return {b: {k: len(v) for k, v in per.items()} for b, per in sorted(seen.items())}


def section(decon: Decontamination, plots: Sequence[str] = ()) -> list[str]:
    """The Markdown lines of the section (`plots`: the PNG names beside the report)."""
    lines = ["## Benchmark decontamination and leakage", ""]
    report = decon.report
    if report is None:
        return [*lines, _missing(decon), ""]
    cfg, levels = _settings(report)
    lines += [_summary(report, cfg, levels), ""]
    lines += table(("level", "instances (strictest level that matched)"), _by_level(report))
    lines += ["", "Instances matched, by benchmark and level (one instance may match several):", ""]
    by_bench = counts_by_benchmark(report.get("matches") or [])
    rows = [(b, *(str(c.get(lv, 0)) for lv in levels), str(c["any"])) for b, c in by_bench.items()]
    lines += table(("benchmark", *levels, "any"), rows) if rows else ["No match."]
    lines += ["", "### Leakage (the paper's Figure 3)", ""]
    lines += _leakage(decon.leakage, cfg, levels, plots)
    return lines


def card_lines(decon: Decontamination) -> list[str]:
    """The dataset card's short version: what was checked, what was dropped, the leakage means."""
    lines = ["## Benchmark decontamination", ""]
    report = decon.report
    if report is None:
        return [*lines, _missing(decon), ""]
    cfg, levels = _settings(report)
    by_level = ", ".join(f"{lv} {n}" for lv, n in (report.get("by_level") or {}).items())
    lines += [f"{_summary(report, cfg, levels)} By the strictest level: {by_level}.", ""]
    leakage = decon.leakage
    if leakage is None:
        return [*lines, "Leakage not measured (no embedding level).", ""]
    means = ", ".join(
        f"{name} {_f(b.get('mean'))} (max {_f(b.get('max'))})"
        for name, b in (leakage.get("benchmarks") or {}).items()
    )
    lines += [
        f"Leakage, the mean cosine of each benchmark solution to its nearest instance here "
        f"(embedded with `{leakage.get('embedder')}`; the paper's GTE-Large figures: 0.880 on "
        f"HumanEval for CodeOcean, 0.944 for Magicoder-evol-codealpaca; values are comparable "
        f"only under the same model): {means}. Details and the plot: `report/report.md`.",
        "",
    ]
    return lines


def _settings(report: Mapping[str, Any]) -> tuple[Mapping[str, Any], list[str]]:
    """The decontaminate settings the report recorded, and its levels."""
    cfg = report.get("config") or {}
    return cfg, list(cfg.get("levels") or LEVELS)


def _missing(decon: Decontamination) -> str:
    if decon.leakage is not None:  # a --report-only folder: leakage without decontamination
        return "decontaminate wrote no report.json: no decontamination counts."
    return (
        "Not measured: decontaminate wrote no report.json (it checked no accepted instance, or "
        "did not run), so neither the benchmark copies nor the leakage are known."
    )


def _summary(report: Mapping[str, Any], cfg: Mapping[str, Any], levels: list[str]) -> str:
    benchmarks = cfg.get("benchmarks") or []
    own = cfg.get("reference_files") or []
    refs = ", ".join(f"`{b}`" for b in [*benchmarks, *own]) or "no reference set"
    n, bad = int(report.get("items") or 0), int(report.get("contaminated") or 0)
    action = cfg.get("action", "drop")
    fate = "dropped" if action == "drop" else "flagged and kept (`action: flag`)"
    return (
        f"Checked {n} accepted instances against {refs} at the levels "
        f"{', '.join(f'`{lv}`' for lv in levels)}: {bad} ({rate(bad, n)}) matched a benchmark "
        f"solution and were {fate}. Every match is in `decontaminate/matches.jsonl`."
    )


def _by_level(report: Mapping[str, Any]) -> list[tuple[str, str]]:
    by_level = report.get("by_level") or {}
    return [(f"`{lv}`", str(by_level.get(lv, 0))) for lv in LEVELS]


def _leakage(
    leakage: Mapping[str, Any] | None,
    cfg: Mapping[str, Any],
    levels: list[str],
    plots: Sequence[str],
) -> list[str]:
    if leakage is None:
        if "embedding" not in levels:
            why = f"the embedding level is off (`decontaminate.levels: {levels}`)"
        elif cfg.get("leakage_report") is False:
            why = "`decontaminate.leakage_report` is false"
        else:
            why = "decontaminate wrote no leakage.json"
        return [f"Not measured: {why}.", ""]
    model = str(leakage.get("embedder", "?"))
    over = (
        f"the {leakage.get('instances')} instances decontaminate kept (of "
        f"{leakage.get('checked')} checked)"
        if leakage.get("over") == "kept"
        else f"all {leakage.get('instances')} instances checked"
    )
    lines = [
        f"For every benchmark problem, the cosine similarity of its solution to the nearest "
        f"training instance's code, over {over}, embedded with `{model}`.",
        "",
    ]
    lines += table(
        ("benchmark", "problems", "mean", "p10", "p25", "median", "p75", "p90", "max"),
        _leakage_rows(leakage),
    )
    before = _before_rows(leakage)
    if before:
        lines += ["", "Before decontamination's drops (every accepted instance):", ""]
        lines += table(("benchmark", "mean", "max"), before)
    elif leakage.get("over") == "kept" and leakage.get("instances") != leakage.get("checked"):
        lines += ["", "The drops changed no benchmark's mean or maximum."]
    note = PAPER_NOTE + (" " + HASHING_NOTE if model == "hashing" else "")
    lines += ["", note, ""]
    if "leakage.png" in plots:
        lines += ["![leakage](leakage.png)", ""]
    return lines


def _f(x: Any) -> str:
    return "-" if x is None else f"{float(x):.3f}"


def _leakage_rows(leakage: Mapping[str, Any]) -> list[tuple[str, ...]]:
    keys = ("mean", "p10", "p25", "median", "p75", "p90", "max")
    return [
        (name, str(b.get("problems", "-")), *(_f(b.get(k)) for k in keys))
        for name, b in (leakage.get("benchmarks") or {}).items()
    ]


def _before_rows(leakage: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    rows = []
    for name, b in (leakage.get("benchmarks") or {}).items():
        before = b.get("before_drops")
        if before and (before.get("mean"), before.get("max")) != (b.get("mean"), b.get("max")):
            rows.append((name, _f(before.get("mean")), _f(before.get("max"))))
    return rows
