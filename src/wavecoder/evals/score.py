"""Score completions: build each program, run it in the sandbox, write per-sample results + summary.

`score_completions` is the core (problems + completions -> outcomes, each handed to `on_outcome`
as its program finishes, outcomes of an interrupted run reused); `summarize` builds
`summary.json` (pass@k rounded to 6 decimals, counts by status, the dataset's sha256, prompt
format, limits, sandbox mode and toolchain versions). A sample with a `solution` runs that whole
program (the prefix it would continue left out), else prompt + completion. A sample that times
out is retried once, serially, after the parallel pass, before it counts as a timeout. A
completion for an unknown task id is an error, never dropped silently. `results.jsonl` is
written by `wavecoder.evals.results`, samples files are read by `wavecoder.evals.samples`.
HumanEval+ (task `evalplus`) goes through `wavecoder.evals.evalplus_rules` instead of a test
program; its summary adds `base_tests` (pass@k on the base inputs only) next to the base+plus
pass@k.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wavecoder.evals import runners, sandbox
from wavecoder.evals.benchmarks import Benchmark
from wavecoder.evals.passk import aggregate, count_passes
from wavecoder.evals.sandbox import SandboxMode
from wavecoder.evals.toolchains import ToolchainMissing, find
from wavecoder.evals.types import Completion, Outcome, Problem

if TYPE_CHECKING:
    from wavecoder.evals.score_spread import Spread

DEFAULT_KS = (1, 10, 100)
_GO_PACKAGE = re.compile(r"^package \w+[ \t]*$", re.M)


@dataclass(frozen=True)
class ScoreOptions:
    timeout_s: float = 10.0
    workers: int = 0  # 0: one per CPU
    mode: SandboxMode = "namespaces"
    ks: tuple[int, ...] = DEFAULT_KS


def score_completions(
    bench: Benchmark,
    problems: Sequence[Problem],
    completions: Sequence[Completion],
    opts: ScoreOptions,
    *,
    progress: Callable[[Iterable[Outcome], int], Iterable[Outcome]] | None = None,
    dataset_sha256: str = "",
    done: Mapping[tuple[str, int], Outcome] | None = None,
    on_outcome: Callable[[Outcome], None] | None = None,
    spread: Spread | None = None,
) -> list[Outcome]:
    """One outcome per completion, in order. `done` holds outcomes of an interrupted run (run
    again: only a timeout not yet retried); `on_outcome` sees each new one as it finishes.
    With `spread` (an executor's map, workers, chunk size) the programs run on the workers'
    sandboxes (`score_spread.py`), with the same verdicts."""
    by_id = {p.task_id: p for p in problems}
    unknown = sorted({c.task_id for c in completions} - set(by_id))
    if unknown:
        raise KeyError(
            f"{len(unknown)} completion task id(s) not in {bench.name}: {', '.join(unknown[:5])}"
        )
    find(bench.language)  # fail early, with the install hint, when the toolchain is missing
    sandbox.REPORT.reset()  # the summary's sandbox counts are this run's
    workers = opts.workers or os.cpu_count() or 1
    earlier = done or {}
    outcomes: list[Outcome | None] = [earlier.get((c.task_id, c.sample_index)) for c in completions]
    todo = [
        i for i, o in enumerate(outcomes) if o is None or (o.status == "timeout" and not o.retried)
    ]
    if todo and spread is not None:
        from wavecoder.evals.score_spread import spread_scores

        spread_scores(spread, bench, by_id, completions, todo, outcomes, opts, dataset_sha256,
                      progress=progress, on_outcome=on_outcome)  # fmt: skip
    elif todo:
        one = runner(bench, by_id, [completions[i] for i in todo], opts, dataset_sha256, workers)
        run_todo(one, completions, todo, outcomes, workers, progress, on_outcome)
    return [o for o in outcomes if o is not None]


def run_todo(
    one: Callable[[Completion], Outcome],
    completions: Sequence[Completion],
    todo: list[int],
    outcomes: list[Outcome | None],
    workers: int,
    progress: Callable[[Iterable[Outcome], int], Iterable[Outcome]] | None,
    on_outcome: Callable[[Outcome], None] | None,
) -> None:
    """Run `completions[i]` for i in `todo` in parallel, then each timeout once more, serially
    (no load from others), into `outcomes[i]`."""
    _run_parallel(one, completions, todo, outcomes, workers, progress, on_outcome)
    for i in todo:
        if outcomes[i] is not None and outcomes[i].status == "timeout":  # type: ignore[union-attr]
            again = replace(one(completions[i]), retried=True)
            outcomes[i] = again
            if on_outcome is not None:
                on_outcome(again)


def _run_parallel(
    one: Callable[[Completion], Outcome],
    completions: Sequence[Completion],
    todo: list[int],
    outcomes: list[Outcome | None],
    workers: int,
    progress: Callable[[Iterable[Outcome], int], Iterable[Outcome]] | None,
    on_outcome: Callable[[Outcome], None] | None,
) -> None:
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        futures = {pool.submit(one, completions[i]): i for i in todo}

        def finished() -> Iterator[Outcome]:
            for future in as_completed(futures):
                outcome = future.result()
                outcomes[futures[future]] = outcome
                if on_outcome is not None:
                    on_outcome(outcome)
                yield outcome

        for _ in progress(finished(), len(todo)) if progress else finished():
            pass
    finally:  # an interrupt must not wait for every queued program
        pool.shutdown(wait=True, cancel_futures=True)


def runner(
    bench: Benchmark,
    by_id: dict[str, Problem],
    completions: Sequence[Completion],
    opts: ScoreOptions,
    dataset_sha256: str,
    workers: int,
) -> Callable[[Completion], Outcome]:
    if bench.task != "evalplus":
        return lambda c: _run_one(bench, by_id[c.task_id], c, opts)
    from wavecoder.evals import evalplus_rules

    needed = [by_id[t] for t in dict.fromkeys(c.task_id for c in completions)]
    key = dataset_sha256 or _content_hash(list(by_id.values()))
    tasks = evalplus_rules.ground_truth(needed, key, mode=opts.mode, workers=workers)

    def one(c: Completion) -> Outcome:
        task = tasks[c.task_id]
        if c.solution:  # evalplus runs prompt + completion: an empty prompt runs the solution
            task = replace(task, problem=whole_program_problem(task.problem))
            c = replace(c, completion=c.solution)
        return evalplus_rules.check(task, c, mode=opts.mode)

    return one


def _content_hash(problems: Sequence[Problem]) -> str:
    """A stable key for a problem set loaded without its file (same problems, same key)."""
    import hashlib

    digest = hashlib.sha256()
    for p in problems:
        digest.update(json.dumps([p.task_id, p.prompt, p.canonical_solution, p.extra]).encode())
    return "content-" + digest.hexdigest()


def whole_program_problem(problem: Problem) -> Problem:
    """The problem with an empty prefix: a `solution` replaces what a completion continues
    (HumanEval's prompt, HumanEvalPack's prompt or declaration); the test part stays."""
    extra = (
        {**problem.extra, "declaration": ""} if "declaration" in problem.extra else problem.extra
    )
    return replace(problem, prompt="", extra=extra)


def program_of(bench: Benchmark, problem: Problem, c: Completion) -> str:
    """The program a sample runs as: its solution as it is, else prompt + completion."""
    if c.solution:
        solution = c.solution
        if bench.language == "go":  # the test file brings `package main`; the harness, imports
            solution = _GO_PACKAGE.sub(
                "", solution.replace(problem.extra.get("import") or "\0", "")
            )
        program = bench.assemble(whole_program_problem(problem), solution)
        if bench.language == "python" and "from __future__" in c.solution:
            from wavecoder.evals.sanitize import hoist_future

            program = hoist_future(program)  # above a harness header (HumanEvalPack's imports)
        return program
    return bench.assemble(problem, c.completion)


def _run_one(bench: Benchmark, problem: Problem, c: Completion, opts: ScoreOptions) -> Outcome:
    try:
        program = program_of(bench, problem, c)
        verdict = runners.run_program(
            bench.language, program, timeout_s=opts.timeout_s, mode=opts.mode
        )
    except ToolchainMissing as exc:
        return Outcome(c.task_id, c.sample_index, "error", stage="setup", stderr_tail=str(exc))
    return Outcome(
        task_id=c.task_id,
        sample_index=c.sample_index,
        status=verdict.status,
        duration_s=round(verdict.duration_s, 4),
        stage=verdict.stage,
        returncode=verdict.returncode,
        stderr_tail=verdict.stderr_tail if verdict.status != "pass" else "",
    )


def summarize(
    bench: Benchmark,
    outcomes: Sequence[Outcome],
    opts: ScoreOptions,
    *,
    dataset: Path,
    dataset_sha256: str,
    prompt_format: str = "",
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    scores, skipped = aggregate(count_passes((o.task_id, o.passed) for o in outcomes), opts.ks)
    scores = _rounded(scores)
    if bench.task == "evalplus":  # base-only pass: passed, or failed only on the plus inputs
        base = ((o.task_id, o.passed or o.stage == "plus") for o in outcomes)
        base_scores = _rounded(aggregate(count_passes(base), opts.ks)[0])
        extra = {"base_tests": base_scores, "plus_tests": dict(scores), **(extra or {})}
    try:
        toolchain = find(bench.language).version
    except ToolchainMissing as exc:
        toolchain = f"missing: {exc}"
    return {
        "benchmark": bench.name,
        "language": bench.language,
        "samples": len(outcomes),
        "problems": len({o.task_id for o in outcomes}),
        "status_counts": dict(Counter(o.status for o in outcomes)),
        **scores,
        "skipped_k": skipped,
        "dataset": str(dataset),
        "dataset_sha256": dataset_sha256,
        "prompt_format": prompt_format,
        "limits": {"timeout_s": opts.timeout_s, "memory_mb": runners.MEMORY_MB[bench.language]},
        "sandbox": opts.mode,
        # which limits held, which path ran each step, every fallback and its reason
        "sandbox_report": sandbox.report(opts.mode),
        "toolchain": toolchain,
        **(extra or {}),
    }


def _rounded(scores: dict[str, float]) -> dict[str, float]:
    """pass@k to 6 decimals: the estimator's float noise (0.4999999999999999) is not a digit."""
    return {k: round(v, 6) for k, v in scores.items()}


def write_summary(outdir: Path, summary: dict[str, Any]) -> None:
    outdir.mkdir(parents=True, exist_ok=True)
    tmp = outdir / "summary.json.tmp"
    tmp.write_text(json.dumps(summary, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    tmp.replace(outdir / "summary.json")
