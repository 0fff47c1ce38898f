"""HumanEval+ in evalplus's release format (`HumanEvalPlus[-Mini].jsonl.gz`, v0.1.10).

Rows carry `base_input`, `plus_input` (lists of argument lists) and `atol`; they are kept in
`Problem.extra` as JSON text (`Problem.extra` holds strings), with evalplus's dataset name
(`evalplus_dataset`: `humaneval`, or `mbpp` for MBPP+, which reuses this loader), and parsed by
`wavecoder.evals.evalplus_rules`, which scores candidates by evalplus's rules. A row without them
(e.g. the OriginFmt file or a hub copy without inputs) is an error naming the file and task.
"""

from __future__ import annotations

import json
from pathlib import Path

from wavecoder.evals.benchmarks.sources import read_rows
from wavecoder.evals.types import Problem

_RELEASE_FILE = {"humaneval": "HumanEvalPlus.jsonl.gz", "mbpp": "MbppPlus.jsonl.gz"}


def load(path: Path, benchmark: str, dataset: str = "humaneval") -> list[Problem]:
    problems = []
    for row in read_rows(path):
        missing = [k for k in ("base_input", "plus_input", "entry_point") if k not in row]
        if missing:
            raise ValueError(
                f"{path}: {row.get('task_id', '?')} lacks {', '.join(missing)}; "
                f"{benchmark} needs evalplus's release file ({_RELEASE_FILE[dataset]})"
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
                    "evalplus_dataset": dataset,
                },
            )
        )
    return problems


def program(problem: Problem, completion: str) -> str:
    """The solution evalplus runs: prompt + completion (the tests live in the harness).

    MBPP+ prompts are a docstring without a final newline; a completion that does not start on
    a new line gets one (evalplus would report a SyntaxError: `def` right after the quotes)."""
    prompt = problem.prompt
    if prompt and not prompt.endswith("\n") and not completion.startswith("\n"):
        prompt += "\n"
    return prompt + completion
