"""MBPP: the original test split (task ids 11-510) and the sanitized split (its test-range tasks).

The completion is a whole program (not a continuation of the prompt). Program: completion, then
`test_setup_code` (full) or `test_imports` (sanitized), then the asserts of `test_list`. The prompt
holds the problem text and its asserts, as the WaveCoder repository builds it.
"""

from __future__ import annotations

from pathlib import Path

from wavecoder.evals.benchmarks.sources import read_rows
from wavecoder.evals.types import Problem

TEST_IDS = range(11, 511)


def load(path: Path, benchmark: str) -> list[Problem]:
    sanitized = benchmark == "mbpp-sanitized"
    problems = []
    for row in read_rows(path):
        if int(row["task_id"]) not in TEST_IDS:
            continue
        text = row["prompt"] if sanitized else row["text"]
        setup = (
            "\n".join(row.get("test_imports", [])) if sanitized else row.get("test_setup_code", "")
        )
        tests = "\n".join(row["test_list"])
        problems.append(
            Problem(
                task_id=f"Mbpp/{row['task_id']}",
                benchmark=benchmark,
                language="python",
                prompt=text,
                test=tests,
                canonical_solution=row["code"].replace("\r\n", "\n"),
                extra={"test_setup": setup},
            )
        )
    return problems


def program(problem: Problem, completion: str) -> str:
    return f"{completion}\n{problem.extra.get('test_setup', '')}\n{problem.test}\n"


def prompt_text(problem: Problem) -> str:
    """The instruction: problem text plus the asserts the code must pass."""
    return f"{problem.prompt}\nYour code should pass these tests:\n\n{problem.test}\n"
