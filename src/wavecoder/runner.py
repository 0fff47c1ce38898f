"""Running one stage (or a generate/judge pair) into its folder: skip it when done, refuse it
when stale, run the missing shards of a sharded folder, write stats and the done marker last.
`run_pipeline` (in `wavecoder.pipeline`) plans and checks the whole run, then calls these
through its executor. Not here: the plan, preflight, the stage table.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from wavecoder.executors import (
    spread_kwargs,
)
from wavecoder.fingerprints import _path_key, describe_change, fingerprint_record, paired_sections
from wavecoder.runconfig import RunConfig
from wavecoder.stages import (
    PipelineError,
    StageContext,
    StageSpec,
    StaleStageError,
    Stats,
    load_stage,
    stage_inputs,
)
from wavecoder.store import RunStore, Shard, StageDir

log = logging.getLogger("wavecoder.pipeline")  # the name users filter the run's lines by


def completion(sd: StageDir) -> tuple[str, list[int]]:
    """("done" | "partial" | "pending", missing shard indexes) for a stage folder."""
    return sd.completion()


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


def round_(x: float) -> float:
    return float(f"{x:.3f}")


def _brief(stats: Stats) -> str:
    keys = [k for k in ("in", "out") if k in stats]
    return " ".join(f"{k}={stats[k]}" for k in keys)
