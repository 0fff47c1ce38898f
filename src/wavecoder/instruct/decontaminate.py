"""Stage `decontaminate`: drop (or flag) accepted instances that copy a benchmark solution.

Sits between `judge` (and `verify`) and `export`. Reads the `Example` records of `generate` whose
`Verdict` in `judge` is accepted (the last verdict of an example counts) and that `verify` did not
drop (its `rejected.jsonl`; empty when verify is off), matches them against every
reference set (`decontaminate_core`) and writes, in its folder:

    records.jsonl   the clean `Example`s (with `action: flag`, every accepted one)
    rejected.jsonl  `Rejected(id, "decontaminate", "decontaminate.<level>", detail)`: the match
                    that decided (benchmark, problem id, score, span), then how many more
    matches.jsonl   every match: id, benchmark, problem_id, split, level, score, span
    report.json     counts per level and benchmark, the resolved settings, every match
    leakage.json, leakage.png   the leakage report (embedding level on, `leakage_report`) of
                    the instances kept (`action: drop`), with the figures before the drops

Resuming: every file is written atomically and the runner writes `done.json` last, so a killed
run leaves no file that passes for finished and the rerun starts over; the stage is minutes at
most (the n-gram scan is seconds per 100,000 instances, the embedding dominates). Not here: the
matching (`decontaminate_core`), the command on instruction files (`decontaminate_cli`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from wavecoder.instruct.decontaminate_core import (
    Config,
    Item,
    Match,
    Scan,
    find_matches,
    first_match,
    summarize,
)
from wavecoder.instruct.decontaminate_refs import Reference, load_references
from wavecoder.records import Example, Rejected, Verdict
from wavecoder.store import write_json_atomic, write_jsonl_atomic

log = logging.getLogger(__name__)

__all__ = ["INPUTS", "SHARDABLE", "VERSION", "Config", "preflight", "run"]

VERSION = 2  # 2: reads verify's drops
INPUTS = ("generate", "judge", "verify")
SHARDABLE = False  # the leakage report needs every instance's nearest neighbours


def example_item(ex: Example) -> Item:
    """The text scanned is the whole instance; the code embedded is its solution."""
    parts = [ex.instruction]
    if ex.information and ex.information != "<noinput>":
        parts.append(ex.information)
    parts.append(ex.solution)
    return Item(ex.id, "\n".join(parts), ex.solution)


def accepted_examples(ctx: Any) -> list[Example]:
    verdicts: dict[str, bool] = {}
    for v in ctx.inputs["judge"].read_records("records", Verdict):
        verdicts[v.example_id] = v.accepted
    verify = ctx.inputs.get("verify")
    failed = (
        {r.id for r in verify.read_rejected()} if verify and verify.parts("rejected") else set()
    )
    return [
        ex
        for ex in ctx.inputs["generate"].read_records("records", Example)
        if verdicts.get(ex.id, False) and ex.id not in failed
    ]


def references(cfg: Config) -> list[Reference]:
    data = Path(cfg.data) if cfg.data else None
    return load_references(cfg.benchmarks, data=data, files=[Path(f) for f in cfg.reference_files])


def rejections(
    items: Sequence[Item], matches: Sequence[Match], *, stage: str = "decontaminate"
) -> list[Rejected]:
    """One `Rejected` per contaminated item: the deciding match, and how many others."""
    texts = {it.id: it.text for it in items}
    counts: dict[str, int] = {}
    for m in matches:
        counts[m.item_id] = counts.get(m.item_id, 0) + 1
    out = []
    for item_id, m in first_match(matches).items():
        more = counts[item_id] - 1
        detail = m.describe(texts[item_id]) + (f"; {more} more in matches.jsonl" if more else "")
        out.append(Rejected(item_id, stage, f"decontaminate.{m.level}", detail))
    return out


def write_outputs(
    folder: Path, cfg: Config, items: Sequence[Item], refs: Sequence[Reference], scan: Scan
) -> dict[str, Any]:
    """matches.jsonl, report.json and the leakage report; returns the summary counts."""
    from wavecoder.config import to_data

    summary = summarize(items, scan.matches)
    rows = [m.to_dict() for m in scan.matches]
    write_jsonl_atomic(folder / "matches.jsonl", rows)
    if scan.nearest is not None and cfg.leakage_report:
        write_leakage(folder, refs, items, scan, after_drops=cfg.action == "drop")
    write_json_atomic(folder / "report.json", {**summary, "config": to_data(cfg), "matches": rows})
    return summary


def write_leakage(
    folder: Path,
    refs: Sequence[Reference],
    items: Sequence[Item],
    scan: Scan,
    *,
    after_drops: bool = False,
) -> dict[str, Any]:
    """leakage.json + leakage.png; `after_drops`: over the instances kept (the data that goes
    on), else over every instance checked."""
    from wavecoder.instruct.leakage import leakage_report, plot_leakage

    assert scan.nearest is not None
    report = leakage_report(
        refs, items, scan.nearest, embedder=scan.nearest.model, after_drops=after_drops
    )
    write_json_atomic(folder / "leakage.json", report)
    plot_leakage(report, folder / "leakage.png")
    return report


def preflight(cfg: Config) -> None:
    """The reference files and the benchmark folder exist (before hours of generation)."""
    from wavecoder.config import ConfigError

    missing = [f for f in cfg.reference_files if not Path(f).is_file()]
    if missing:
        raise ConfigError(f"decontaminate.reference_files: no such file {', '.join(missing)}")
    if cfg.data and not Path(cfg.data).exists():
        raise ConfigError(f"decontaminate.data: {cfg.data} does not exist")


def run(ctx: Any) -> dict[str, Any]:
    cfg: Config = ctx.cfg
    examples = accepted_examples(ctx)
    if not examples:  # nothing to check: no reference set is loaded (nor downloaded)
        log.warning("decontaminate: no accepted instance to check")
        ctx.out.write_records("records", [])
        ctx.out.write_rejected([])
        write_jsonl_atomic(ctx.out.path / "matches.jsonl", [])
        return {"in": 0, "out": 0, "matches": 0, "contaminated": 0}
    items = [example_item(ex) for ex in examples]
    refs = references(cfg)
    scan = find_matches(items, refs, cfg)
    rejected = rejections(items, scan.matches) if cfg.action == "drop" else []
    dropped = {r.id for r in rejected}
    kept = ctx.out.write_records("records", (ex for ex in examples if ex.id not in dropped))
    ctx.out.write_rejected(rejected)
    summary = write_outputs(ctx.out.path, cfg, items, refs, scan)
    stats: dict[str, Any] = {"in": len(examples), "out": kept, "matches": summary["matches"]}
    stats["contaminated"] = summary["contaminated"]
    for r in rejected:
        stats[f"rejected.{r.reason}"] = stats.get(f"rejected.{r.reason}", 0) + 1
    return stats
