"""Code summarization (code to text): the instruction asks to document the code, `information`
holds the code, the solution is the documentation (reference §5: the teacher's description is
reformatted into an instance)."""

from __future__ import annotations

from wavecoder.instruct.task import TaskSpec
from wavecoder.instruct.tasks.generate import render_input

SPEC = TaskSpec(
    name="summarize",
    title="code summarization",
    prompt="summarize.txt",
    judge_prompt="judge-summarize.txt",
    information="code",
    render_input=render_input,
)
