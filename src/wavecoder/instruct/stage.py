"""The thin shell of the `generate` and `judge` stages: clients, the loop, usage and stats.

`run_loop(gen_ctx, judge_ctx)` builds the two clients, runs `loop.Loop` on its own event loop
and computes both stages' stats from their logs (so a resumed run reports the whole run).
Usage counters (requests, cache hits, tokens, cost) cover what this process sent plus what
earlier, interrupted processes recorded in `usage.json` at the end of each of their rounds;
calls of an interrupted round are replayed from the cache and count as cache hits.
Not here: the loop itself (`loop.py`), the stage settings (`generate.py`, `judge.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from typing import TYPE_CHECKING, Any

from wavecoder.instruct.distributed import DistributedLoop
from wavecoder.instruct.loop import Loop, Side

if TYPE_CHECKING:
    from wavecoder.instruct.distributed import MapFn
from wavecoder.instruct.roles import Plan, PlanSettings
from wavecoder.llm.accounting import resolve_price
from wavecoder.llm.base import LLM, LLMConfig, build_llm
from wavecoder.records import Example, Rejected, Verdict
from wavecoder.store import StageDir

_USAGE = ("requests", "cache_hits", "prompt_tokens", "completion_tokens")


def plan_for(gen_cfg: Any, ctx: Any) -> Plan:
    settings = PlanSettings(
        mix=gen_cfg.mix,
        translate_targets=gen_cfg.translate_targets,
        repair_bugs=gen_cfg.repair_bugs,
        bug_kinds=gen_cfg.bug_kinds,
        rounds=gen_cfg.rounds,
    )
    return Plan(settings, seed=ctx.seed, select=ctx.inputs["select"], dedup=ctx.inputs["dedup"],
                shard=ctx.shard)  # fmt: skip


def _side(cfg: Any, llm: LLM, out: StageDir) -> Side:
    return Side(cfg.llm, cfg.output_format, llm, out, cfg.few_shot_good, cfg.few_shot_bad)


def run_loop(
    gen_ctx: Any, judge_ctx: Any | None, *, map_fn: MapFn | None = None, workers: int = 1
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Both stages in rounds; with `map_fn`, each round's units run on `workers` workers
    (`distributed.py`); without, here, in this process."""
    gcfg = gen_ctx.cfg
    jcfg = judge_ctx.cfg if judge_ctx is not None else None
    common = dict(plan=plan_for(gcfg, gen_ctx), seed=gen_ctx.seed, gen_out=gen_ctx.out,
                  repair_bugs=gcfg.repair_bugs, pool_cap=jcfg.pool_max if jcfg else 1)  # fmt: skip
    with contextlib.ExitStack() as stack:
        if map_fn is not None:
            loop: Loop = _distributed(map_fn, workers, gcfg, judge_ctx, common)
            assert isinstance(loop, DistributedLoop)
            tallies = loop.tallies
            books = [Usage(tallies["generator"], gcfg.llm, gen_ctx.out, "generator")]
            if judge_ctx is not None:
                books.append(Usage(tallies["judge"], judge_ctx.cfg.llm, judge_ctx.out, "judge"))
        else:
            gllm = stack.enter_context(build_llm(gcfg.llm, role="generator"))
            jllm = stack.enter_context(build_llm(jcfg.llm, role="judge")) if jcfg else None
            loop = Loop(
                **common, gen=_side(gcfg, gllm, gen_ctx.out),  # type: ignore[arg-type]
                judge=_side(jcfg, jllm, judge_ctx.out) if judge_ctx and jllm else None,
                # twice the slots of both roles: a queue in front of each, so neither idles
                # while units are bunched in the other's phase; bounded, whatever the coreset
                window=2 * (gcfg.llm.concurrency + (jcfg.llm.concurrency if jcfg else 0)),
            )  # fmt: skip
            books = [Usage(gllm, gcfg.llm, gen_ctx.out, "generator")]
            if judge_ctx is not None:
                books.append(Usage(jllm, judge_ctx.cfg.llm, judge_ctx.out, "judge"))
        try:
            if isinstance(loop, DistributedLoop):
                _drive_rounds(loop, loop.rounds(), books)
            else:
                _drive(loop, loop.run(), books)
        finally:
            loop.close()
        gen_stats = generate_stats(gen_ctx.out, loop, books[0].total())
        judge_stats = None
        if judge_ctx is not None:
            judge_stats = judge_stats_of(judge_ctx.out, gen_ctx.out, loop, books[1].total())
    return gen_stats, judge_stats


def _distributed(
    map_fn: MapFn, workers: int, gcfg: Any, judge_ctx: Any | None, common: dict[str, Any]
) -> Loop:
    from wavecoder.instruct.looplogs import Logs

    logs = Logs.open(common["gen_out"], judge_ctx.out if judge_ctx is not None else None)
    return DistributedLoop(map_fn=map_fn, workers=workers, gen_cfg=gcfg,
                           judge_cfg=judge_ctx.cfg if judge_ctx is not None else None,
                           window=1, logs=logs, **common)  # fmt: skip


def run_judge_only(ctx: Any, *, map_fn: MapFn | None = None, workers: int = 1) -> dict[str, Any]:
    cfg = ctx.cfg
    common = dict(plan=None, seed=ctx.seed, gen_out=ctx.inputs["generate"],
                  repair_bugs=_repair_bugs(ctx), pool_cap=cfg.pool_max)  # fmt: skip
    with contextlib.ExitStack() as stack:
        if map_fn is not None:
            from wavecoder.instruct.looplogs import Logs

            logs = Logs.open(ctx.inputs["generate"], ctx.out)
            spread = DistributedLoop(map_fn=map_fn, workers=workers, gen_cfg=None,
                                     judge_cfg=cfg, window=1, logs=logs, **common)  # fmt: skip
            book = Usage(spread.tallies["judge"], cfg.llm, ctx.out, "judge")
            loop: Loop = spread
        else:
            jllm = stack.enter_context(build_llm(cfg.llm, role="judge"))
            loop = Loop(**common, gen=None, judge=_side(cfg, jllm, ctx.out),  # type: ignore[arg-type]
                        window=2 * cfg.llm.concurrency)  # fmt: skip
            book = Usage(jllm, cfg.llm, ctx.out, "judge")
        try:
            if isinstance(loop, DistributedLoop):
                _drive_rounds(loop, loop.judge_rounds(ctx.inputs["dedup"]), [book])
            else:
                _drive(loop, loop.run_judge_only(ctx.inputs["dedup"]), [book])
        finally:
            loop.close()
        return judge_stats_of(ctx.out, ctx.inputs["generate"], loop, book.total())


def _repair_bugs(ctx: Any) -> str:
    fp = ctx.inputs["generate"].read_json("fingerprint", sharded=False) or {}
    return str(fp.get("config", {}).get("generate", {}).get("repair_bugs", "inject"))


def _drive_rounds(loop: DistributedLoop, rounds: Any, books: list[Usage]) -> None:
    """Run a distributed loop's rounds; usage is saved after each round and at the end."""

    def save() -> None:
        for book in books:
            book.save()

    loop.on_round = save
    try:
        loop.drive(rounds)
    finally:
        save()


def _drive(loop: Loop, coro: Any, books: list[Usage]) -> None:
    """Run the loop's coroutine on a private event loop; close the clients' HTTP sessions on it."""

    def save() -> None:
        for book in books:
            book.save()

    loop.on_round = save
    ev = asyncio.new_event_loop()
    try:
        ev.run_until_complete(coro)
    finally:
        for book in books:
            backend = getattr(book.llm, "backend", None)
            if backend is not None:
                ev.run_until_complete(backend.aclose())
            book.save()
        ev.close()


class Usage:
    """One role's usage: what earlier processes saved in `usage.json` plus this process's."""

    def __init__(self, llm: Any, cfg: LLMConfig, out: StageDir, role: str) -> None:
        self.llm, self.out, self.role = llm, out, role
        self.priced = resolve_price(cfg) is not None
        self.base = (out.read_json("usage") or {}).get("total", {})

    def total(self) -> dict[str, Any]:
        stats = self.llm.stats()
        out: dict[str, Any] = {
            k: int(stats.get(f"llm.{self.role}.{k}", 0)) + int(self.base.get(k, 0)) for k in _USAGE
        }
        cost = float(stats.get(f"llm.{self.role}.cost_usd", 0.0))
        out["cost_usd"] = (
            round(cost + float(self.base.get("cost_usd") or 0.0), 6) if self.priced else None
        )
        return out

    def save(self) -> None:
        self.out.write_json("usage", {"total": self.total(), "model": self.llm.identity})


def generate_stats(out: StageDir, loop: Loop, use: dict[str, Any]) -> dict[str, Any]:
    by_task: dict[str, Counter[str]] = {}
    for task in loop.task_of.values():
        by_task.setdefault(task, Counter())["in"] += 1
    examples = 0
    for ex in out.read_records("records", Example):
        examples += 1
        by_task.setdefault(ex.task, Counter())["out"] += 1
    reasons: Counter[str] = Counter()
    for rej in out.read_rejected():
        reasons[rej.reason] += 1
        task = loop.task_of.get(rej.id, "unknown")
        by_task.setdefault(task, Counter())["rejected"] += 1
        by_task[task][f"rejected.{rej.reason}"] += 1
    stats: dict[str, Any] = {"in": len(loop.task_of) or examples + sum(reasons.values()),
                             "out": examples}  # fmt: skip
    stats.update({f"rejected.{r}": n for r, n in sorted(reasons.items())})
    stats["reasks"] = loop.counters.reasks.get("generator", 0)
    stats["by_task"] = {t: dict(sorted(c.items())) for t, c in sorted(by_task.items())}
    stats["usage"] = use
    return stats


def judge_stats_of(
    out: StageDir, gen_out: StageDir, loop: Loop, use: dict[str, Any]
) -> dict[str, Any]:
    task_of = {ex.id: ex.task for ex in gen_out.read_records("records", Example)}
    by_task: dict[str, Counter[str]] = {}
    judged = accepted = 0
    for v in out.read_records("records", Verdict):
        judged += 1
        c = by_task.setdefault(task_of.get(v.example_id, "unknown"), Counter())
        c["in"] += 1
        c["out"] += int(v.accepted)
        accepted += int(v.accepted)
        for r in v.rules:
            c[f"rule.{r.rule}.{r.answer}"] += 1
    reasons: Counter[str] = Counter()
    for rej in out.read_records("rejected", Rejected):
        reasons[rej.reason] += 1
        by_task.setdefault(task_of.get(rej.id, "unknown"), Counter())["rejected"] += 1
    stats: dict[str, Any] = {"in": judged, "out": accepted}
    stats.update({f"rejected.{r}": n for r, n in sorted(reasons.items())})
    stats["reasks"] = loop.counters.reasks.get("judge", 0)
    stats["by_task"] = {t: dict(sorted(c.items())) for t, c in sorted(by_task.items())}
    stats["usage"] = use
    return stats
