"""The `wavecoder` command: run a pipeline, inspect a run, or run one stage on its own.

    wavecoder run CONFIG [--from S] [--to S] [--force S] [--executor ray] [key=value ...]
    wavecoder status RUN_DIR
    wavecoder show RUN_DIR STAGE [-n 5] [--rejected]
    wavecoder STAGE -i INPUT... -o OUTDIR [key=value ...] [--shard i/n]
    wavecoder train ... / wavecoder eval ...   (their own shapes; see their --help)

Options and `key=value` overrides come in any order, for every command (`wavecoder.cliargs`).
Exit codes: 0 success, 1 a stage failed, 2 bad usage, config or input, 3 a finished stage is stale
(rerun with --force), 130 interrupted. Not here: any stage's logic.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from wavecoder import __version__
from wavecoder import config as cfgmod
from wavecoder import pipeline as pl
from wavecoder.cliargs import parse_with_overrides, positive_int
from wavecoder.executors import EXECUTORS, RayConfig, open_executor
from wavecoder.llm.base import LLMError
from wavecoder.progress import setup_logging
from wavecoder.store import Shard, StageDir, StoreError

log = logging.getLogger("wavecoder")

# Subsystems with a command shape of their own: name -> (module, one-line help).
DELEGATED: dict[str, tuple[str, str]] = {
    "train": ("wavecoder.train.cli", "fine-tune a code LLM on instruction data (TRL SFT)"),
    "eval": (
        "wavecoder.evals.cli",
        "generate and score HumanEval, MBPP, HumanEvalPack in a sandbox",
    ),
    "decontaminate": (
        "wavecoder.instruct.decontaminate_cli",
        "drop or flag instances that copy a benchmark solution; leakage report",
    ),
}

EXAMPLES = {
    "run": "wavecoder run configs/tiny.yaml\n  wavecoder run configs/tiny.yaml --force select "
    "select.budget=50\n  wavecoder run configs/tiny.yaml --executor ray",
    "status": "wavecoder status runs/tiny",
    "show": "wavecoder show runs/tiny judge -n 3\n"
    "  wavecoder show runs/tiny filter -n 3 --rejected",
    "train": "wavecoder train -i data.jsonl -o runs/ds --base-model "
    "deepseek-ai/deepseek-coder-6.7b-base --recipe paper-deepseek-6.7b",
    "eval": "wavecoder eval score --benchmark humaneval --samples samples.jsonl "
    "--allow-code-execution -o out/eval",
}


# Every example runs in tests/integration/test_documented_commands.py (after `make demo`'s run).
STAGE_EXAMPLES = {
    "ingest": "wavecoder ingest -i stdlib -o out/ingest\n  wavecoder ingest -i "
    "python_train_0.jsonl.gz -i path/to/repo -o out/ingest",
    "filter": "wavecoder filter -i runs/tiny/ingest -o out/filter max_chars=1000",
    "dedup": "wavecoder dedup -i runs/tiny/filter -o out/dedup threshold=0.9",
    "embed": "wavecoder embed -i runs/tiny/dedup -o out/embed embedder.backend=hashing",
    "select": "wavecoder select -i runs/tiny/dedup runs/tiny/embed -o out/select budget=50",
    # six inputs, in the order the stage reads them
    "export": "wavecoder export "
    + " ".join(
        f"-i runs/tiny/{n}"
        for n in ("dedup", "select", "generate", "judge", "verify", "decontaminate")
    )
    + " -o out/export",
    "verify": "wavecoder verify -i runs/tiny/generate -i runs/tiny/judge -o out/verify "
    "enabled=true allow_code_execution=true languages=[python,javascript] "
    "llm.base_url=http://localhost:8000/v1 llm.model=M",
    "generate": "wavecoder generate -i runs/tiny/select -i runs/tiny/dedup -o out/generate "
    "rounds=1 llm.base_url=http://localhost:8000/v1 llm.model=M",
    "judge": "wavecoder judge -i out/generate -i runs/tiny/dedup -o out/judge "
    "llm.base_url=http://localhost:8000/v1 llm.model=M",
}


def _default_example(spec: pl.StageSpec) -> str:
    """A stage without an example of its own reads the run folder of the stage before it."""
    names = [s.name for s in pl.STAGES]
    before = names[names.index(spec.name) - 1] if names.index(spec.name) else "ingest"
    return f"wavecoder {spec.name} -i runs/tiny/{before} -o out/{spec.name}"


def _formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wavecoder",
        formatter_class=_formatter,
        description="WaveCoder end to end: raw code -> diverse coreset -> LLM-generated "
        "instruction data -> fine-tuned code LLM -> evaluation.",
        epilog="example:\n  wavecoder run configs/tiny.yaml && wavecoder status runs/tiny",
    )
    parser.add_argument("--version", action="version", version=f"wavecoder {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-q", "--quiet", action="store_true", help="warnings only, no progress bars"
    )
    common.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_run(sub, common)
    _add_status(sub, common)
    _add_show(sub, common)
    for spec in pl.STAGES:
        if spec.name not in DELEGATED:  # train and eval keep the command shapes of their own
            _add_stage(sub, common, spec)
    for name, (_, help_) in DELEGATED.items():
        sub.add_parser(name, help=help_)  # listed here; main() hands their argv to their parser
    return parser


def _add_run(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "run",
        help="run the pipeline of an experiment YAML",
        parents=[common],
        formatter_class=_formatter,
        epilog="example:\n  " + EXAMPLES["run"],
        description="Run the stages of CONFIG in order into its run_dir. Finished "
        "stages with the same settings are skipped; interrupted ones "
        "resume.",
    )
    p.add_argument("config", type=Path, help="experiment YAML (see configs/)")
    p.add_argument(
        "overrides",
        nargs="*",
        metavar="key=value",
        help="dotted overrides, e.g. select.budget=100 run_dir=runs/x",
    )
    p.add_argument("--from", dest="start", metavar="STAGE", help="first stage to run")
    p.add_argument("--to", dest="stop", metavar="STAGE", help="last stage to run")
    p.add_argument(
        "--force",
        action="append",
        default=[],
        metavar="STAGE",
        help="rerun STAGE and every stage after it (repeatable)",
    )
    p.add_argument(
        "--shard",
        type=Shard.parse,
        metavar="i/n",
        help="process only the ids with hash(id) %% n == i",
    )
    p.add_argument(
        "--executor",
        choices=EXECUTORS,
        help="where the stages run (default: the config's `executor`, else local); ray: "
        "shardable stages as Ray tasks over shards (docs/ray.md)",
    )
    p.add_argument(
        "--address",
        metavar="ADDR",
        help="the Ray cluster: auto (this node's cluster) or ray://HEAD:10001 (default: the "
        "config's ray.address, else a Ray started for the run); implies --executor ray",
    )
    p.set_defaults(func=cmd_run)


def _add_status(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "status",
        help="a table of a run's stages",
        parents=[common],
        formatter_class=_formatter,
        epilog="example:\n  " + EXAMPLES["status"],
        description="For each stage: done or not, record counts, whether its "
        "fingerprint still matches the saved config, time taken.",
    )
    p.add_argument("run_dir", type=Path)
    p.set_defaults(func=cmd_status)


def _add_show(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "show",
        help="print a few records of a stage",
        parents=[common],
        formatter_class=_formatter,
        epilog="example:\n  " + EXAMPLES["show"],
        description="Print the first N records a stage wrote (or rejected).",
    )
    p.add_argument("run_dir", type=Path)
    p.add_argument("stage")
    p.add_argument("-n", type=positive_int, default=5, help="how many records (default 5)")
    p.add_argument("--rejected", action="store_true", help="show dropped records and reasons")
    p.set_defaults(func=cmd_show)


def _add_stage(
    sub: argparse._SubParsersAction, common: argparse.ArgumentParser, spec: pl.StageSpec
) -> None:
    example = STAGE_EXAMPLES.get(spec.name) or _default_example(spec)
    p = sub.add_parser(
        spec.name,
        help=spec.help,
        parents=[common],
        formatter_class=_formatter,
        description=f"{spec.help[0].upper()}{spec.help[1:]}. OUTDIR gets the same "
        "files as the stage's folder in a run directory.",
        epilog=f"example:\n  {example}\n\nkey=value sets a field of the stage's "
        f"config section (see configs/paper.yaml, section {spec.name}).",
    )
    p.add_argument(
        "-i",
        "--input",
        action="extend",
        nargs="+",
        default=[],
        metavar="INPUT",
        help="upstream stage folders (in the order the stage reads them), or NAME=DIR;"
        " for ingest: source files, folders or 'stdlib' (-i A B or -i A -i B)",
    )
    p.add_argument("-o", "--output", type=Path, required=True, metavar="OUTDIR")
    p.add_argument("overrides", nargs="*", metavar="key=value")
    p.add_argument("--config", type=Path, help=f"take the {spec.name} section from this YAML")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--shard", type=Shard.parse, metavar="i/n")
    p.add_argument("--force", action="store_true", help="redo even if OUTDIR is done or stale")
    p.set_defaults(func=cmd_stage, stage=spec.name)


# --- commands ---------------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    _check_stage_range(args.start, args.stop, args.force)
    rc = pl.load_run_config(args.config, args.overrides)
    kind, ray_cfg = _executor_choice(args, rc)
    with open_executor(kind, ray_cfg, rc.run_dir) as executor:
        results = pl.run_pipeline(
            rc,
            start=args.start,
            stop=args.stop,
            force=args.force,
            shard=args.shard,
            quiet=args.quiet,
            executor=executor,
        )
    from wavecoder.show import print_eval_results, print_status

    if not args.quiet:
        print_status(rc.run_dir)
    if "eval" in results:  # the scores are what the run was for: on screen, even with -q
        print_eval_results(rc.run_dir)
    return 0


def _executor_choice(args: argparse.Namespace, rc: pl.RunConfig) -> tuple[str, RayConfig]:
    """The executor and its Ray settings: the command line over the config."""
    kind = args.executor or ("ray" if args.address else rc.executor)
    if args.address and kind != "ray":
        raise cfgmod.ConfigError(f"--address {args.address}: only with --executor ray")
    if kind == "ray" and args.shard:
        raise cfgmod.ConfigError(
            f"--shard {args.shard}: the Ray executor shards the stages itself; drop --shard"
        )
    ray_cfg = dataclasses.replace(rc.ray, address=args.address) if args.address else rc.ray
    return kind, ray_cfg


def _check_stage_range(start: str | None, stop: str | None, force: Sequence[str]) -> None:
    """Misspelt or reversed stage names are usage errors (exit 2), caught before any work."""
    names = [spec.name for spec in pl.STAGES]
    for flag, name in [("--from", start), ("--to", stop), *(("--force", f) for f in force)]:
        if name is not None and name not in names:
            raise cfgmod.ConfigError(f"{flag} {name}: not a stage; stages: {', '.join(names)}")
    if start and stop and names.index(start) > names.index(stop):
        raise cfgmod.ConfigError(
            f"--from {start} comes after --to {stop} (stages run in the order {', '.join(names)})"
        )


def cmd_stage(args: argparse.Namespace) -> int:
    spec = pl.stage_spec(args.stage)
    module = pl.load_stage(spec)
    if args.shard and not getattr(module, "SHARDABLE", True):
        raise cfgmod.ConfigError(
            f"--shard {args.shard.index}/{args.shard.count}: {spec.name} needs all records at "
            "once and cannot be sharded; run it without --shard"
        )
    data: dict[str, object] = {}
    if args.config:
        data = cfgmod.load_yaml(args.config).get(spec.name) or {}
    prefixed = [o if o.startswith(f"{spec.name}.") else f"{spec.name}.{o}" for o in args.overrides]
    data = cfgmod.apply_overrides({spec.name: data}, prefixed)[spec.name]
    section = cfgmod.build(module.Config, data, where=spec.name)
    inputs, paths = _stage_inputs(spec, module.INPUTS, args.input)
    out = StageDir(args.output, shard=args.shard)
    try:
        pl.run_stage(
            spec,
            section,
            out,
            inputs=inputs,
            paths=paths,
            seed=args.seed,
            force=args.force,
            quiet=args.quiet,
        )
    except pl.StaleStageError as exc:
        # the pipeline's advice names `--force STAGE`, which `wavecoder run` takes; this
        # command's flag is a plain --force
        what = str(exc).split("; rerun", 1)[0]
        raise pl.StaleStageError(
            f"{what}; rerun with --force to redo it, or restore the settings"
        ) from None
    stats = out.read_json("stats") or pl.stage_stats(out)
    if not args.quiet:
        print(f"{spec.name}: {_fmt_stats(stats)} -> {out.path}")
    return 0


def _stage_inputs(
    spec: pl.StageSpec,
    wanted: Sequence[str],
    given: Sequence[str],
) -> tuple[dict[str, StageDir], list[Path]]:
    if not wanted:
        return {}, [Path(g) for g in given]
    named = dict(g.split("=", 1) for g in given if "=" in g and g.split("=", 1)[0] in wanted)
    positional = [g for g in given if not ("=" in g and g.split("=", 1)[0] in wanted)]
    inputs = {k: StageDir(Path(v)) for k, v in named.items()}
    for name in wanted:
        if name not in inputs and positional:
            inputs[name] = StageDir(Path(positional.pop(0)))
    missing = [n for n in wanted if n not in inputs]
    if missing or positional:
        raise cfgmod.ConfigError(
            f"{spec.name} reads {', '.join(wanted)}: give one -i per input, in that order "
            f"or as NAME=DIR (missing: {', '.join(missing) or '-'}; extra: "
            f"{', '.join(positional) or '-'})"
        )
    for name, sd in inputs.items():
        if not sd.path.is_dir():
            raise cfgmod.ConfigError(f"-i {name}: {sd.path} is not a stage folder")
    return inputs, []


def cmd_status(args: argparse.Namespace) -> int:
    from wavecoder.show import print_status

    if not args.run_dir.is_dir():
        raise cfgmod.ConfigError(f"{args.run_dir}: no such run directory")
    print_status(args.run_dir)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from wavecoder.show import show_stage

    if not args.run_dir.is_dir():
        raise cfgmod.ConfigError(f"{args.run_dir}: no such run directory")
    names = [spec.name for spec in pl.STAGES]
    if args.stage not in names:
        raise cfgmod.ConfigError(f"{args.stage}: not a stage; stages: {', '.join(names)}")
    show_stage(args.run_dir, args.stage, n=args.n, rejected=args.rejected)
    return 0


def _fmt_stats(stats: dict[str, object]) -> str:
    return ", ".join(f"{k}={v}" for k, v in stats.items()) or "no stats"


def _delegate(command: str, argv: Sequence[str]) -> int:
    """`wavecoder train|eval ...`: parsed by the subsystem's own parser, given all of argv (a
    REMAINDER under the top parser would refuse any option before the first positional)."""
    module = importlib.import_module(DELEGATED[command][0])
    sub = argparse.ArgumentParser(
        prog=f"wavecoder {command}",
        formatter_class=_formatter,
        description=DELEGATED[command][1],
    )
    module.configure(sub)
    if "example" not in (sub.epilog or ""):
        sub.epilog = f"{sub.epilog or ''}\n\nexample:\n  {EXAMPLES[command]}".lstrip()
    args = parse_with_overrides(sub, argv, keep=_stage_names())
    setup_logging(quiet=getattr(args, "quiet", False), verbose=getattr(args, "verbose", False))
    return int(module.main(args))


def _stage_names() -> set[str]:
    return {spec.name for spec in pl.STAGES}  # `-i dedup=DIR` names an input, not an override


def parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """The top parser's reading of argv, `key=value` overrides taken from anywhere in it."""
    argv = list(sys.argv[1:] if argv is None else argv)
    return parse_with_overrides(parser, argv[1:], prefix=argv[:1], keep=_stage_names())


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] in DELEGATED:
            return _delegate(argv[0], argv[1:])
        args = parse(build_parser(), argv)
        setup_logging(quiet=args.quiet, verbose=args.verbose)
        return int(args.func(args))
    except (cfgmod.ConfigError, StoreError, FileNotFoundError) as exc:
        print(f"wavecoder: error: {exc}", file=sys.stderr)
        return 2
    except pl.PipelineError as exc:
        print(f"wavecoder: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except LLMError as exc:  # a budget on an unpriced model, a provider that keeps failing
        print(f"wavecoder: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("wavecoder: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `wavecoder show ... | head`: the reader left, as with SIGPIPE
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    raise SystemExit(main())
