"""Code repair (code to code): `information` holds buggy code, the solution is the fix.

By default the bug is injected into the raw code before the teacher sees it (`bugs.py`); the
generator then sees only the buggy code, and the judge also gets the original code as the
reference fix and the bug's location. With `repair_bugs: generator` the teacher gets the
correct code and writes the buggy version itself (`SPEC_WRITE_BUG`); the judge then compares
the instance's information against the original.
"""

from __future__ import annotations

from wavecoder.instruct.parsing import Case
from wavecoder.instruct.task import TaskSpec, Unit, fence


def render_input(unit: Unit) -> str:
    return f"Language: {unit.code.language}\n{fence(unit.shown_code, unit.code.language)}"


def render_judge_input(unit: Unit, case: Case) -> str:
    lang = unit.code.language
    where = ""
    if unit.bug is not None:
        where = f"\nThe bug put in: line {unit.bug.line}, {unit.bug.detail} ({unit.bug.kind})."
    return (
        f"{render_input(unit)}\nReference fix (the code before the bug was put in):\n"
        f"{fence(unit.code.code, lang)}{where}"
    )


def render_write_bug_judge_input(unit: Unit, case: Case) -> str:
    lang = unit.code.language
    return (
        f"Language: {lang}\n{fence(case.information, lang)}\n"
        f"Reference fix (the code before the bug was put in):\n{fence(unit.code.code, lang)}"
    )


SPEC = TaskSpec(
    name="repair",
    title="code repair",
    prompt="repair.txt",
    judge_prompt="judge-repair.txt",
    information="code",
    render_input=render_input,
    render_judge_input=render_judge_input,
)

SPEC_WRITE_BUG = TaskSpec(
    name="repair",
    title="code repair",
    prompt="repair-write-bug.txt",
    judge_prompt="judge-repair.txt",
    information="code",
    render_input=render_input,
    render_judge_input=render_write_bug_judge_input,
)
