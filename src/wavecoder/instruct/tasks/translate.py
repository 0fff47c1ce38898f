"""Code translation (code to code): `information` holds the source code, the solution is the same
program in the target language, which the unit carries (drawn per code from a configurable set,
never the source language; `task.pick_target`)."""

from __future__ import annotations

from wavecoder.instruct.task import TaskSpec, Unit, fence


def render_input(unit: Unit) -> str:
    source = unit.code.language
    return (
        f"Source language: {source}\nTarget language: {unit.target_language}\n"
        f"{fence(unit.code.code, source)}"
    )


SPEC = TaskSpec(
    name="translate",
    title="code translation",
    prompt="translate.txt",
    judge_prompt="judge-translate.txt",
    information="code",
    render_input=render_input,
)
