"""Explaining a run to someone who did not start it: the `status` table, `show` records, and
the evaluation's results table.

`show` prints each record's own fields and, for a record that points at others (`code_id`,
`example_id`, a rejected record's `id`: any `id` / `*_id` field naming a record of an earlier
stage), what it points at, followed to the code: language, path, function and its source. This
works for any stage whose records carry such ids, whatever stage adds them. Reads only; never
changes a run directory. Not here: running stages (`wavecoder.pipeline`).
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from wavecoder import config as cfgmod
from wavecoder import pipeline as pl
from wavecoder.store import RunStore, Shard, StageDir, read_jsonl, shard_of


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


def _shard_states(sd: StageDir) -> str:
    """What each missing shard of a sharded stage is doing: ": 1 running, 2 failed" (a failure
    file the Ray executor wrote; running: parts written, no done marker yet), "" when every
    missing shard is simply pending."""
    count = sd.layout() or 0
    seen: dict[str, set[int]] = {"done": set(), "failed": set(), "running": set()}
    for entry in sd.path.iterdir():
        part = shard_of(entry.name)
        if part is not None and part.count == count:
            kind = entry.name.split(".", 1)[0]
            seen[kind if kind in ("done", "failed") else "running"].add(part.index)
    missing = [i for i in range(count) if i not in seen["done"]]
    states = {i: "failed" if i in seen["failed"] else "running" for i in seen["running"]}
    states.update({i: "failed" for i in seen["failed"]})
    if not any(i in states for i in missing):
        return ""
    return ": " + ", ".join(f"{i} {states.get(i, 'pending')}" for i in missing)


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
            state = f"{state} (shards {','.join(map(str, missing))} missing{_shard_states(sd)})"
        elif state == "partial" and (sd.path / "failed.json").exists():
            state = "failed (see failed.json)"
        done = sd.read_json("done", sharded=False) or _shards_done(sd)
        if state == "done" and (done.get("stats") or {}).get("enabled") is False:
            state = f"off ({spec.name}.enabled: false)"  # an optional stage (verify)
        records = _output_count(sd, done)
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


def print_status(run_dir: Path) -> None:
    header = ("stage", "state", "records", "rejected", "settings", "seconds", "finished")
    print(f"run {run_dir}")
    print(table([header, *status_rows(run_dir)]))
    from wavecoder.instruct.inspect import funnel_lines

    for line in funnel_lines(run_dir):
        print(line)


def print_eval_results(run_dir: Path) -> None:
    rows = eval_results(run_dir)
    if rows:
        print(f"eval results ({run_dir / 'eval'})")
        print(table(rows))


def _output_count(sd: StageDir, done: dict[str, Any]) -> int:
    """What a stage wrote: records, else vectors (ids.txt), else its `out` stat, else its
    per-benchmark reports (eval)."""
    if not sd.path.exists():
        return 0
    records = sd.count_records("records")
    if records:
        return records
    ids = sd.parts("ids", ".txt")  # array stages: vectors + ids (one file per shard)
    if ids:
        return sum(len(p.read_text(encoding="utf-8").split()) for p in ids)
    out = (done.get("stats") or {}).get("out")
    if isinstance(out, int):
        return out
    return len(list(sd.path.glob("*/summary.json")))


def eval_results(run_dir: Path) -> list[tuple[str, ...]]:
    """Rows (benchmark, pass@k..., samples) of the eval stage's per-benchmark summaries."""
    folder = RunStore(run_dir).stage("eval").path
    summaries = {
        p.parent.name: json.loads(p.read_text(encoding="utf-8"))
        for p in sorted(folder.glob("*/summary.json"))
    }
    ks = sorted({k for s in summaries.values() for k in s if k.startswith("pass@")}, key=_k)
    rows: list[tuple[str, ...]] = [("benchmark", *ks, "samples")]
    for name, summary in summaries.items():
        cells = [f"{summary[k]:.3f}" if isinstance(summary.get(k), float) else "-" for k in ks]
        rows.append((name, *cells, str(summary.get("samples", "-"))))
    return rows if summaries else []


def _k(key: str) -> tuple[int, str]:
    digits = re.sub(r"\D", "", key.split("@", 1)[1])
    return (int(digits) if digits else 0, key)


def table(rows: Iterable[tuple[str, ...]]) -> str:
    rows = list(rows)
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  " + "  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows
    )


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
    if stage == "verify" and not rejected:  # its executions, then the judge against them
        from wavecoder.instruct.agreement import show_verify

        show_verify(sd, n)
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
    shown = [obj for _, obj in itertools.islice(rows, n)]
    targets = _resolve(run_dir, stage, shown)
    for i, obj in enumerate(shown):
        print(f"── {stage} {name} {i + 1}/{total} ──")
        print(_render(obj))
        for line in _pointed_at(obj, targets, depth=0):
            print(line)
    if rejected:
        reasons: dict[str, int] = {}
        for rec in sd.read_rejected():
            reasons[rec.reason] = reasons.get(rec.reason, 0) + 1
        print("reasons: " + ", ".join(f"{r}={c}" for r, c in sorted(reasons.items())))


# --- what records point at ------------------------------------------------------------------

_POINTER = re.compile(r"^(?:id|\w+_id)$")
_MAX_CODE_LINES = 40


def _pointers(obj: dict[str, Any]) -> list[str]:
    if _is_code(obj):  # a Code record shows its code itself; its id points at an older copy
        return []
    return [v for k, v in obj.items() if _POINTER.match(k) and isinstance(v, str) and v]


def _is_code(obj: dict[str, Any]) -> bool:
    return "code" in obj and "language" in obj


def _resolve(run_dir: Path, stage: str, shown: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The records (of the stages before `stage`, nearest first) that `shown` points at,
    followed up to three links (a verdict -> its example -> its code)."""
    names = [spec.name for spec in pl.STAGES]
    before = names[: names.index(stage)][::-1] if stage in names else names[::-1]
    store = RunStore(run_dir)
    found: dict[str, dict[str, Any]] = {}
    wanted = {p for obj in shown for p in _pointers(obj)}
    for _ in range(3):
        wanted -= found.keys()
        if not wanted:
            break
        new = _find(store, before, wanted)
        found.update(new)
        wanted = {p for obj in new.values() for p in _pointers(obj) if p != obj.get("id")}
    return found


def _find(store: RunStore, stages: list[str], wanted: set[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for name in stages:
        for part in store.stage(name).parts("records"):
            for _, obj in read_jsonl(part):
                key = obj.get("id")
                if key in wanted and key not in found:
                    found[key] = obj
                    if len(found) == len(wanted):
                        return found
    return found


def _pointed_at(
    obj: dict[str, Any], targets: dict[str, dict[str, Any]], *, depth: int
) -> list[str]:
    lines: list[str] = []
    for ref in _pointers(obj):
        target = targets.get(ref)
        if target is None or target is obj or depth > 2:
            continue
        if _is_code(target):
            lines += _code_lines(target)
        else:
            lines += _pointed_at(target, targets, depth=depth + 1)
    return lines


def _code_lines(code: dict[str, Any]) -> list[str]:
    where = "/".join(x for x in (code.get("repo"), code.get("path")) if x)
    span = code.get("span")
    where += f":{span[0]}-{span[1]}" if span else ""
    name = code.get("func_name") or "?"
    licence = f", {code['license']}" if code.get("license") else ""
    head = f"  code: {code['language']} {name} in {where or code.get('source', '?')}{licence}"
    body = str(code["code"]).splitlines()
    more = len(body) - _MAX_CODE_LINES
    shown = [f"    | {line}" for line in body[:_MAX_CODE_LINES]]
    return [head, *shown, *([f"    | ... ({more} more lines)"] if more > 0 else [])]
