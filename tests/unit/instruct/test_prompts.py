"""Generator and judge prompts per task, rendered against stored expected files.

A changed prompt file shows up here as a diff to review; regenerate the expected files with
`WAVECODER_UPDATE_EXPECTED=1 pytest tests/unit/instruct/test_prompts.py` after checking it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from wavecoder.instruct import render
from wavecoder.instruct.bugs import inject_bug
from wavecoder.instruct.pools import Pools, seed_cases
from wavecoder.instruct.task import Unit
from wavecoder.instruct.tasks import TASKS, spec_for
from wavecoder.records import Code

EXPECTED = Path(__file__).resolve().parents[2] / "fixtures" / "instruct" / "prompts"
CODE = Code.new(language="python", source="test", path="m.py", span=(1, 5),
                code="def mean(xs):\n    if len(xs) == 0:\n        return 0.0\n"
                     "    return sum(xs) / len(xs)\n")  # fmt: skip


def _unit(task: str) -> Unit:
    if task == "translate":
        return Unit(CODE, "translate", 0, target_language="go")
    if task == "repair":
        return Unit(CODE, "repair", 0, bug=inject_bug(CODE.code, "python", seed=1, key=CODE.id))
    return Unit(CODE, task, 0)  # type: ignore[arg-type]


def _check(name: str, text: str) -> None:
    path = EXPECTED / name
    if os.environ.get("WAVECODER_UPDATE_EXPECTED"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"{name} changed; see the module docstring"


@pytest.mark.parametrize("fmt", ["text", "json"])
@pytest.mark.parametrize("task", sorted(TASKS))
def test_generator_prompt(task: str, fmt: str) -> None:
    pools = Pools(seed_cases())
    spec = spec_for(task)  # type: ignore[arg-type]
    good, bad = pools.cases(task, True)[:1], pools.cases(task, False)[:1]
    text = render.generator_prompt(spec, _unit(task), good=good, bad=bad, fmt=fmt, verdict_fmt=fmt)
    _check(f"generate-{task}.{fmt}.txt", text)
    lines = text.splitlines()
    order = [lines.index(x) for x in ("Requirements:", "Good case 1:", "Bad case 1:")]
    order.append(len(lines) - 1 - lines[::-1].index("Input:"))  # the raw code comes last
    assert order == sorted(order) and lines[-1] == "Output:"
    assert "Here are some bad cases" in text and "$" not in text.replace("$ ", "")


@pytest.mark.parametrize("fmt", ["text", "json"])
@pytest.mark.parametrize("task", sorted(TASKS))
def test_judge_prompt(task: str, fmt: str) -> None:
    pools = Pools(seed_cases())
    spec = spec_for(task)  # type: ignore[arg-type]
    case = pools.cases(task, True)[0].case
    text = render.judge_prompt(spec, _unit(task), case, good=[], bad=pools.cases(task, False)[:1],
                               fmt=fmt, verdict_fmt=fmt)  # fmt: skip
    _check(f"judge-{task}.{fmt}.txt", text)
    assert text.rstrip().endswith("Analysis:")
    for rule in spec.rules:
        assert f"[{rule}]" in text


def test_generator_written_bugs_show_the_correct_code() -> None:
    spec = spec_for("repair", repair_bugs="generator")
    text = render.generator_prompt(spec, Unit(CODE, "repair", 0), good=[], bad=[], fmt="text",
                                   verdict_fmt="text")  # fmt: skip
    assert "exactly one realistic bug" in text and CODE.code.strip() in text
