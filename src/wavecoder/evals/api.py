"""The evaluation library entry point: `evaluate()`, shared by `wavecoder eval` and the eval stage.

`evaluate` generates with a `wavecoder.llm` client into `out/samples.jsonl` (for HumanEvalPack
Explain: stage 1 into `out/descriptions.jsonl`, or the descriptions file given, then stage 2),
or takes an existing samples file (with the record of who generated it, `generation.json`, when
`eval generate` left one for it: `wavecoder.evals.provenance`); then, when `score` options are
given, runs every program in the sandbox and writes `out/results.jsonl` and `out/summary.json`.
It returns the summary (or a short record with `"scored": False`). It does not ask for consent
to run code: its callers check `--allow-code-execution` or the config; it does check that the
sandbox can isolate programs (`check_sandbox`), before any token is spent.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wavecoder.evals.generate import GenerateOptions
from wavecoder.evals.provenance import generated_by, generation_record, llm_counts, write_generation
from wavecoder.evals.sandbox import SandboxMode, namespaces_available
from wavecoder.evals.score import ScoreOptions
from wavecoder.evals.types import Completion, Problem

if TYPE_CHECKING:
    from wavecoder.evals.score_spread import Spread

log = logging.getLogger(__name__)
DEFAULT_GENERATE = GenerateOptions()


def check_sandbox(mode: SandboxMode) -> None:
    """RuntimeError when the namespaces sandbox cannot run here (`weak` is the caller's opt-in)."""
    if mode == "namespaces":
        reason = namespaces_available()
        if reason:
            raise RuntimeError(
                f"sandbox unavailable: {reason}; pass --sandbox weak to accept weaker isolation"
            )


def evaluate(
    benchmark: str,
    *,
    llm: object | None,
    out: Path,
    data: Path | None = None,
    gen: GenerateOptions = DEFAULT_GENERATE,
    score: ScoreOptions | None = None,
    limit: int = 0,
    samples: Path | None = None,
    descriptions: Path | None = None,
    progress: bool = True,
    allow_partial: bool = False,
    spread: Spread | None = None,
) -> dict[str, Any]:
    """Generate (unless `samples`), then score (when `score`); the summary dict. With `spread`
    (an executor's map) the programs run on its workers' sandboxes (`score_spread.py`).

    The summary records `gen.prompt_format`; for a given samples file it records it only when
    `gen` was passed explicitly (otherwise the format is unknown and recorded as ""). A samples
    file that leaves problems out is refused unless `allow_partial` (generating with a `limit`
    or from a descriptions file asks for that subset); a partial run says so in `partial`.
    """
    from wavecoder.evals.samples import check_ids, normalize_ids, read_samples

    if limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    if samples is not None and descriptions is not None:
        raise ValueError("give a samples file to score or a descriptions file to synthesize from")
    if score is not None:
        check_sandbox(score.mode)
    bench, problems, path = load_benchmark(benchmark, data)
    info: dict[str, Any] = {}
    if samples is None:
        if llm is None:
            raise ValueError(f"{bench.name}: an LLM client is needed to generate samples")
        run = _Generation(bench, problems, llm, out, gen, progress, limit)
        completions = _generate(run, descriptions, info)
        samples = out / "samples.jsonl"
        fmt: str = gen.prompt_format
        allow_partial = True  # the subset generated is the one asked for
    else:
        completions = normalize_ids(read_samples(samples, problems), problems)
        info.update(generated_by(samples))
        fmt = "" if gen is DEFAULT_GENERATE else gen.prompt_format
    missing = check_ids(samples, completions, problems, bench.name, allow_partial=allow_partial)
    info["problems_total"] = len(problems)
    if missing:
        info["partial"] = {
            "problems_scored": len(problems) - len(missing),
            "problems_missing": len(missing),
            "first_missing": missing[:5],
        }
        log.warning(
            "PARTIAL: %s samples cover %d of %d problems; pass@k is over those only",
            bench.name, len(problems) - len(missing), len(problems),
        )  # fmt: skip
    if score is None:
        return {"benchmark": bench.name, "samples": len(completions), "scored": False, **info}
    return _score(bench, problems, path, completions, score, out, fmt, samples, info, progress,
                  spread)  # fmt: skip


def load_benchmark(name: str, data: Path | None) -> tuple[Any, list[Problem], Path]:
    """`benchmarks.load`, with a file that is not this benchmark's named as the problem."""
    from wavecoder.evals.benchmarks import BENCHMARKS, canonical, resolve

    bench = BENCHMARKS[canonical(name)]
    path = resolve(bench.source, data)
    try:
        problems = bench.loader(path)
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        if str(path) in str(exc):
            raise
        raise ValueError(
            f"{path}: not a {bench.name} file ({type(exc).__name__}: {exc}); pass that "
            "benchmark's own file to --data, or leave --data out for the pinned upstream copy"
        ) from exc
    if not problems:
        raise ValueError(f"{path}: holds no {bench.name} problems; is it this benchmark's file?")
    return bench, problems, path


def describe_only(
    benchmark: str,
    *,
    llm: object,
    out: Path,
    data: Path | None = None,
    gen: GenerateOptions = DEFAULT_GENERATE,
    limit: int = 0,
    progress: bool = True,
) -> Path:
    """HumanEvalPack Explain stage 1 alone: `out/descriptions.jsonl`, for stage 2 elsewhere."""
    bench, problems, _ = load_benchmark(benchmark, data)
    run = _Generation(bench, problems[: limit or None], llm, out, gen, progress)
    _describe(run)
    return out / "descriptions.jsonl"


@dataclass(frozen=True)
class _Generation:
    """What generating one benchmark's samples needs (problems already cut to the limit,
    except for Explain from a descriptions file, where the limit applies after matching)."""

    bench: Any
    problems: list[Problem]
    llm: object
    out: Path
    gen: GenerateOptions
    progress: bool
    limit: int = 0


def _generate(
    run: _Generation, descriptions: Path | None, info: dict[str, Any]
) -> list[Completion]:
    from wavecoder.evals.generate import generate, write_samples

    bench, gen = run.bench, run.gen
    if descriptions is not None and bench.task != "explain":
        raise ValueError(f"{bench.name}: --descriptions is for humanevalpack-explain-* only")
    before = llm_counts(run.llm)
    if bench.task != "explain":
        problems = run.problems[: run.limit or None]
        completions = generate(run.llm, bench, problems, gen, progress=run.progress)
        write_samples(run.out / "samples.jsonl", completions)
    else:
        completions = _explain(run, descriptions, info)
        write_samples(
            run.out / "samples.jsonl", completions, per_description=gen.samples_per_description
        )
    info["generation"] = generation_record(run.llm, gen, before, llm_counts(run.llm))
    write_generation(run.out, info["generation"])
    return completions


def _describe(run: _Generation) -> list[Any]:
    """Stage 1 on `run.problems`, written to `out/descriptions.jsonl`."""
    from wavecoder.evals import explain

    descs = explain.describe(run.llm, run.bench, run.problems, run.gen, progress=run.progress)
    explain.write_descriptions(run.out / "descriptions.jsonl", descs)
    return descs


def _explain(run: _Generation, descriptions: Path | None, info: dict[str, Any]) -> list[Completion]:
    """Stage 1 (or a descriptions file), then stage 2; notes the sample mapping in `info`."""
    from wavecoder.evals import explain

    if descriptions is None:
        problems = run.problems[: run.limit or None]
        descs = _describe(replace(run, problems=problems))
        descriptions = run.out / "descriptions.jsonl"
    else:  # the described problems, in dataset order, then the limit
        descs = explain.read_descriptions(descriptions, run.problems)
        described = {d.task_id for d in descs}
        problems = [p for p in run.problems if p.task_id in described][: run.limit or None]
        kept = {p.task_id for p in problems}
        descs = [d for d in descs if d.task_id in kept]
    info["explain"] = {
        "descriptions_file": str(descriptions),
        "descriptions_per_problem": _spread(Counter(d.task_id for d in descs).values()),
        "samples_per_description": run.gen.samples_per_description,
        "pass_at_k_over": "all programs of a problem (descriptions x samples per description)",
    }
    return explain.synthesize(run.llm, run.bench, problems, descs, run.gen, progress=run.progress)


def _spread(counts: Any) -> int | dict[str, int]:
    values = sorted(counts)
    if not values:
        return 0
    return values[0] if values[0] == values[-1] else {"min": values[0], "max": values[-1]}


def _score(
    bench: Any,
    problems: Sequence[Problem],
    path: Path,
    completions: list[Completion],
    opts: ScoreOptions,
    out: Path,
    fmt: str,
    samples: Path,
    info: dict[str, Any],
    progress: bool,
    spread: Spread | None = None,
) -> dict[str, Any]:
    from wavecoder.evals import runners
    from wavecoder.evals.benchmarks import sha256
    from wavecoder.evals.results import ResultsLog
    from wavecoder.evals.score import score_completions, summarize, write_summary
    from wavecoder.progress import track

    start = time.monotonic()
    digest = sha256(path)
    key = {
        "benchmark": bench.name,
        "dataset_sha256": digest,
        "samples_sha256": sha256(samples),
        "timeout_s": opts.timeout_s,
        "memory_mb": runners.MEMORY_MB[bench.language],
        "sandbox": opts.mode,
    }
    results = ResultsLog(out, key)
    if results.done:
        log.warning("resuming: %d finished results of an earlier run in %s", len(results.done), out)
    try:
        outcomes = score_completions(
            bench,
            problems,
            completions,
            opts,
            progress=(lambda it, n: track(it, total=n, desc=f"score {bench.name}"))
            if progress
            else None,
            dataset_sha256=digest,
            done=results.done,
            on_outcome=results.append,
            spread=spread,
        )
    finally:
        results.close()
    results.finish(outcomes)
    extra = {
        "wall_s": round(time.monotonic() - start, 2),
        "samples_file": str(samples),
        "scored": True,
        "resumed_results": len(results.done),
        **info,
    }
    summary = summarize(
        bench, outcomes, opts, dataset=path, dataset_sha256=digest, prompt_format=fmt, extra=extra
    )
    write_summary(out, summary)
    return summary
