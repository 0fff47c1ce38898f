"""Scoring spread over workers' sandboxes through a `map`-like callable (Ray tasks, a pool).

`score.score_completions(..., map_fn=...)` comes here. The programs still to run are cut, in
sample order, into chunks of `chunk` programs; `map_fn(score_chunk, chunks)` runs a wave of
`workers` chunks at a time, each on a worker with the local scorer (`score.run_todo`: its
programs in parallel in that machine's sandbox, then each timeout once more, serially), so a
program's verdict is what a local run gives it. When a wave is in, the driver hands each
outcome to `on_outcome` (the resumable `results.jsonl`), so an interrupted run loses at most
one wave and a rerun scores only the rest; only final outcomes (after the retry) come back.

Each chunk's result carries the worker's sandbox report (paths and fallbacks, added to the
driver's for the summary) and its toolchain version: a worker whose compiler or interpreter is
not the driver's stops the run naming both versions, since verdicts could differ.
Not here: building and running one program (`score.py`, `runners.py`), the executor behind
`map_fn` (the pipeline runner).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from wavecoder.evals import sandbox
from wavecoder.evals.benchmarks import BENCHMARKS, Benchmark
from wavecoder.evals.toolchains import find
from wavecoder.evals.types import Completion, Outcome, Problem

#: `map_fn(fn, items) -> [fn(x) for x in items]`, in order; `fn` and items are picklable.
MapFn = Callable[[Callable[[Any], Any], list[Any]], list[Any]]


@dataclass(frozen=True)
class Spread:
    """How to spread: the executor's map, how many chunks at once, programs per chunk."""

    map_fn: MapFn
    workers: int = 1
    chunk: int = 64

    def __post_init__(self) -> None:
        if self.workers < 1 or self.chunk < 1:
            raise ValueError(f"need workers >= 1 and chunk >= 1 (got {self.workers}, {self.chunk})")


@dataclass(frozen=True)
class Chunk:
    """One worker's programs: picklable (the benchmark by name, only the problems it needs)."""

    benchmark: str
    problems: tuple[Problem, ...]
    completions: tuple[Completion, ...]
    opts: Any  # score.ScoreOptions
    dataset_sha256: str


@dataclass(frozen=True)
class ChunkResult:
    outcomes: tuple[Outcome, ...]  # in the chunk's order
    report: dict[str, Any]  # the worker's sandbox.REPORT counts for these programs
    toolchain: str
    pid: int


def score_chunk(chunk: Chunk) -> ChunkResult:
    """Score one chunk here, as a local run scores its programs."""
    from wavecoder.evals.score import run_todo, runner

    bench = BENCHMARKS[chunk.benchmark]
    by_id = {p.task_id: p for p in chunk.problems}
    comps = list(chunk.completions)
    workers = chunk.opts.workers or os.cpu_count() or 1
    before = sandbox.REPORT.snapshot()
    one = runner(bench, by_id, comps, chunk.opts, chunk.dataset_sha256, workers)
    outcomes: list[Outcome | None] = [None] * len(comps)
    run_todo(one, comps, list(range(len(comps))), outcomes, workers, None, None)
    report = _minus(sandbox.REPORT.snapshot(), before)
    done = tuple(o for o in outcomes if o is not None)
    return ChunkResult(done, report, find(bench.language).version, os.getpid())


def spread_scores(
    spread: Spread,
    bench: Benchmark,
    by_id: dict[str, Problem],
    completions: Sequence[Completion],
    todo: list[int],
    outcomes: list[Outcome | None],
    opts: Any,
    dataset_sha256: str,
    *,
    progress: Callable[[Iterable[Outcome], int], Iterable[Outcome]] | None,
    on_outcome: Callable[[Outcome], None] | None,
) -> None:
    """Fill `outcomes[i]` for every i in `todo`, a wave of chunks at a time."""
    if BENCHMARKS.get(bench.name) is not bench:
        raise ValueError(f"{bench.name}: only registered benchmarks can be scored on workers")
    mine = find(bench.language).version
    chunks = [todo[i : i + spread.chunk] for i in range(0, len(todo), spread.chunk)]

    def waves() -> Iterator[Outcome]:
        for start in range(0, len(chunks), spread.workers):
            wave = chunks[start : start + spread.workers]
            jobs = [_chunk(bench, by_id, completions, idx, opts, dataset_sha256) for idx in wave]
            for idx, res in zip(wave, spread.map_fn(score_chunk, jobs), strict=True):
                if res.toolchain != mine:
                    raise RuntimeError(
                        f"a worker scores {bench.language} with {res.toolchain!r}, this "
                        f"machine with {mine!r}: give every node the same toolchains"
                    )
                if res.pid != os.getpid():  # (in this process the counts are there already)
                    sandbox.REPORT.merge(res.report)
                for i, outcome in zip(idx, res.outcomes, strict=True):
                    outcomes[i] = outcome
                    if on_outcome is not None:
                        on_outcome(outcome)
                    yield outcome

    for _ in progress(waves(), len(todo)) if progress else waves():
        pass


def _chunk(
    bench: Benchmark,
    by_id: dict[str, Problem],
    completions: Sequence[Completion],
    idx: list[int],
    opts: Any,
    dataset_sha256: str,
) -> Chunk:
    comps = tuple(completions[i] for i in idx)
    needed = tuple(by_id[t] for t in dict.fromkeys(c.task_id for c in comps))
    return Chunk(bench.name, needed, comps, opts, dataset_sha256)


def _minus(after: dict[str, Any], before: dict[str, Any]) -> dict[str, Any]:
    """The counts added between two `REPORT.snapshot()`s."""

    def sub(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
        return {k: v - b.get(k, 0) for k, v in a.items() if v - b.get(k, 0)}

    return {
        "steps_by_path": sub(after["steps_by_path"], before["steps_by_path"]),
        "fallback_steps": sub(after["fallback_steps"], before["fallback_steps"]),
        "fallback_stall_s": round(after["fallback_stall_s"] - before["fallback_stall_s"], 3),
    }
