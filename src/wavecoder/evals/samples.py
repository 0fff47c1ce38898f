"""Read a samples file in any of the formats code-LLM evaluations publish, and check it.

- evalplus: JSON Lines with `task_id` and `solution` (the whole program, scored as it is);
- human-eval: JSON Lines with `task_id` and `completion` (scored as prompt + completion);
  a row with both uses `solution`, as evalplus does;
- bigcode-evaluation-harness: `generations.json`, a JSON list (one entry per problem, in the
  benchmark's order) of lists of programs (the harness's generations are whole programs).

`sample_index` and `raw` are read when present. Task ids may be the benchmark file's own integer
ids (MBPP's `11`, as `Mbpp/11`). `check_ids` refuses unknown ids (saying the expected form) and,
unless partial files are allowed, a file that leaves problems out (human-eval refuses those
too). Every input error names the file and line. Nothing runs here.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from wavecoder.evals.types import Completion, Problem


class SamplesError(ValueError):
    """A samples file that cannot be scored as it is (the message names file and line)."""


def read_samples(path: Path, problems: Sequence[Problem] = ()) -> list[Completion]:
    """Every sample of `path` (see the module docstring); `problems` orders a generations.json."""
    text = path.read_text(encoding="utf-8")
    if not text.strip():
        raise SamplesError(f"{path}: the samples file is empty")
    if text.lstrip().startswith("["):
        return _generations(path, text, problems)
    samples: list[Completion] = []
    seen: Counter[str] = Counter()
    keys: set[tuple[str, int]] = set()
    for lineno, line in enumerate(text.split("\n"), 1):
        if line.strip():
            sample = _row(path, lineno, line, seen)
            key = (sample.task_id, sample.sample_index)
            if key in keys:
                raise SamplesError(
                    f"{path}:{lineno}: a second sample {key[1]} of {key[0]} (sample_index "
                    "must be unique per task)"
                )
            keys.add(key)
            samples.append(sample)
    return samples


def _row(path: Path, lineno: int, line: str, seen: Counter[str]) -> Completion:
    where = f"{path}:{lineno}"
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise SamplesError(f"{where}: not JSON ({exc.msg})") from exc
    if not isinstance(row, dict) or "task_id" not in row:
        raise SamplesError(
            f"{where}: expected an object with 'task_id' and 'solution' or 'completion'"
        )
    task_id = _task_id(row["task_id"], where)
    field = "solution" if "solution" in row else "completion" if "completion" in row else ""
    if not field:
        raise SamplesError(
            f"{where}: no 'solution' (a whole program, evalplus) or 'completion' (continues the "
            "prompt, human-eval)"
        )
    code = row[field]
    if not isinstance(code, str):
        raise SamplesError(f"{where}: '{field}' must be a string, got {type(code).__name__}")
    index = row.get("sample_index", seen[task_id])
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise SamplesError(f"{where}: 'sample_index' must be an integer >= 0, got {index!r}")
    seen[task_id] += 1
    raw = row.get("raw", "")
    raw = raw if isinstance(raw, str) else json.dumps(raw)
    if field == "solution":
        return Completion(task_id, index, "", raw=raw, solution=code)
    return Completion(task_id, index, code, raw=raw)


def _task_id(value: Any, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise SamplesError(f"{where}: 'task_id' must be a string or an integer, got {value!r}")
    return str(value)


def _generations(path: Path, text: str, problems: Sequence[Problem]) -> list[Completion]:
    """bigcode-evaluation-harness's generations.json: [[program, ...], ...] in problem order."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SamplesError(f"{path}:{exc.lineno}: not JSON ({exc.msg})") from exc
    if not isinstance(data, list) or not all(isinstance(d, list) for d in data):
        raise SamplesError(
            f"{path}: a .json samples file must be a list of lists (generations.json)"
        )
    if len(data) > len(problems):
        raise SamplesError(
            f"{path}: {len(data)} problems of generations for a benchmark of {len(problems)}"
        )
    samples = []
    for problem, programs in zip(problems, data, strict=False):
        for i, program in enumerate(programs):
            if not isinstance(program, str):
                raise SamplesError(
                    f"{path}: generation {i} of {problem.task_id} must be a string, "
                    f"got {type(program).__name__}"
                )
            samples.append(Completion(problem.task_id, i, "", solution=program))
    if not samples:
        raise SamplesError(f"{path}: the samples file holds no generations")
    return samples


def normalize_ids(samples: list[Completion], problems: Sequence[Problem]) -> list[Completion]:
    """Map a file's own integer ids (`11`) to the benchmark's (`Mbpp/11`) where unambiguous."""
    known = {p.task_id for p in problems}
    by_number = {p.task_id.rpartition("/")[2]: p.task_id for p in problems if "/" in p.task_id}
    out = []
    for s in samples:
        if s.task_id not in known and s.task_id in by_number:
            s = replace(s, task_id=by_number[s.task_id])
        out.append(s)
    return out


def check_ids(
    path: Path, samples: Sequence[Completion], problems: Sequence[Problem], benchmark: str,
    *, allow_partial: bool
) -> list[str]:  # fmt: skip
    """Refuse unknown ids and (unless `allow_partial`) missing problems; the missing task ids."""
    known = [p.task_id for p in problems]
    unknown = sorted({s.task_id for s in samples} - set(known))
    if unknown:
        raise SamplesError(
            f"{path}: {len(unknown)} task id(s) not in {benchmark}: {', '.join(unknown[:5])}; "
            f"expected ids like {known[0]!r}"
            + (" (or its number)" if "/" in known[0] else "")
            + " - is --data the file of this benchmark?"
        )
    covered = {s.task_id for s in samples}
    missing = [t for t in known if t not in covered]
    if missing and not allow_partial:
        raise SamplesError(
            f"{path}: samples for {len(covered)} of {len(known)} problems of {benchmark} "
            f"(missing {', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''}); pass "
            "--allow-partial to score only these (pass@k then covers only them)"
        )
    return missing
