"""HumanEval+ in evalplus's release format (`HumanEvalPlus[-Mini].jsonl.gz`, v0.1.10).

Rows carry `base_input`, `plus_input` (lists of argument lists) and `atol`; they are kept in
`Problem.extra` as JSON text (`Problem.extra` holds strings) and parsed by
`wavecoder.evals.evalplus_rules`, which scores candidates by evalplus's rules. A row without them
(e.g. the OriginFmt file or a hub copy without inputs) is an error naming the file and task.
"""

from __future__ import annotations

import json
from pathlib import Path

from wavecoder.evals.benchmarks.sources import read_rows
from wavecoder.evals.types import Problem


def load(path: Path, benchmark: str) -> list[Problem]:
    problems = []
    for row in read_rows(path):
        missing = [k for k in ("base_input", "plus_input", "entry_point") if k not in row]
        if missing:
            raise ValueError(
                f"{path}: {row.get('task_id', '?')} lacks {', '.join(missing)}; "
                "HumanEval+ needs evalplus's release file (HumanEvalPlus.jsonl.gz)"
            )
        problems.append(
            Problem(
                task_id=row["task_id"],
                benchmark=benchmark,
                language="python",
                prompt=row["prompt"],
                test="",
                entry_point=row["entry_point"],
                canonical_solution=row["canonical_solution"],
                extra={
                    "base_input": json.dumps(row["base_input"]),
                    "plus_input": json.dumps(row["plus_input"]),
                    "atol": str(row.get("atol") or 0),
                },
            )
        )
    return problems


def program(problem: Problem, completion: str) -> str:
    """The solution file evalplus runs: prompt + completion (the tests live in the harness)."""
    return problem.prompt + completion
