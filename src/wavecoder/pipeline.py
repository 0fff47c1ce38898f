"""The pipeline: the ordered table of stages, and the runner that skips what is already done.

Reading `STAGES` tells a newcomer what the system does. Each entry names a module that holds the
stage (imported only when used, so `import wavecoder` stays light). A stage module exposes:

    VERSION: int                bumped by hand when the meaning of its output changes
    INPUTS: tuple[str, ...]     the upstream stages it reads
    Config                      a frozen dataclass: its section of the experiment YAML
    run(ctx) -> dict            does the work, returns its stats ("in", "out", "rejected.<reason>")
    SHARDABLE: bool (optional)  False for stages that need all records at once (k-center)
    inputs(cfg) (optional)      the upstream stages it reads with these settings, when that
                                depends on them (train reads export unless train.data names
                                files); INPUTS otherwise
    MISSING_INPUT_HINT (opt.)   what else to do when an input has not run (a setting)
    preflight(cfg) (optional)   raises ConfigError on what must be fixed before the run starts
                                (consent, missing data): checked for every stage to run first
    fingerprint_config(cfg) (optional)  the part of its section the fingerprint hashes
    defer(cfg, inputs=, seed=, sections=) (optional)  a message when the stage cannot run yet
                                (no LLM endpoint configured): the run prints it and stops
                                there cleanly (exit 0), leaving the stage pending
    PAIRED_WITH: str (optional) the next stage, run together with this one round by round by
                                `run_pair(ctx, next_ctx) -> (stats, next_stats)` (generate and
                                judge feed each other); its config is part of this fingerprint
    PLACEMENT: str (optional)   where it runs under `--executor ray` (`wavecoder.ray_executor`)

Sharding (`--shard i/n`, contract in `wavecoder.store`): a shard of a stage gets its inputs as
that shard (exactly its records), is done when its marker is, and a stage is done only when all
its shards are; a sharded run stops before the first stage with SHARDABLE = False. An unsharded
run into a sharded folder runs the missing shards instead of writing unsharded files.
Where the stages execute (this process, or Ray tasks over shards) is the executor's business
(`wavecoder.executors`); the runner hands each stage to it after every check has passed.

The pieces, each small: `stages` (StageSpec, StageContext, loading a stage module),
`runconfig` (the experiment config), `fingerprints`, `runner` (one stage or pair into its
folder); this module keeps the table, the plan and the checks before a run, and re-exports the
rest so `wavecoder.pipeline` stays the one import.

A stage's fingerprint hashes its config section, VERSION, the run seed and the fingerprints of its
inputs. A finished stage whose fingerprint no longer matches stops the run with the changed keys
named; `--force STAGE` clears that stage and reruns it and everything after it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from types import ModuleType

from wavecoder import config as cfgmod
from wavecoder.executors import (
    Executor,
    LocalExecutor,
    using,
)

# re-exported: `wavecoder.pipeline` stays the one import for stage modules, the CLI and tests
from wavecoder.fingerprints import (  # noqa: F401
    _path_key,
    describe_change,
    fingerprint_record,
    fingerprinted,
    paired_sections,
    section_data,
)
from wavecoder.runconfig import (  # noqa: F401
    RunConfig,
    _save_config,
    build_run_config,
    load_run_config,
    replace_section,
)
from wavecoder.runner import (  # noqa: F401
    _check_inputs,
    _prepare_out,
    _stale,
    completion,
    round_,
    run_paired,
    run_stage,
    stage_stats,
    sum_stats,
)
from wavecoder.stages import (  # noqa: F401
    PipelineError,
    StageContext,
    StageSpec,
    StaleStageError,
    Stats,
    UsageError,
    load_stage,
    stage_inputs,
)
from wavecoder.store import RunStore, Shard, StageDir

log = logging.getLogger(__name__)


STAGES: tuple[StageSpec, ...] = (
    StageSpec(
        "ingest",
        "wavecoder.corpus.ingest",
        "read raw code (CodeSearchNet, source trees, the Python stdlib) into Code records",
    ),
    StageSpec(
        "filter",
        "wavecoder.corpus.filter",
        "drop code by the paper's rules: length window, Code Alpaca blacklist, quality",
    ),
    StageSpec(
        "dedup",
        "wavecoder.corpus.dedup",
        "drop exact and near duplicates (normalised hash, MinHash LSH)",
    ),
    StageSpec(
        "embed",
        "wavecoder.corpus.embed",
        "embed every snippet (sentence-transformers or a model-free fallback)",
    ),
    StageSpec(
        "select",
        "wavecoder.corpus.select",
        "pick a maximally diverse coreset with exact k-center greedy",
    ),
    StageSpec(
        "generate",
        "wavecoder.instruct.generate",
        "write instruction cases from the coreset with the LLM generator (4 tasks, few-shot)",
    ),
    StageSpec(
        "judge",
        "wavecoder.instruct.judge",
        "check each case rule by rule with the LLM discriminator; feed the example pools",
    ),
    StageSpec(
        "verify",
        "wavecoder.instruct.verify",
        "optional (verify.enabled): run each instance's code against unit tests in the "
        "sandbox; drop or label failures; the judge against execution",
    ),
    StageSpec(
        "decontaminate",
        "wavecoder.instruct.decontaminate",
        "drop accepted instances that copy a benchmark solution (exact, n-gram, embedding)",
    ),
    StageSpec(
        "export",
        "wavecoder.instruct.export",
        "write the accepted instances as a dataset (Alpaca JSON, messages JSONL, Parquet) "
        "with its card and report; optionally push it to the Hugging Face Hub",
    ),
    StageSpec(
        "train",
        "wavecoder.train.stage",
        "fine-tune a code LLM on the instruction data (TRL SFT, the paper's recipes)",
    ),
    StageSpec(
        "eval",
        "wavecoder.evals.stage",
        "pass@k of the trained model on HumanEval, MBPP, HumanEvalPack (sandboxed)",
    ),
)


def stage_spec(name: str, stages: Sequence[StageSpec] | None = None) -> StageSpec:
    stages = stages or STAGES
    for spec in stages:
        if spec.name == name:
            return spec
    raise PipelineError(f"unknown stage {name!r}; stages: {', '.join(s.name for s in stages)}")


def _deferred(
    module: ModuleType, spec: StageSpec, rc: RunConfig, inputs: dict[str, StageDir], out: StageDir
) -> bool:
    """Print the stage's `defer` message and say so when the stage cannot run yet."""
    defer = getattr(module, "defer", None)
    if defer is None or out.is_done():
        return False
    note = defer(rc.sections[spec.name], inputs=inputs, seed=rc.seed, sections=rc.sections)
    if note:
        print(note)
        log.info("%s: not run (%s); the run stops here", spec.name, note.splitlines()[-1])
    return bool(note)


def select_stages(
    stages: Sequence[StageSpec], *, start: str | None, stop: str | None, force: Sequence[str] = ()
) -> tuple[list[StageSpec], set[str]]:
    """The stages to visit, in order, and the names to force (each forced stage and after)."""
    names = [s.name for s in stages]
    for n in [start, stop, *force]:
        if n is not None and n not in names:
            raise PipelineError(f"unknown stage {n!r}; stages: {', '.join(names)}")
    lo = names.index(start) if start else 0
    hi = names.index(stop) if stop else len(names) - 1
    if lo > hi:
        raise PipelineError(f"--from {start} comes after --to {stop}")
    first_forced = min((names.index(n) for n in force), default=len(names))
    forced = {n for i, n in enumerate(names) if i >= first_forced}
    return list(stages[lo : hi + 1]), forced


def run_pipeline(
    rc: RunConfig,
    *,
    start: str | None = None,
    stop: str | None = None,
    force: Sequence[str] = (),
    shard: Shard | None = None,
    quiet: bool = False,
    stages: Sequence[StageSpec] | None = None,
    executor: Executor | None = None,
) -> dict[str, Stats | None]:
    """Run the configured stages in order; finished ones with matching fingerprints are skipped.
    `executor` runs each stage (this process when None; see `wavecoder.executors`).

    Everything that can refuse the run (unknown or unreachable --force, preflight, stale
    outputs) is checked before the first stage runs and before `config.yaml` is written, so a
    refused run leaves the run directory as it was.
    """
    stages = stages or STAGES
    todo, forced = select_stages(stages, start=start, stop=stop or rc.stop_after, force=force)
    _check_force(todo, force, rc, stop)
    executor = executor or LocalExecutor()
    if shard and executor.name != "local":
        raise UsageError(f"--shard {shard}: the {executor.name} executor shards the stages "
                         "itself; drop --shard (or run with --executor local)")  # fmt: skip
    later: list[StageSpec] = []
    if shard:
        todo, later = _shardable_prefix(todo)
    store = RunStore(rc.run_dir, shard=shard)
    check_inputs(todo, rc, store)
    preflight(todo, rc)
    check_plan(todo, rc, store, forced)
    rc.run_dir.mkdir(parents=True, exist_ok=True)
    _save_config(rc)
    with using(executor):  # stages that spread work units find it as executors.current()
        results = _run_todo(todo, rc, store, forced, quiet=quiet, executor=executor)
    if shard and later:
        log.warning("%s needs every shard's records: run it without --shard once all %d "
                    "shards are done", later[0].name, shard.count)  # fmt: skip
    return results


def _run_todo(
    todo: Sequence[StageSpec], rc: RunConfig, store: RunStore, forced: set[str], *,
    quiet: bool, executor: Executor,
) -> dict[str, Stats | None]:  # fmt: skip
    """The checked plan's stages in order, each through `executor` (pairs run together)."""
    results: dict[str, Stats | None] = {}
    for i, spec in enumerate(todo):
        if spec.name in results:
            continue  # ran with the stage before it (a pair)
        module = load_stage(spec)
        section = rc.sections[spec.name]
        inputs = {name: store.stage(name) for name in stage_inputs(module, section)}
        if _deferred(module, spec, rc, inputs, store.stage(spec.name)):
            break
        paired = getattr(module, "PAIRED_WITH", None)
        if paired and i + 1 < len(todo) and todo[i + 1].name == paired:
            nxt = todo[i + 1]
            m2 = load_stage(nxt)
            in2 = {name: store.stage(name) for name in stage_inputs(m2, rc.sections[nxt.name])}
            if _deferred(m2, nxt, rc, in2, store.stage(nxt.name)):
                break
            results.update(run_paired(spec, nxt, rc, store, forced=forced, quiet=quiet))
            continue
        results[spec.name] = executor.run_stage(
            spec,
            section,
            store.stage(spec.name),
            inputs=inputs,
            seed=rc.seed,
            force=spec.name in forced,
            quiet=quiet,
            extra=paired_sections(module, rc.sections),
        )
    return results


def _check_force(
    todo: Sequence[StageSpec], force: Sequence[str], rc: RunConfig, stop: str | None
) -> None:
    names = [s.name for s in todo]
    for name in force:
        if name not in names:
            hint = ""
            if stop is None and rc.stop_after:
                hint = f"; the config says stop_after: {rc.stop_after} (add --to {name})"
            span = f"{names[0]}..{names[-1]}" if names else "none"
            raise UsageError(
                f"--force {name}: {name} is not among the stages this run visits ({span}){hint}"
            )


def _shardable_prefix(todo: Sequence[StageSpec]) -> tuple[list[StageSpec], list[StageSpec]]:
    """The stages a sharded run does (up to the first that needs every record) and the rest."""
    for i, spec in enumerate(todo):
        if not getattr(load_stage(spec), "SHARDABLE", True):
            return list(todo[:i]), list(todo[i:])
    return list(todo), []


def check_plan(todo: Sequence[StageSpec], rc: RunConfig, store: RunStore, forced: set[str]) -> None:
    """Refuse, before anything runs, a stage whose existing output was made with other settings
    (upstream fingerprints taken as they will be once the stages before it have run)."""
    known: dict[str, str] = {}
    for spec in todo:
        module = load_stage(spec)
        out = store.stage(spec.name)
        section = rc.sections[spec.name]
        inputs = {name: store.stage(name) for name in stage_inputs(module, section)}
        extra = paired_sections(module, rc.sections)
        fp = fingerprint_record(spec, module, section, rc.seed, inputs, known=known, extra=extra)
        known[spec.name] = fp["fingerprint"]
        old = out.read_json("fingerprint", sharded=False)
        if spec.name not in forced and old and old["fingerprint"] != fp["fingerprint"]:
            raise _stale(spec, out, old, fp)


def preflight(todo: Sequence[StageSpec], rc: RunConfig) -> None:
    """Each stage's own checks, before the first stage runs (a wrong eval setting must not
    surface after hours of training)."""
    for spec in todo:
        check = getattr(load_stage(spec), "preflight", None)
        if check is not None:
            check(rc.sections[spec.name])
    if "select" in {s.name for s in todo}:
        _check_language_budgets(rc)


def _check_language_budgets(rc: RunConfig) -> None:
    """select.language_budgets may only name languages ingest can produce (a budget for a
    language with no code would fail only after every earlier stage ran)."""
    select, ingest = rc.sections.get("select"), rc.sections.get("ingest")
    budgets = getattr(select, "language_budgets", None)
    if not budgets or ingest is None:
        return
    from wavecoder.records import normalize_language

    wanted = {normalize_language(x) for x in getattr(ingest, "languages", ())}
    why = "ingest.languages"
    if not wanted and set(getattr(ingest, "sources", ())) == {"stdlib"}:
        wanted, why = {"python"}, "ingest.sources is the Python stdlib only"
    for name in budgets:
        if wanted and normalize_language(name) not in wanted:
            raise cfgmod.ConfigError(
                f"select.language_budgets.{name}: the run ingests no {normalize_language(name)} "
                f"code ({why}: {', '.join(sorted(wanted))}); drop the budget or add the language"
            )


def check_inputs(todo: Sequence[StageSpec], rc: RunConfig, store: RunStore) -> None:
    """Every input of a stage to run has run (at least partly) or runs before it: a missing one
    stops the run before its first stage, not when the stage that needs it comes up."""
    planned: set[str] = set()
    for spec in todo:
        module = load_stage(spec)
        for name in stage_inputs(module, rc.sections[spec.name]):
            if name not in planned and completion(store.stage(name))[0] == "pending":
                hint = getattr(module, "MISSING_INPUT_HINT", "")
                raise UsageError(
                    f"stage {spec.name!r} reads {name!r}, which has not run in {rc.run_dir} "
                    f"and is not among the stages to run: run it first (--from {name})"
                    + (f", {hint}" if hint else "")
                )
        planned.add(spec.name)
