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

A stage's fingerprint hashes its config section, VERSION, the run seed and the fingerprints of its
inputs. A finished stage whose fingerprint no longer matches stops the run with the changed keys
named; `--force STAGE` clears that stage and reruns it and everything after it.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from wavecoder import config as cfgmod
from wavecoder.executors import (
    Executor,
    LocalExecutor,
    RayConfig,
    build_config,
    spread_kwargs,
    using,
)
from wavecoder.records import stable_hash
from wavecoder.store import RunStore, Shard, StageDir

log = logging.getLogger(__name__)

Stats = dict[str, Any]


@dataclass(frozen=True)
class StageSpec:
    name: str
    module: str
    help: str


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


class PipelineError(RuntimeError):
    """A run that cannot go on; `exit_code` tells scripts why."""

    exit_code = 1


class StaleStageError(PipelineError):
    """A finished stage's settings changed: rerun it with --force or restore the settings."""

    exit_code = 3


class UsageError(PipelineError):
    """Options that contradict each other or the config (e.g. --force of a stage not run)."""

    exit_code = 2


@dataclass
class StageContext:
    """What a stage's `run` receives."""

    name: str
    cfg: Any
    out: StageDir
    inputs: dict[str, StageDir] = field(default_factory=dict)
    paths: list[Path] = field(default_factory=list)
    shard: Shard | None = None
    seed: int = 42
    quiet: bool = False
    round: int = 0


def stage_spec(name: str, stages: Sequence[StageSpec] | None = None) -> StageSpec:
    stages = stages or STAGES
    for spec in stages:
        if spec.name == name:
            return spec
    raise PipelineError(f"unknown stage {name!r}; stages: {', '.join(s.name for s in stages)}")


def stage_inputs(module: ModuleType, section: Any) -> tuple[str, ...]:
    """The upstream stages `module` reads with config `section` (see the module docstring)."""
    pick = getattr(module, "inputs", None)
    return tuple(pick(section)) if pick is not None else tuple(module.INPUTS)


def load_stage(spec: StageSpec) -> ModuleType:
    """Import the stage's module (`pkg.mod`, or `pkg.mod:attr` for a namespace inside one)."""
    modname, _, attr = spec.module.partition(":")
    try:
        module = importlib.import_module(modname)
        if attr:
            module = getattr(module, attr)
    except ModuleNotFoundError as exc:
        if exc.name and modname.startswith(exc.name):
            raise PipelineError(f"stage {spec.name!r}: module {spec.module} is missing") from exc
        raise PipelineError(
            f"stage {spec.name!r} needs the package {exc.name!r}; install the extra that "
            f"provides it (see README, 'Install')"
        ) from exc
    for attr in ("VERSION", "INPUTS", "Config", "run"):
        if not hasattr(module, attr):
            raise PipelineError(f"stage module {spec.module} lacks {attr}")
    return module


# --- experiment config ------------------------------------------------------------------------


@dataclass(frozen=True)
class RunConfig:
    """A resolved experiment: run settings plus one built Config per stage section."""

    run_dir: Path
    seed: int
    stop_after: str | None
    sections: dict[str, Any]
    executor: str = "local"  # where the stages run: "local" or "ray" (wavecoder.executors)
    ray: RayConfig = field(default_factory=RayConfig)

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "run_dir": str(self.run_dir),
            "seed": self.seed,
            "stop_after": self.stop_after,
            "executor": self.executor,
            "ray": cfgmod.to_data(self.ray),
        }
        data.update({k: cfgmod.to_data(v) for k, v in self.sections.items()})
        return data


_TOP_KEYS = ("run_dir", "seed", "stop_after", "executor", "ray")


def build_run_config(data: dict[str, Any], stages: Sequence[StageSpec] | None = None) -> RunConfig:
    stages = stages or STAGES
    names = [s.name for s in stages]
    unknown = sorted(set(data) - set(_TOP_KEYS) - set(names))
    if unknown:
        raise cfgmod.ConfigError(
            f"unknown config key(s): {', '.join(unknown)}; allowed at the top: "
            f"{', '.join(_TOP_KEYS + tuple(names))}"
        )
    stop_after = data.get("stop_after")
    if stop_after is not None and stop_after not in names:
        raise cfgmod.ConfigError(f"stop_after: {stop_after!r} is not a stage ({', '.join(names)})")
    seed = data.get("seed", 42)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise cfgmod.ConfigError(f"seed: expected an integer, got {seed!r}")
    sections = {}
    for spec in stages:
        section = data.get(spec.name) or {}
        if not isinstance(section, dict):
            raise cfgmod.ConfigError(f"{spec.name}: expected a mapping, got {section!r}")
        sections[spec.name] = cfgmod.build(load_stage(spec).Config, section, where=spec.name)
    executor, ray = build_config(data.get("executor"), data.get("ray"), names)
    run_dir = Path(data.get("run_dir") or "runs/default")
    return RunConfig(run_dir, seed, stop_after, sections, executor=executor, ray=ray)


def load_run_config(
    path: Path, overrides: Sequence[str] = (), stages: Sequence[StageSpec] | None = None
) -> RunConfig:
    data = cfgmod.apply_overrides(cfgmod.load_yaml(path), overrides)
    try:
        return build_run_config(data, stages)
    except cfgmod.ConfigError as exc:
        raise cfgmod.ConfigError(f"{path}: {exc}") from exc


# --- fingerprints -----------------------------------------------------------------------------


def fingerprinted(section: Any) -> Any:
    """A config section as data, less the fields marked `metadata={"fingerprint": False}`:
    settings that do not change what a stage writes (where it also publishes it)."""
    data = cfgmod.to_data(section)
    if dataclasses.is_dataclass(section) and isinstance(data, dict):
        for f in dataclasses.fields(section):
            if f.metadata.get("fingerprint") is False:
                data.pop(f.name, None)
    return data


def fingerprint_record(
    spec: StageSpec,
    module: ModuleType,
    section: Any,
    seed: int,
    inputs: dict[str, StageDir],
    *,
    known: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The stage's fingerprint; upstream fingerprints come from disk unless `known` (a plan
    of stages about to run) gives them. `extra`: other sections its output depends on, as
    fingerprint data (`paired_sections`)."""
    upstream = {}
    for name, sd in sorted(inputs.items()):
        if known and name in known:
            upstream[name] = known[name]
            continue
        fp = sd.read_json("fingerprint", sharded=False)
        upstream[name] = fp["fingerprint"] if fp else "external"
    body = {
        "stage": spec.name,
        "version": int(module.VERSION),
        "seed": seed,
        "config": {spec.name: section_data(module, section), **(extra or {})},
        "inputs": upstream,
    }
    return {"fingerprint": stable_hash(body, length=20), **body}


def _path_key(path: Path) -> str:
    """A source path as fingerprint data: absolute when it exists (the same file from another
    working directory), else as written (a hub id, `stdlib`)."""
    return str(path.resolve()) if path.exists() else str(path)


def section_data(module: ModuleType, section: Any) -> Any:
    """What of a section the fingerprint hashes: the module's `fingerprint_config(section)`
    (LLM stages leave out endpoints and budgets), else `fingerprinted(section)`."""
    custom = getattr(module, "fingerprint_config", None)
    return custom(section) if custom is not None else fingerprinted(section)


def paired_sections(module: ModuleType, sections: dict[str, Any]) -> dict[str, Any] | None:
    """The paired stage's section as fingerprint data: part of a PAIRED_WITH stage's
    fingerprint in a run (its verdicts shape the prompts of later rounds)."""
    paired = getattr(module, "PAIRED_WITH", None)
    if not paired or paired not in sections:
        return None
    return {paired: section_data(load_stage(stage_spec(paired)), sections[paired])}


def describe_change(old: dict[str, Any], new: dict[str, Any]) -> str:
    changes = []
    for key in cfgmod.diff_keys(old.get("config", {}), new["config"]):
        changes.append(key)
    if old.get("version") != new["version"]:
        changes.append(f"{new['stage']} code version {old.get('version')} -> {new['version']}")
    if old.get("seed") != new["seed"]:
        changes.append(f"seed {old.get('seed')} -> {new['seed']}")
    for name in cfgmod.diff_keys(old.get("inputs", {}), new["inputs"]):
        changes.append(f"upstream stage {name} was rerun")
    return ", ".join(changes) or "unknown change"


def completion(sd: StageDir) -> tuple[str, list[int]]:
    """("done" | "partial" | "pending", missing shard indexes) for a stage folder."""
    return sd.completion()


# --- running ----------------------------------------------------------------------------------


def run_stage(
    spec: StageSpec,
    section: Any,
    out: StageDir,
    *,
    inputs: dict[str, StageDir],
    paths: Sequence[Path] = (),
    seed: int = 42,
    force: bool = False,
    quiet: bool = False,
    round: int = 0,
    extra: dict[str, Any] | None = None,
) -> Stats | None:
    """Run one stage into `out` unless it is already done; returns its stats (None if skipped).
    `extra`: other sections its output depends on (`paired_sections`).

    An unsharded run into a folder that holds shard parts finishes the missing shards (with the
    same shard count) instead of writing unsharded files beside them.
    """
    module = load_stage(spec)
    if out.shard and not getattr(module, "SHARDABLE", True):
        raise PipelineError(f"stage {spec.name!r} needs all records at once and cannot be sharded")
    count = None if force else out.layout()
    if out.shard is None and count:
        return _run_shards(spec, section, out, count, inputs=inputs, paths=paths, seed=seed,
                           quiet=quiet, round=round, extra=extra)  # fmt: skip
    inputs = {name: sd.with_shard(out.shard) for name, sd in inputs.items()}  # read as this shard
    _check_inputs(spec, inputs, out.shard)
    if paths:  # a standalone command's -i sources are part of what made the output
        extra = {**(extra or {}), "paths": [_path_key(p) for p in paths]}
    fp = fingerprint_record(spec, module, section, seed, inputs, extra=extra)
    if not _prepare_out(spec, out, fp, force=force, count=count):
        log.info("%s: done already, skipped", spec.name)
        return None
    ctx = StageContext(
        name=spec.name,
        cfg=section,
        out=out,
        inputs=inputs,
        paths=list(paths),
        shard=out.shard,
        seed=seed,
        quiet=quiet,
        round=round,
    )
    return _execute(module, ctx, fp)


def _prepare_out(
    spec: StageSpec, out: StageDir, fp: dict[str, Any], *, force: bool, count: int | None
) -> bool:
    """Get `out` ready for a run and write the fingerprint; False: it is done already."""
    old = out.read_json("fingerprint", sharded=False)
    if force:
        if old and old["fingerprint"] != fp["fingerprint"]:
            out.with_shard(None).clear()  # other shards' parts were made with the old settings
        out.clear()
    elif old and old["fingerprint"] != fp["fingerprint"]:
        raise _stale(spec, out, old, fp)
    elif out.is_done():
        return False
    elif out.shard is not None:
        _check_layout(spec, out, count)
    out.path.mkdir(parents=True, exist_ok=True)
    out.write_json("fingerprint", fp, sharded=False)
    return True


def _execute(module: ModuleType, ctx: StageContext, fp: dict[str, Any]) -> Stats:
    """Run the stage, then write its stats and (last) its done marker."""
    where = f"{ctx.name} shard {ctx.out.shard}" if ctx.out.shard else ctx.name
    log.info("%s: running", where)
    start = time.monotonic()
    stats = dict(module.run(ctx, **spread_kwargs(module.run)) or {})
    return _finish(ctx, fp, stats, start)


def _finish(ctx: StageContext, fp: dict[str, Any], stats: Stats, start: float) -> Stats:
    out = ctx.out
    where = f"{ctx.name} shard {out.shard}" if out.shard else ctx.name
    seconds = round_(time.monotonic() - start)
    out.write_json("stats", stats)
    out.mark_done(
        {
            "fingerprint": fp["fingerprint"],
            "seconds": seconds,
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "stats": stats,
        }
    )
    log.info("%s: done in %.1fs %s", where, seconds, _brief(stats))
    if stats.get("out") == 0:  # e.g. a misspelt split or language: say so, do not go on quietly
        log.warning("%s: wrote no records (%s); check its settings and inputs", where,
                    _brief(stats))  # fmt: skip
    return stats


def _stale(spec: StageSpec, out: StageDir, old: dict[str, Any], new: dict[str, Any]) -> Exception:
    return StaleStageError(
        f"stage {spec.name!r} in {out.path} was made with other settings "
        f"({describe_change(old, new)}); rerun it and the stages after it with "
        f"--force {spec.name}, or restore the settings"
    )


def _check_inputs(
    spec: StageSpec, inputs: dict[str, StageDir], shard: Shard | None, running: Sequence[str] = ()
) -> None:
    """Every input must be finished; a shard of a stage reading an upstream stage sharded the
    same way needs only its own upstream part (that is all it reads). `running`: inputs that
    run together with this stage (a pair), unfinished by design."""
    for name, sd in inputs.items():
        state, missing = sd.completion()
        if state == "done" or name in running:
            continue
        if shard and sd.layout() == shard.count and shard.index not in missing:
            continue
        detail = f" (shards {missing} missing)" if missing else ""
        raise PipelineError(
            f"stage {spec.name!r} reads {name!r} at {sd.path}, which is not finished{detail}"
        )


def _check_layout(spec: StageSpec, out: StageDir, count: int | None) -> None:
    """A shard may join a folder only when it holds nothing yet or parts of the same count."""
    assert out.shard is not None
    if count == 0:
        raise PipelineError(
            f"stage {spec.name!r} in {out.path} holds an unfinished unsharded run: finish it "
            f"without --shard, or start over with --force {spec.name}"
        )
    if count is not None and count != out.shard.count:
        raise PipelineError(
            f"stage {spec.name!r} in {out.path} holds parts of {count} shards, not "
            f"{out.shard.count}: run --shard i/{count}, or start over with --force {spec.name}"
        )


def _run_shards(
    spec: StageSpec, section: Any, out: StageDir, count: int, *, inputs: dict[str, StageDir],
    **kwargs: Any,
) -> Stats | None:  # fmt: skip
    """Finish a sharded folder shard by shard (each shard reads its inputs as a shard)."""
    ran: list[Stats] = []
    for index in range(count):
        shard = Shard(index, count)
        own = {name: sd.with_shard(shard) for name, sd in inputs.items()}
        stats = run_stage(spec, section, out.with_shard(shard), inputs=own, **kwargs)
        if stats is not None:
            ran.append(stats)
    if not ran:
        log.info("%s: done already (%d shards), skipped", spec.name, count)
        return None
    return sum_stats(ran)


def sum_stats(parts: Sequence[Stats]) -> Stats:
    """Counts added up over shards (non-numeric values: the first shard's)."""
    total: Stats = {}
    for stats in parts:
        for key, value in stats.items():
            if isinstance(value, int | float) and not isinstance(value, bool) and key in total:
                total[key] += value
            else:
                total.setdefault(key, value)
    return total


def stage_stats(sd: StageDir) -> Stats:
    """A finished stage's stats: its stats.json, or the sum over its shards' files."""
    whole = sd.read_json("stats", sharded=False)
    if whole is not None or not sd.path.is_dir():
        return dict(whole or {})
    parts = [sd.with_shard(Shard(i, n)).read_json("stats") for n in [sd.layout() or 0]
             for i in range(n)]  # fmt: skip
    return sum_stats([p for p in parts if p])


def run_paired(
    first: StageSpec,
    second: StageSpec,
    rc: RunConfig,
    store: RunStore,
    *,
    forced: set[str],
    quiet: bool = False,
) -> dict[str, Stats | None]:
    """Two stages that feed each other (generate and judge), run together by the first's
    `run_pair`; if the first is finished already, the second runs on its own."""
    m1, m2 = load_stage(first), load_stage(second)
    s1, s2 = rc.sections[first.name], rc.sections[second.name]
    out1, out2 = store.stage(first.name), store.stage(second.name)
    count = None if first.name in forced else out1.layout()
    if store.shard is None and count:  # finish the missing shards, never unsharded files beside
        return _run_paired_shards(first, second, rc, store, count, forced=forced, quiet=quiet)
    in1 = {n: sd.with_shard(out1.shard) for n, sd in
           ((n, store.stage(n)) for n in stage_inputs(m1, s1))}  # fmt: skip
    in2 = {n: sd.with_shard(out2.shard) for n, sd in
           ((n, store.stage(n)) for n in stage_inputs(m2, s2))}  # fmt: skip
    extra = paired_sections(m1, rc.sections)
    force1, force2 = first.name in forced, second.name in forced
    _check_inputs(first, in1, out1.shard)
    fp1 = fingerprint_record(first, m1, s1, rc.seed, in1, extra=extra)
    if not _prepare_out(first, out1, fp1, force=force1, count=None if force1 else out1.layout()):
        stats2 = run_stage(second, s2, out2, inputs=in2, seed=rc.seed, force=force2, quiet=quiet)
        return {first.name: None, second.name: stats2}
    _check_inputs(second, in2, out2.shard, running=(first.name,))
    fp2 = fingerprint_record(second, m2, s2, rc.seed, in2)
    force2 = force1 or second.name in forced
    if not _prepare_out(second, out2, fp2, force=force2, count=None if force2 else out2.layout()):
        _prepare_out(second, out2, fp2, force=True, count=None)  # done alone before: redo it
    ctxs = [
        StageContext(name=spec.name, cfg=sec, out=out, inputs=inp, shard=out.shard,
                     seed=rc.seed, quiet=quiet)
        for spec, sec, out, inp in ((first, s1, out1, in1), (second, s2, out2, in2))
    ]  # fmt: skip
    log.info("%s + %s: running", first.name, second.name)
    start = time.monotonic()
    stats1, stats2 = m1.run_pair(*ctxs, **spread_kwargs(m1.run_pair))
    return {
        first.name: _finish(ctxs[0], fp1, dict(stats1), start),
        second.name: _finish(ctxs[1], fp2, dict(stats2), start),
    }


def _run_paired_shards(
    first: StageSpec, second: StageSpec, rc: RunConfig, store: RunStore, count: int, **kw: Any
) -> dict[str, Stats | None]:
    """`run_paired` shard by shard over a folder of `count`-shard parts (see `_run_shards`)."""
    ran: dict[str, list[Stats]] = {first.name: [], second.name: []}
    for index in range(count):
        part = run_paired(first, second, rc, RunStore(store.root, shard=Shard(index, count)), **kw)
        for name, stats in part.items():
            if stats is not None:
                ran[name].append(stats)
    return {name: sum_stats(parts) if parts else None for name, parts in ran.items()}


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


def round_(x: float) -> float:
    return float(f"{x:.3f}")


def _brief(stats: Stats) -> str:
    keys = [k for k in ("in", "out") if k in stats]
    return " ".join(f"{k}={stats[k]}" for k in keys)


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


def _save_config(rc: RunConfig) -> None:
    import yaml

    from wavecoder.store import atomic_path

    with atomic_path(rc.run_dir / "config.yaml") as tmp:
        tmp.write_text(yaml.safe_dump(rc.to_data(), sort_keys=False), encoding="utf-8")


def replace_section(rc: RunConfig, name: str, **changes: Any) -> RunConfig:
    """A copy of `rc` with fields of one section changed (tests and notebooks)."""
    sections = dict(rc.sections)
    sections[name] = dataclasses.replace(sections[name], **changes)
    return dataclasses.replace(rc, sections=sections)
