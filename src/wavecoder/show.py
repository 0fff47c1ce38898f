"""Explaining a run to someone who did not start it: the `status` table and `show` records.

Reads only; never changes a run directory. Not here: running stages (`wavecoder.pipeline`).
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

from wavecoder import config as cfgmod
from wavecoder import pipeline as pl
from wavecoder.store import RunStore, Shard, StageDir, read_jsonl


def _settings(
    run_dir: Path, spec: pl.StageSpec, sd: StageDir, saved: dict[str, Any] | None, store: RunStore
) -> str:
    old = sd.read_json("fingerprint", sharded=False)
    if not old:
        return "-"
    if saved is None:
        return "no config.yaml"
    try:
        module = pl.load_stage(spec)
        section = cfgmod.build(module.Config, saved.get(spec.name) or {}, where=spec.name)
    except (pl.PipelineError, cfgmod.ConfigError) as exc:
        return f"unreadable: {exc}"
    inputs = {name: store.stage(name) for name in pl.stage_inputs(module, section)}
    extra = None
    paired = getattr(module, "PAIRED_WITH", None)
    if paired:
        sec = cfgmod.build(pl.load_stage(pl.stage_spec(paired)).Config, saved.get(paired) or {},
                           where=paired)  # fmt: skip
        extra = pl.paired_sections(module, {paired: sec})
    new = pl.fingerprint_record(
        spec, module, section, int(saved.get("seed", 42)), inputs, extra=extra
    )
    if new["fingerprint"] == old["fingerprint"]:
        return "match"
    return f"stale ({pl.describe_change(old, new)})"


def _shards_done(sd: StageDir) -> dict[str, Any]:
    """Seconds summed and the last finish time over a sharded stage's finished shards."""
    count = (sd.layout() if sd.path.is_dir() else None) or 0
    marks = [sd.with_shard(Shard(i, count)).read_json("done") for i in range(count)]
    marks = [m for m in marks if m]
    if not marks:
        return {}
    return {
        "seconds": sum(float(m.get("seconds", 0.0)) for m in marks),
        "finished_at": max(str(m.get("finished_at", "")) for m in marks),
    }


def status_rows(run_dir: Path) -> list[tuple[str, ...]]:
    """One row per pipeline stage: state, counts, fingerprint check, seconds, finish time."""
    store = RunStore(run_dir)
    saved = None
    if (run_dir / "config.yaml").exists():
        saved = cfgmod.load_yaml(run_dir / "config.yaml")
    rows: list[tuple[str, ...]] = []
    names = [spec.name for spec in pl.STAGES]
    stop = (saved or {}).get("stop_after")
    last = names.index(stop) if stop in names else len(names) - 1
    for i, spec in enumerate(pl.STAGES):
        sd = store.stage(spec.name)
        state, missing = pl.completion(sd)
        if state == "pending" and i > last:
            state = f"pending (after stop_after: {stop})"
        if missing:
            state = f"{state} (shards {','.join(map(str, missing))} missing)"
        done = sd.read_json("done", sharded=False) or _shards_done(sd)
        records = sd.count_records("records") if sd.path.exists() else 0
        if not records and (sd.path / "ids.txt").exists():  # array stages: vectors + ids
            records = len((sd.path / "ids.txt").read_text(encoding="utf-8").split())
        if not records and (sd.path / "data").is_dir():  # export: instances in data/ files
            records = int(done.get("stats", {}).get("out", 0))
        rejected = sd.count_records("rejected") if sd.path.exists() else 0
        rows.append(
            (
                spec.name,
                state,
                str(records) if not state.startswith("pending") else "-",
                str(rejected) if not state.startswith("pending") else "-",
                _settings(run_dir, spec, sd, saved, store),
                f"{done['seconds']:.1f}" if "seconds" in done else "-",
                str(done.get("finished_at", "-")),
            )
        )
    return rows


def _render(obj: dict[str, Any]) -> str:
    lines = []
    for key, value in obj.items():
        if isinstance(value, str) and "\n" in value:
            body = "\n".join("    " + line for line in value.splitlines())
            lines.append(f"  {key}:\n{body}")
        else:
            lines.append(f"  {key}: {json.dumps(value, ensure_ascii=False)}")
    return "\n".join(lines)


def show_stage(run_dir: Path, stage: str, *, n: int = 5, rejected: bool = False) -> None:
    """Print the first `n` records (or rejected records) of a stage, one block each."""
    pl.stage_spec(stage)  # a clear error for a misspelt stage
    if stage in ("generate", "judge") and not rejected:
        from wavecoder.instruct.inspect import funnel_lines, show_cases

        if show_cases(run_dir, stage, n=n):
            print("\n".join(funnel_lines(run_dir)))
            return
    sd = RunStore(run_dir).stage(stage)
    if stage == "export" and not rejected:  # instances with their lineage and verdicts
        from wavecoder.instruct.export_show import show

        if show(sd, n):
            return
    name = "rejected" if rejected else "records"
    parts = sd.parts(name)
    if not parts:
        stats = None if rejected else sd.read_json("stats")
        if stats:  # stages whose output is not records (train, eval): their figures
            print(f"── {stage} stats ({sd.path}) ──")
            print(_render(stats))
        else:
            print(f"{stage}: no {name} in {sd.path}")
        return
    total = sd.count_records(name)
    rows = itertools.chain.from_iterable(read_jsonl(p) for p in parts)
    for i, (_, obj) in enumerate(itertools.islice(rows, n)):
        print(f"── {stage} {name} {i + 1}/{total} ──")
        print(_render(obj))
    if rejected:
        reasons: dict[str, int] = {}
        for rec in sd.read_rejected():
            reasons[rec.reason] = reasons.get(rec.reason, 0) + 1
        print("reasons: " + ", ".join(f"{r}={c}" for r, c in sorted(reasons.items())))
