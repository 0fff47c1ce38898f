"""Code generation (text to code): from raw code, an instruction to implement what it does and
the implementation (reference §3.3; the paper's one published prompt, raw-code variant of its
Figure 4). `information` is prose: inputs and constraints, or `<noinput>`."""

from __future__ import annotations

from wavecoder.instruct.task import TaskSpec, Unit, fence


def render_input(unit: Unit) -> str:
    return f"Language: {unit.code.language}\n{fence(unit.code.code, unit.code.language)}"


SPEC = TaskSpec(
    name="generate",
    title="code generation",
    prompt="generate.txt",
    judge_prompt="judge-generate.txt",
    information="prose",
    render_input=render_input,
)
