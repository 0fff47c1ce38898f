"""The export report: from selected code to accepted instance, as Markdown with PNG plots.

`report.md` in the export folder's `report/` holds: the funnel with every drop reason, the task
and language mix of the exported instances, the judge's acceptance by task and by rule, the
judge against execution (when `verify` ran: `agreement.lines`), length statistics, requests,
tokens and cost per stage and per exported instance (from the `usage` block of the generate,
judge and verify stats), and decontamination with the leakage report (read from the
decontaminate stage's files, `report_leakage`). Every figure comes from the same `Funnel` the
export stage writes to its `stats.json`, so the two cannot disagree. Not here: the plots'
drawing (`report_plots`), the dataset card (`card`).
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wavecoder.instruct.export_rows import Funnel, Instance, alpaca_input
from wavecoder.store import atomic_path

if TYPE_CHECKING:
    from wavecoder.instruct.report_leakage import Decontamination

USAGE_KEYS = ("requests", "cache_hits", "prompt_tokens", "completion_tokens", "cost_usd")
LLM_STAGES = ("generate", "judge")


@dataclass(frozen=True)
class Mix:
    """The exported instances by task, by (source) language and by translation target."""

    task: Counter[str]
    language: Counter[str]
    target: Counter[str]

    @classmethod
    def of(cls, instances: Sequence[Instance]) -> Mix:
        exs = [i.example for i in instances]
        return cls(
            task=Counter(e.task for e in exs),
            language=Counter(e.language for e in exs),
            target=Counter(e.target_language for e in exs if e.target_language),
        )


def lengths(instances: Sequence[Instance]) -> dict[str, list[int]]:
    """Characters of instruction, input and output per exported instance."""
    exs = [i.example for i in instances]
    return {
        "instruction": [len(e.instruction) for e in exs],
        "input": [len(alpaca_input(e.information)) for e in exs],
        "output": [len(e.solution) for e in exs],
    }


def lengths_by_task(instances: Sequence[Instance]) -> dict[str, dict[str, list[int]]]:
    """`lengths` split by task: field -> task -> characters."""
    out: dict[str, dict[str, list[int]]] = {"instruction": {}, "input": {}, "output": {}}
    for inst in instances:
        for name, xs in lengths([inst]).items():
            out[name].setdefault(inst.example.task, []).extend(xs)
    return out


def rate(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    """A GitHub-flavoured Markdown table."""
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return out


def funnel_rows(funnel: Funnel) -> list[tuple[str, int, int | str, str]]:
    """(step, count, lost on the way to it, the reasons with their counts)."""
    rows: list[tuple[str, int, int | str, str]] = []
    for label, count, stage in funnel.steps():
        if not stage:
            rows.append((label, count, "", ""))
            continue
        reasons = funnel.drops[stage]
        detail = ", ".join(f"`{r}` {n}" for r, n in sorted(reasons.items(), key=lambda x: -x[1]))
        rows.append((label, count, sum(reasons.values()), detail or "-"))
    return rows


def usage_rows(usage: Mapping[str, Mapping[str, Any] | None], exported: int) -> list[list[str]]:
    """Per LLM stage and in total: requests, cache hits, tokens, cost; then per instance. A
    stage without a price has no cost: the total then says it is partial."""
    rows: list[list[str]] = []
    total = dict.fromkeys(USAGE_KEYS[:4], 0)
    costs: list[float | None] = []
    for stage in [*LLM_STAGES, *(s for s in usage if s not in LLM_STAGES)]:  # + verify's writer
        u = usage.get(stage) or {}
        costs.append(None if u.get("cost_usd") is None else float(u["cost_usd"]))
        for key in total:
            total[key] += int(u.get(key) or 0)
        rows.append([stage, *(_num(u.get(k)) for k in total), _usd(costs[-1])])
    known = [c for c in costs if c is not None]
    cost = sum(known) if known else None
    partial = " (partial)" if known and len(known) < len(costs) else ""
    rows.append(["total", *(_num(v) for v in total.values()), _usd(cost) + partial])
    per = [f"{v / exported:,.1f}" if exported else "-" for v in total.values()]
    per_cost = _usd(cost / exported, 5) if cost is not None and not partial and exported else "-"
    rows.append(["per exported instance", *per, per_cost])
    return rows


def _num(x: Any) -> str:
    return "-" if x is None else f"{int(x):,}"


def _usd(x: Any, digits: int = 4) -> str:
    return "-" if x is None else f"${float(x):.{digits}f}"


def length_rows(lens: Mapping[str, list[int]]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for name, xs in lens.items():
        if not xs:
            rows.append((name, "-", "-", "-", "-", "-"))
            continue
        q = sorted(xs)
        p90 = q[min(len(q) - 1, int(0.9 * len(q)))]
        rows.append(
            (
                name,
                str(min(q)),
                f"{statistics.mean(q):.0f}",
                f"{statistics.median(q):.0f}",
                str(p90),
                str(max(q)),
            )
        )
    return rows


def acceptance_rows(funnel: Funnel) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
    by_task: list[tuple[str, ...]] = [
        (t, str(n), str(funnel.accepted_by_task[t]), rate(funnel.accepted_by_task[t], n))
        for t, n in sorted(funnel.judged_by_task.items())
    ]
    by_rule: list[tuple[str, ...]] = [
        (t, f"`{r}`", str(n), str(n - funnel.rule_yes[(t, r)]), rate(funnel.rule_yes[(t, r)], n))
        for (t, r), n in sorted(funnel.rule_answers.items())
    ]
    return by_task, by_rule


def render(
    funnel: Funnel,
    instances: Sequence[Instance],
    usage: Mapping[str, Mapping[str, Any] | None],
    plots: Sequence[str] = (),
    decontamination: Decontamination | None = None,
    agreement: Mapping[str, Any] | None = None,
) -> str:
    """The report as Markdown; `plots` are PNG names beside it, shown where they belong;
    `agreement`: the judge against execution (`verify`), when it ran."""
    mix = Mix.of(instances)
    n = len(instances)
    lines = ["# Instruction data report", ""]
    lines += [f"{n} instances exported from {funnel.selected} selected code snippets.", ""]
    lines += ["## Funnel", ""]
    lines += table(("step", "count", "lost", "reasons"), funnel_rows(funnel))
    lines += ["", f"Judged: {funnel.judged} of {funnel.examples} generated instances.", ""]
    lines += _img("funnel.png", plots)
    lines += ["## Task and language mix", ""]
    lines += table(("task", "instances", "share"), _shares(mix.task, n))
    lines += [""]
    lines += table(("language", "instances", "share"), _shares(mix.language, n))
    if mix.target:
        lines += ["", "Translation targets:", ""]
        lines += table(("target language", "instances", "share"), _shares(mix.target, n))
    lines += ["", *_img("mix.png", plots)]
    by_task, by_rule = acceptance_rows(funnel)
    lines += ["## Acceptance by the judge", ""]
    lines += table(("task", "judged", "accepted", "rate"), by_task)
    lines += ["", "By rule (an instance is accepted only when every rule says yes):", ""]
    lines += table(("task", "rule", "answered", "no", "yes rate"), by_rule)
    lines += ["", *_img("acceptance.png", plots)]
    if agreement is not None:
        from wavecoder.instruct.agreement import lines as agreement_lines

        lines += agreement_lines(dict(agreement))
    lines += ["## Lengths (characters)", ""]
    lines += table(
        ("field", "min", "mean", "median", "p90", "max"), length_rows(lengths(instances))
    )
    lines += ["", *_img("lengths.png", plots)]
    lines += ["## Requests, tokens and cost", ""]
    header = ("stage", "requests", "cache hits", "prompt tokens", "completion tokens", "cost")
    lines += table(header, usage_rows(usage, n))
    lines += ["", "Cost is `-` where no price is configured for the model (docs/llm.md).", ""]
    lines += leakage_section(decontamination, plots)
    return "\n".join(lines).rstrip("\n") + "\n"


def leakage_section(decon: Decontamination | None, plots: Sequence[str]) -> list[str]:
    """Decontamination counts and the leakage report, from the decontaminate stage's files;
    nothing when the report is rendered without them (`report_leakage`)."""
    if decon is None:
        return []
    from wavecoder.instruct.report_leakage import section

    return section(decon, plots)


def _shares(counts: Counter[str], n: int) -> list[tuple[str, str, str]]:
    return [(k, str(v), rate(v, n)) for k, v in counts.most_common()]


def _img(name: str, plots: Sequence[str]) -> list[str]:
    return [f"![{name[:-4]}]({name})", ""] if name in plots else []


def write_report(
    folder: Path,
    *,
    funnel: Funnel,
    instances: Sequence[Instance],
    usage: Mapping[str, Mapping[str, Any] | None],
    plots: bool = True,
    decontaminate: Path | None = None,
    agreement: Mapping[str, Any] | None = None,
) -> Path:
    """`folder/report.md` and, with `plots`, its PNGs beside it; returns the report's path.
    `decontaminate`: that stage's folder, for the decontamination and leakage section."""
    from wavecoder.instruct.report_leakage import copy_plot, load

    names: list[str] = []
    decon = load(decontaminate)
    if plots:
        from wavecoder.instruct.report_plots import draw_all

        mix, lens = Mix.of(instances), lengths_by_task(instances)
        names = draw_all(folder, funnel=funnel, mix=mix, lens=lens)
        names += copy_plot(decon, folder)
    path = folder / "report.md"
    with atomic_path(path) as tmp:
        text = render(funnel, instances, usage, names, decon, agreement)
        tmp.write_text(text, encoding="utf-8")
    return path
