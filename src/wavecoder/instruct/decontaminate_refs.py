"""The reference sets decontamination compares against: benchmark solutions, loaded once.

Every set comes through the benchmark loaders of `wavecoder.evals.benchmarks` (their pinned
sources, a `--data` folder, or the hub), so a problem here is the problem evaluation scores:

    humaneval, humanevalplus          prompt + canonical solution (164 each)
    mbpp, mbpp-sanitized              every split: prompt (1-10), test, validation and train rows
    mbppplus                          evalplus's MBPP+ (its loader when registered, else the
                                      shared folder's `mbppplus/MbppPlus-767efcc.jsonl.gz`)
    humanevalpack-<lang>              HumanEvalPack's prompt + canonical solution, six languages
    a user file                       JSON/JSONL(.gz)/Parquet rows with an id and a solution

A `Reference` holds the whole solution (`solution`: signature, docstring and body; what the
n-gram and embedding levels compare) and the part that is the answer proper (`body`: what the
exact level looks for). Not here: matching (`decontaminate_index`, `decontaminate_core`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wavecoder.records import Language, normalize_language

PACK_LANGUAGES = ("python", "js", "java", "go", "cpp", "rust")
REFERENCE_SETS: tuple[str, ...] = (
    "humaneval",
    "humanevalplus",
    "mbpp",
    "mbpp-sanitized",
    "mbppplus",
    *(f"humanevalpack-{d}" for d in PACK_LANGUAGES),
)
MBPPPLUS_FILE = "mbppplus/MbppPlus-767efcc.jsonl.gz"
_SOLUTION_KEYS = ("canonical_solution", "code", "solution", "output", "completion", "response")


@dataclass(frozen=True)
class Reference:
    benchmark: str
    problem_id: str
    language: Language
    solution: str
    body: str
    split: str = ""


def mbpp_split(task_id: int) -> str:
    """MBPP's official split of a task id (the README of the benchmark data folder)."""
    if task_id <= 10:
        return "prompt"
    if task_id <= 510:
        return "test"
    if task_id <= 600:
        return "validation"
    return "train"


def load_references(
    names: Sequence[str], *, data: Path | None = None, files: Sequence[Path] = ()
) -> list[Reference]:
    """The references of the named sets (see `REFERENCE_SETS`) and of each user file."""
    loaders: dict[str, Callable[[Path | None], list[Reference]]] = {
        "humaneval": lambda d: _humaneval_like("humaneval", d),
        "humanevalplus": lambda d: _humaneval_like("humanevalplus", d),
        "mbpp": lambda d: _mbpp_rows("mbpp", d),
        "mbpp-sanitized": lambda d: _mbpp_rows("mbpp-sanitized", d),
        "mbppplus": _mbppplus,
        **{f"humanevalpack-{lang}": _pack_loader(lang) for lang in PACK_LANGUAGES},
    }
    refs: list[Reference] = []
    for name in names:
        if name not in loaders:
            raise ValueError(f"unknown reference set {name!r}; known: {', '.join(REFERENCE_SETS)}")
        refs.extend(loaders[name](data))
    for path in files:
        refs.extend(load_reference_file(Path(path)))
    return refs


def _humaneval_like(name: str, data: Path | None) -> list[Reference]:
    from wavecoder.evals.benchmarks import load

    _, problems, _ = load(name, data)
    return [
        Reference(name, p.task_id, "python", p.prompt + p.canonical_solution, p.canonical_solution)
        for p in problems
    ]


def _pack_loader(lang: str) -> Callable[[Path | None], list[Reference]]:
    def load_pack(data: Path | None) -> list[Reference]:
        from wavecoder.evals.benchmarks import load

        _, problems, _ = load(f"humanevalpack-synthesize-{lang}", data)
        language = normalize_language(lang)
        return [
            Reference(
                f"humanevalpack-{lang}",
                p.task_id,
                language,
                p.prompt + p.canonical_solution,
                p.canonical_solution,
            )
            for p in problems
        ]

    return load_pack


def _mbpp_rows(name: str, data: Path | None) -> list[Reference]:
    """Every row of the MBPP file: the loader keeps the test split only, decontamination needs
    all of them (a train-split copy in training data is harmless, but users ask for the split)."""
    from wavecoder.evals.benchmarks import BENCHMARKS, resolve
    from wavecoder.evals.benchmarks.sources import read_rows

    path = resolve(BENCHMARKS[name].source, data)
    refs = []
    for row in read_rows(path):
        tid = int(row["task_id"])
        code = str(row["code"]).replace("\r\n", "\n")
        refs.append(Reference(name, f"Mbpp/{tid}", "python", code, code, mbpp_split(tid)))
    return refs


def _mbppplus(data: Path | None) -> list[Reference]:
    from wavecoder.evals import benchmarks

    if "mbppplus" in benchmarks.BENCHMARKS:
        _, problems, _ = benchmarks.load("mbppplus", data)
        rows = [
            {"task_id": p.task_id, "canonical_solution": p.canonical_solution} for p in problems
        ]
    else:
        from wavecoder.evals.benchmarks.sources import read_rows

        if data is None:
            raise FileNotFoundError(
                f"mbppplus: no registered loader and no benchmark folder; pass --data DIR "
                f"holding {MBPPPLUS_FILE}"
            )
        path = data / MBPPPLUS_FILE if data.is_dir() else data
        if not path.is_file():
            raise FileNotFoundError(f"benchmark file not found: {path}")
        rows = list(read_rows(path))
    return [
        Reference("mbppplus", str(r["task_id"]), "python", code, code)
        for r in rows
        if (code := str(r["canonical_solution"]))
    ]


def load_reference_file(path: Path) -> list[Reference]:
    """A user's reference file: rows with an id (`task_id`, `id`, else the row number), a
    solution (`canonical_solution` after an optional `prompt`, else `code`, `solution`,
    `output`, `completion` or `response`) and optionally a `language` (default python)."""
    from wavecoder.evals.benchmarks.sources import read_rows

    if not path.is_file():
        raise FileNotFoundError(f"reference file not found: {path}")
    name = path.name.split(".")[0]
    refs = []
    for i, row in enumerate(read_rows(path), 1):
        body, key = _solution(row)
        if not body:
            raise ValueError(
                f"{path}: row {i} has no solution field (one of {', '.join(_SOLUTION_KEYS)})"
            )
        prompt = str(row.get("prompt") or "") if key == "canonical_solution" else ""
        pid = str(row.get("task_id") or row.get("id") or f"{name}/{i}")
        lang = normalize_language(str(row.get("language") or "python"))
        refs.append(Reference(name, pid, lang, prompt + body, body))
    return refs


def _solution(row: dict[str, Any]) -> tuple[str, str]:
    for key in _SOLUTION_KEYS:
        value = row.get(key)
        if isinstance(value, str) and value.strip():
            return value, key
    return "", ""
