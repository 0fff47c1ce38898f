"""Prompt formats for the model under evaluation, and post-processing of its replies.

Formats (recorded in every summary): `alpaca` (the paper's fine-tuning template, imported from
`wavecoder.train.formatting` so training and evaluation cannot drift apart), `magicoder`
(`@@ Instruction` / `@@ Response`, used by the WaveCoder authors for HumanEval), `chat` (the
model's chat template: one user message), `completion` (base models: the raw prompt), `instruct`
(bigcode's HumanEvalPack style: the instruction, then the prompt prefix to continue).
HumanEvalPack Explain's stage 2 instruction is the description (in `Problem.extra`) followed by
the harness's sentence; stage 1's prompt lives in `wavecoder.evals.explain`.

Post-processing (`to_completion`): a base model's reply (`completion` format) continues the
benchmark's prefix: drop the prefix when the model repeated it, and cut at the end of the first
function (stop sequences per language). Every other format, and MBPP in any format, is read as a
whole program (`solution`) by `wavecoder.evals.sanitize`, as evalplus does: a syntax tree, never
a split of the reply at a line of the prompt.
"""

from __future__ import annotations

from typing import Literal

from wavecoder.evals.benchmarks import Benchmark, humanevalpack, mbpp
from wavecoder.evals.types import Completion, Problem

PromptFormat = Literal["alpaca", "magicoder", "chat", "completion", "instruct"]
PROMPT_FORMATS: tuple[PromptFormat, ...] = ("alpaca", "magicoder", "chat", "completion", "instruct")

STOP: dict[str, tuple[str, ...]] = {
    "python": ("\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\n#", "\nassert "),
    "javascript": ("\n}\n",),
    "java": ("\n    }\n}",),
    "cpp": ("\n}\n",),
    "go": ("\n}\n",),
    "rust": ("\n}\n",),
}
LANG_NAME = {
    "python": "Python",
    "javascript": "JavaScript",
    "java": "Java",
    "cpp": "C++",
    "go": "Go",
    "rust": "Rust",
}


def instruction(bench: Benchmark, problem: Problem) -> str:
    """The task as an instruction (for alpaca / magicoder / chat / instruct)."""
    if bench.task == "whole":  # MBPP
        return mbpp.prompt_text(problem)
    lang = LANG_NAME[problem.language]
    if bench.task == "fix":
        buggy = problem.extra["declaration"] + problem.buggy_solution
        return f"{buggy}\n{problem.test}\nFix bugs in {problem.entry_point}."
    if bench.task == "explain":
        return explain_instruction(problem)
    text = (
        problem.extra.get("instruction") or f"Complete the following {lang} code:\n{problem.prompt}"
    )
    return text


def explain_instruction(problem: Problem) -> str:
    """HumanEvalPack Explain stage 2: the description, then the harness's sentence."""
    if "description" not in problem.extra:
        raise ValueError(
            f"{problem.task_id}: HumanEvalPack Explain stage 2 needs a description "
            "(run stage 1, or pass a descriptions file)"
        )
    lang = LANG_NAME[problem.language]
    description = problem.extra["description"]
    return f"{description}\nWrite functional code in {lang} according to the description."


def prefix(bench: Benchmark, problem: Problem) -> str:
    if bench.task == "whole":
        return ""
    if bench.name.startswith("humanevalpack"):
        return humanevalpack.prefix(problem, bench.task)
    return problem.prompt


def render(fmt: PromptFormat, bench: Benchmark, problem: Problem) -> str:
    """The text sent to a completion endpoint (chat uses `messages` instead)."""
    from wavecoder.train.formatting import alpaca_prompt, magicoder_prompt

    if fmt == "completion":
        return prefix(bench, problem) or mbpp.prompt_text(problem)
    if fmt == "alpaca":
        return alpaca_prompt(instruction(bench, problem))
    if fmt == "magicoder":
        return magicoder_prompt(instruction(bench, problem))
    # instruct / chat: the instruction, then the code to continue (bigcode's "instruct" prompt)
    return f"{instruction(bench, problem)}\n{prefix(bench, problem)}".rstrip() + "\n"


def continuation(bench: Benchmark, problem: Problem, reply: str) -> str:
    """The continuation of `prefix` in a `completion`-format reply, cut at the first stop."""
    code = reply
    head = prefix(bench, problem)
    if head.strip() and head.strip() in code:  # the model repeated the prompt
        code = code.split(head.strip(), 1)[1].lstrip("\n")
    return truncate(code, problem.language)


def to_completion(
    fmt: PromptFormat, bench: Benchmark, problem: Problem, reply: str, index: int
) -> Completion:
    """One reply as a sample: a continuation (base models) or a whole program (all others).

    Instruction-following replies and MBPP programs become `solution` through
    `wavecoder.evals.sanitize` (evalplus's rules: code block, imports, the entry point and what
    it calls); a base model's continuation of a HumanEval-style prompt becomes `completion`.
    """
    from wavecoder.evals.sanitize import sanitize

    if fmt == "completion" and bench.task != "whole":
        return Completion(problem.task_id, index, continuation(bench, problem, reply), raw=reply)
    whole = sanitize(
        reply,
        problem.language,
        entry_point=problem.entry_point,
        prefix=prefix(bench, problem),
        test=problem.test if bench.task == "whole" else "",
    )
    return Completion(problem.task_id, index, "", raw=reply, solution=whole)


def truncate(code: str, language: str) -> str:
    """Cut at the first stop sequence (keeping a closing brace for brace languages)."""
    cut = len(code)
    for stop in STOP.get(language, ()):
        at = code.find(stop)
        if at != -1:
            keep = at + stop.rfind("}") + 1 if "}" in stop else at
            cut = min(cut, keep)
    return code[:cut].rstrip() + "\n"
