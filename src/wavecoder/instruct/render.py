"""Render the generator and discriminator prompts from the task's prompt files (pure).

Generator prompt, in the paper's order (reference §3.3): task definition, output keys, the
numbered requirements, good cases, bad cases (each with its analysis and the instruction not to
produce data like them), then `Input:` and `Output:`. The prompt files hold the task's own text
with `$format`, `$good_cases`, `$bad_cases` and `$input` slots (`string.Template`, so braces in
code need no escaping and a missing slot is an error). Judge prompt, in the repository's
layout (§4.4): the rules, the sampled cases, the candidate (`Input:` / `Output:`), `Analysis:`.
Cases are written in the run's output format (`key: value` lines or JSON), analyses in the
verdict format. Not here: which cases (`pools.py`), sending (`loop.py`).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from string import Template

from wavecoder.instruct.parsing import Case
from wavecoder.instruct.pools import PoolCase
from wavecoder.instruct.task import TaskSpec, Unit, prompt_text
from wavecoder.instruct.verdict import render_verdict

#: The repository's system message for both roles.
SYSTEM = "You are an AI assistant that helps people find information."
_GOOD = "\nHere are some good cases:\n"
_BAD = (
    "\nHere are some bad cases. Each comes with an <Analysis> that says why it is bad; "
    "do not write data like them:\n"
)


def render_output(case: Case, fmt: str) -> str:
    if fmt != "text":
        return json.dumps(case.to_dict(), ensure_ascii=False, indent=2)
    info = case.information
    info = f"\n{info}" if "\n" in info else f" {info}"  # code goes on the lines below its key
    return (
        f"task_name: {case.task_name}\ninstruction: {case.instruction}\n"
        f"information:{info}\nsolution:\n{case.solution}"
    )


@functools.lru_cache(maxsize=8192)  # pool cases recur in many prompts; rendering is pure
def render_case(label: str, c: PoolCase, *, fmt: str, verdict_fmt: str) -> str:
    return (
        f"{label}:\nInput:\n{c.input}\nOutput:\n{render_output(c.case, fmt)}\n"
        f"Analysis:\n{render_verdict(c.verdict, verdict_fmt)}\n"
    )


def _block(
    header: str, label: str, cases: Sequence[PoolCase], *, fmt: str, verdict_fmt: str
) -> str:
    if not cases:
        return ""
    body = "".join(
        render_case(f"{label} {i}", c, fmt=fmt, verdict_fmt=verdict_fmt)
        for i, c in enumerate(cases, 1)
    )
    return header + body


def format_note(fmt: str) -> str:
    return prompt_text("format-text.txt" if fmt == "text" else "format-json.txt").strip()


def verdict_note(fmt: str) -> str:
    return prompt_text("verdict-text.txt" if fmt == "text" else "verdict-json.txt").strip()


def generator_prompt(
    spec: TaskSpec,
    unit: Unit,
    *,
    good: Sequence[PoolCase],
    bad: Sequence[PoolCase],
    fmt: str,
    verdict_fmt: str,
) -> str:
    return Template(prompt_text(spec.prompt)).substitute(
        format=format_note(fmt),
        good_cases=_block(_GOOD, "Good case", good, fmt=fmt, verdict_fmt=verdict_fmt),
        bad_cases=_block(_BAD, "Bad case", bad, fmt=fmt, verdict_fmt=verdict_fmt),
        input=spec.render_input(unit),
    )


def judge_input(spec: TaskSpec, unit: Unit, case: Case) -> str:
    render = spec.render_judge_input
    return render(unit, case) if render is not None else spec.render_input(unit)


def judge_prompt(
    spec: TaskSpec,
    unit: Unit,
    case: Case,
    *,
    good: Sequence[PoolCase],
    bad: Sequence[PoolCase],
    fmt: str,
    verdict_fmt: str,
) -> str:
    cases = _block(_BAD, "Bad case", bad, fmt=fmt, verdict_fmt=verdict_fmt)
    cases += _block(_GOOD, "Good case", good, fmt=fmt, verdict_fmt=verdict_fmt)
    return Template(prompt_text(spec.judge_prompt)).substitute(
        format=verdict_note(verdict_fmt),
        target_language=unit.target_language or "",
        cases=cases.strip("\n"),
        input=judge_input(spec, unit, case),
        output=render_output(case, fmt),
    )
