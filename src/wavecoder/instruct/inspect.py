"""What `wavecoder status` and `wavecoder show RUN generate|judge` print about instruction data.

`funnel_lines(run_dir)`: selected codes -> generated cases -> judged -> accepted, with every drop
reason and the acceptance by task, from the stages' stats. `show_cases(run_dir, stage, n)`:
the first cases with the judge's verdict beside each, rule by rule. Reads only.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from wavecoder.records import Example, Verdict
from wavecoder.store import RunStore


def _reasons(stats: dict[str, Any]) -> str:
    parts = [f"{k.removeprefix('rejected.')} {v}" for k, v in stats.items()
             if k.startswith("rejected.") and v]  # fmt: skip
    return f" (dropped: {', '.join(parts)})" if parts else ""


def funnel_lines(run_dir: Path) -> list[str]:
    from wavecoder.pipeline import stage_stats

    store = RunStore(run_dir)
    # a sharded run sums its shards' counts (per-task and usage figures: the first shard's)
    gen, judge = stage_stats(store.stage("generate")), stage_stats(store.stage("judge"))
    if not gen:
        return []
    line = f"instruction funnel: {gen.get('in', 0)} selected -> {gen.get('out', 0)} generated"
    line += _reasons(gen)
    if judge:
        line += f" -> {judge.get('in', 0)} judged -> {judge.get('out', 0)} accepted"
        line += _reasons(judge)
    lines = [line]
    tasks = judge.get("by_task") or gen.get("by_task") or {}
    per = []
    for task, counts in sorted(tasks.items()):
        made = (gen.get("by_task") or {}).get(task, {}).get("in", counts.get("in", 0))
        per.append(f"{task} {counts.get('out', 0)}/{made}")
    if per:
        lines.append("  accepted by task (of codes given the task): " + ", ".join(per))
    for role, stats in (("generator", gen), ("judge", judge)):
        u = stats.get("usage")
        if u:
            cost = "unpriced" if u.get("cost_usd") is None else f"${u['cost_usd']:.4f}"
            lines.append(
                f"  {role}: {u['requests']} requests, {u['cache_hits']} cached, "
                f"{u['prompt_tokens']:,} + {u['completion_tokens']:,} tokens, {cost}"
            )
    return lines


def show_cases(run_dir: Path, stage: str, *, n: int = 5) -> bool:
    """Print `n` cases of `generate` (with their verdicts when judged) or of `judge`."""
    store = RunStore(run_dir)
    gen, judge = store.stage("generate"), store.stage("judge")
    if not gen.parts("records"):
        return False
    verdicts: dict[str, Verdict] = {}
    if judge.parts("records"):
        verdicts = {v.example_id: v for v in judge.read_records("records", Verdict)}
    examples = gen.read_records("records", Example)
    if stage == "judge":
        examples = (ex for ex in examples if ex.id in verdicts)
    total = gen.count_records("records") if stage == "generate" else len(verdicts)
    for i, ex in enumerate(itertools.islice(examples, n)):
        target = f" -> {ex.target_language}" if ex.target_language else ""
        head = f"{ex.task} ({ex.language}{target}), round {ex.round}"
        print(f"── {stage} case {i + 1}/{total}: {head} ──")
        for key in ("task_name", "instruction", "information", "solution"):
            _field(key, getattr(ex, key))
        for key, value in sorted(ex.meta.items()):
            if key != "buggy_code":
                _field(key, value)
        v = verdicts.get(ex.id)
        if v is not None:
            verdict = "accepted" if v.accepted else f"rejected (overall {v.overall or 'unparsed'})"
            print(f"  verdict: {verdict}, judge {v.model}")
            for r in v.rules:
                print(f"    [{r.answer:>3}] {r.rule}: {r.reason}")
            if v.reasons:
                _field("reasons", v.reasons)
    return True


def _field(key: str, value: str) -> None:
    if "\n" in value:
        body = "\n".join("    " + line for line in value.splitlines())
        print(f"  {key}:\n{body}")
    else:
        print(f"  {key}: {value}")
