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
    # generate -> judge (the instruct helper's lines) come here, before export
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

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "run_dir": str(self.run_dir),
            "seed": self.seed,
            "stop_after": self.stop_after,
        }
        data.update({k: cfgmod.to_data(v) for k, v in self.sections.items()})
        return data


_TOP_KEYS = ("run_dir", "seed", "stop_after")


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
    return RunConfig(Path(data.get("run_dir") or "runs/default"), seed, stop_after, sections)


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
    spec: StageSpec, module: ModuleType, section: Any, seed: int, inputs: dict[str, StageDir]
) -> dict[str, Any]:
    upstream = {}
    for name, sd in sorted(inputs.items()):
        fp = sd.read_json("fingerprint", sharded=False)
        upstream[name] = fp["fingerprint"] if fp else "external"
    body = {
        "stage": spec.name,
        "version": int(module.VERSION),
        "seed": seed,
        "config": {spec.name: fingerprinted(section)},
        "inputs": upstream,
    }
    return {"fingerprint": stable_hash(body, length=20), **body}


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
    if (sd.path / "done.json").exists():
        return "done", []
    markers = list(sd.path.glob("done.shard-*-of-*.json"))
    if markers:
        count = int(markers[0].name.split("-of-")[1].split(".")[0])
        have = {int(m.name.split("shard-")[1].split("-of")[0]) for m in markers}
        missing = [i for i in range(count) if i not in have]
        return ("done" if not missing else "partial"), missing
    if (sd.path / "fingerprint.json").exists():
        return "partial", []
    return "pending", []


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
) -> Stats | None:
    """Run one stage into `out` unless it is already done; returns its stats (None if skipped)."""
    module = load_stage(spec)
    if out.shard and not getattr(module, "SHARDABLE", True):
        raise PipelineError(f"stage {spec.name!r} needs all records at once and cannot be sharded")
    for name, sd in inputs.items():
        state, missing = completion(sd)
        if state != "done" and out.shard and missing and out.shard.index not in missing:
            state = "done"  # a sharded run needs only its own shard of the upstream stage
        if state != "done":
            detail = f" (shards {missing} missing)" if missing else ""
            raise PipelineError(
                f"stage {spec.name!r} reads {name!r} at {sd.path}, which is not finished{detail}"
            )
    fp = fingerprint_record(spec, module, section, seed, inputs)
    old = out.read_json("fingerprint", sharded=False)
    if force:
        out.clear()
    elif old and old["fingerprint"] != fp["fingerprint"]:
        raise StaleStageError(
            f"stage {spec.name!r} in {out.path} was made with other settings "
            f"({describe_change(old, fp)}); rerun it and the stages after it with "
            f"--force {spec.name}, or restore the settings"
        )
    elif out.is_done():
        log.info("%s: done already, skipped", spec.name)
        return None
    out.path.mkdir(parents=True, exist_ok=True)
    out.write_json("fingerprint", fp, sharded=False)
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
    log.info("%s: running", spec.name)
    start = time.monotonic()
    stats = dict(module.run(ctx) or {})
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
    log.info("%s: done in %.1fs %s", spec.name, seconds, _brief(stats))
    return stats


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
) -> dict[str, Stats | None]:
    """Run the configured stages in order; finished ones with matching fingerprints are skipped."""
    stages = stages or STAGES
    store = RunStore(rc.run_dir, shard=shard)
    rc.run_dir.mkdir(parents=True, exist_ok=True)
    _save_config(rc)
    todo, forced = select_stages(stages, start=start, stop=stop or rc.stop_after, force=force)
    preflight(todo, rc)
    check_inputs(todo, rc, store)
    results: dict[str, Stats | None] = {}
    for spec in todo:
        module = load_stage(spec)
        if shard and not getattr(module, "SHARDABLE", True):
            log.warning(
                "%s needs every shard's records: run it without --shard once all %d "
                "shards are done",
                spec.name,
                shard.count,
            )
            break
        section = rc.sections[spec.name]
        inputs = {name: store.stage(name) for name in stage_inputs(module, section)}
        out = store.stage(spec.name)
        results[spec.name] = run_stage(
            spec,
            section,
            out,
            inputs=inputs,
            seed=rc.seed,
            force=spec.name in forced,
            quiet=quiet,
        )
    return results


def preflight(todo: Sequence[StageSpec], rc: RunConfig) -> None:
    """Each stage's own checks, before the first stage runs (a wrong eval setting must not
    surface after hours of training)."""
    for spec in todo:
        check = getattr(load_stage(spec), "preflight", None)
        if check is not None:
            check(rc.sections[spec.name])


def check_inputs(todo: Sequence[StageSpec], rc: RunConfig, store: RunStore) -> None:
    """Every input of a stage to run has run (at least partly) or runs before it: a missing one
    stops the run before its first stage, not when the stage that needs it comes up."""
    planned: set[str] = set()
    for spec in todo:
        module = load_stage(spec)
        for name in stage_inputs(module, rc.sections[spec.name]):
            if name not in planned and completion(store.stage(name))[0] == "pending":
                hint = getattr(module, "MISSING_INPUT_HINT", "")
                raise PipelineError(
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
