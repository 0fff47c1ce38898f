"""The four instruction tasks: their prompt files, their judge rules, and the per-code choices.

A task is a small value (`TaskSpec`) built by its module under `tasks/`: the generator prompt
file, the discriminator prompt file (whose `[rule_id]` lines are the task's rule list), what the
`information` field holds (prose or code, for the pre-filter) and how the raw input is shown.
The choices made for one raw code (`Unit`: which task, which translation target, which bug) are
pure functions of the run seed and the code id, so a rerun, a resumed run and a run with another
concurrency make the same choices. Not here: rendering whole prompts (`render.py`), calling a
model (`loop.py`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Literal

from wavecoder.records import Code, Language, Task, stable_hash

if TYPE_CHECKING:
    from wavecoder.instruct.bugs import Bug
    from wavecoder.instruct.parsing import Case

OutputFormat = Literal["text", "json", "json_schema"]
Information = Literal["prose", "code"]

#: The paper's final mix (v5 Table 1: 57.1 / 15.8 / 15.8 / 11.2 %), in percent.
PAPER_MIX: dict[str, float] = {
    "generate": 57.0,
    "summarize": 16.0,
    "repair": 16.0,
    "translate": 11.0,
}
#: Translation targets by default: the six languages HumanEvalPack evaluates.
DEFAULT_TARGETS: tuple[Language, ...] = ("python", "javascript", "java", "go", "cpp", "rust")

_RULE = re.compile(r"^\s*\d+\.\s*\[([a-z_][a-z0-9_]*)\]", re.M)


@functools.cache
def prompt_text(name: str) -> str:
    """A prompt file shipped in `wavecoder/instruct/prompts/`."""
    return (resources.files("wavecoder.instruct") / "prompts" / name).read_text(encoding="utf-8")


@dataclass(frozen=True)
class Unit:
    """One raw code and what the generator is asked to do with it."""

    code: Code
    task: Task
    round: int
    target_language: Language | None = None
    bug: Bug | None = None

    @property
    def example_id(self) -> str:
        return stable_hash("example", self.code.id, self.task, self.target_language, self.round)

    @property
    def shown_code(self) -> str:
        """The code the generator sees: the buggy version for repair with an injected bug."""
        return self.bug.buggy_code if self.bug is not None else self.code.code


@dataclass(frozen=True)
class TaskSpec:
    name: Task
    title: str  # as the paper names it: "code generation"
    prompt: str  # generator prompt file
    judge_prompt: str  # discriminator prompt file; its `[rule_id]` lines are the rules
    information: Information  # what the `information` field holds (the pre-filter checks it)
    render_input: Callable[[Unit], str]  # the `Input:` block of the generator prompt
    #: the `Input:` block of the judge prompt (None: as `render_input`); gets the parsed case
    render_judge_input: Callable[[Unit, Case], str] | None = None

    @property
    def rules(self) -> tuple[str, ...]:
        return _rules(self.judge_prompt)

    def prompt_version(self, output_format: str) -> str:
        """A short hash of every prompt file the task's generator and judge prompts use."""
        files = (self.prompt, self.judge_prompt, _format_file(output_format),
                 _verdict_file(output_format))  # fmt: skip
        return f"{self.name}-{_files_hash(files)}"


@functools.cache
def _rules(judge_prompt: str) -> tuple[str, ...]:
    return tuple(_RULE.findall(prompt_text(judge_prompt)))


@functools.cache
def _files_hash(files: tuple[str, ...]) -> str:
    return stable_hash(*(prompt_text(f) for f in files), length=8)


def _format_file(output_format: str) -> str:
    return "format-text.txt" if output_format == "text" else "format-json.txt"


def _verdict_file(verdict_format: str) -> str:
    return "verdict-text.txt" if verdict_format == "text" else "verdict-json.txt"


def fence(code: str, language: str) -> str:
    return f"```{language}\n{code.rstrip()}\n```"


def unit_fraction(*parts: object) -> float:
    """A number in [0, 1) drawn from the hash of `parts` (stable across runs and machines)."""
    return int(stable_hash(*parts, length=15), 16) / 16**15


def assign_task(seed: int, code_id: str, mix: Mapping[str, float]) -> Task:
    """The task of one raw code: a draw from `mix` (weights) keyed by (seed, code id)."""
    total = sum(mix.values())
    point = unit_fraction("task", seed, code_id) * total
    acc = 0.0
    names = sorted(mix)  # a fixed order, whatever order the config lists them in
    for name in names:
        acc += mix[name]
        if point < acc:
            return name  # type: ignore[return-value]
    return names[-1]  # type: ignore[return-value]


def pick_target(
    seed: int, code_id: str, source: Language, targets: Sequence[Language]
) -> Language | None:
    """A translation target other than the source, keyed by (seed, code id); None if none."""
    choices = sorted(set(targets) - {source})
    if not choices:
        return None
    return choices[int(unit_fraction("target", seed, code_id) * len(choices))]


def without(mix: Mapping[str, float], task: str) -> dict[str, float]:
    """The mix with one task taken out (for codes that cannot take that task)."""
    return {k: v for k, v in mix.items() if k != task and v > 0}
