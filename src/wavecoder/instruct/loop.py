"""The generator-discriminator loop: rounds of units, each generated, pre-filtered and judged.

How generate and judge interleave: the coreset is cut into `rounds` slices in rank order.
Within a round every unit runs on its own as soon as a slot is free: generate (re-asked once
on a parse failure), pre-filter, then at once judge (re-asked once on an unparseable verdict),
so both endpoints are busy together and no stage waits for the other's tail. Every prompt of
round r samples the pools as they stood at the end of round r-1 (`pools.pools_before`), so
what is sent, and with the cache the whole dataset, does not depend on concurrency or on the
order replies arrive in. Between rounds the loop waits for the round's last unit.

Writes, one line per finished unit, flushed at once (kill -9 safe; a rerun skips what is there):
    generate/records.jsonl   Example            generate/rejected.jsonl  Rejected(code id)
    judge/records.jsonl      Verdict            judge/rejected.jsonl     Rejected(example id)
    judge/pool.jsonl         the pool case of each judged example (the example database)
A unit whose generation is logged but whose verdict is not is judged on resume. At most
`window` units are in flight, so memory stays flat however large the coreset. Raw replies are
kept: in Example.raw and Verdict.raw, and for a failed unit in its Rejected.detail after a
`--- reply ---` line. Not here: config (the stage modules), prompts (`render.py`).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from wavecoder.instruct import render
from wavecoder.instruct.looplogs import Logs
from wavecoder.instruct.parsing import Case, ParseFailure, parse_case
from wavecoder.instruct.pools import Draws, Pools, pool_case, pools_before
from wavecoder.instruct.prefilter import Rejection, prefilter
from wavecoder.instruct.roles import Plan, RoleConfig, request, unit_of_example
from wavecoder.instruct.task import Unit
from wavecoder.instruct.tasks import spec_for
from wavecoder.instruct.verdict import ParsedVerdict, VerdictFailure, parse_verdict
from wavecoder.llm.base import LLM, BudgetExceeded, Request, Response
from wavecoder.records import Code, Example, Rejected, Verdict
from wavecoder.store import StageDir

log = logging.getLogger(__name__)
#: (round, its units, code id -> example generated earlier and not judged yet)
Round = tuple[int, Iterator[Unit], dict[str, Example]]

REASK = (
    "Your reply could not be used: {error}. Write it again: exactly one, in the format asked "
    "for, and nothing else."
)


@dataclass(frozen=True)
class Side:
    """One role in the loop: its settings, client and stage folder."""

    cfg: RoleConfig
    fmt: str  # output format of this role's replies: text | json | json_schema
    llm: LLM
    out: StageDir | None  # None on a worker of a distributed run (the driver writes)
    k_good: int
    k_bad: int


@dataclass
class Counters:
    reasks: Counter[str] = field(default_factory=Counter)
    budget_hit: dict[str, bool] = field(default_factory=dict)


def _detail(message: str, *replies: str) -> str:
    raw = "\n--- reply ---\n".join(r for r in replies if r)
    return f"{message}\n--- reply ---\n{raw}" if raw else message


def _case_of(ex: Example) -> Case:
    return Case(ex.task_name, ex.instruction, ex.information, ex.solution)


class Loop:
    def __init__(
        self,
        *,
        plan: Plan | None,
        seed: int,
        gen: Side | None,
        judge: Side | None,
        gen_out: StageDir | None,
        repair_bugs: str,
        pool_cap: int,
        window: int,
        logs: Logs | None = None,
    ) -> None:
        self.plan, self.seed, self.gen, self.judge = plan, seed, gen, judge
        self.repair_bugs = repair_bugs
        self.pool_cap, self.window = pool_cap, window
        self.counters = Counters()
        self.on_round: Any = None  # called after each round (the stage saves its usage)
        self._round_pools: Pools | Draws = Pools(())
        self.task_of: dict[str, str] = {}  # code id -> task (for per-task stats)
        if logs is None:
            assert gen_out is not None
            logs = Logs.open(gen_out, judge.out if judge is not None else None)
        self.logs = logs
        self.examples_log, self.gen_rejected = logs.examples, logs.rejected
        self.judge_logs = logs.judge

    def close(self) -> None:
        for lg in self.logs.all():
            lg.close()

    # -- rounds ------------------------------------------------------------------------------
    async def run(self) -> None:
        for r, units, pending in self.rounds():
            await self._round(r, units, pending)

    async def run_judge_only(self, dedup: StageDir) -> None:
        """Judge every logged example that has no verdict yet (the judge stage on its own)."""
        for r, units, pending in self.judge_rounds(dedup):
            await self._round(r, units, pending)

    def rounds(self) -> Iterator[Round]:
        """Each round's units and the verdicts it owes; its pools are read when it is reached,
        so after the previous round is written."""
        assert self.plan is not None
        for r in range(self.plan.settings.rounds):
            self._round_pools = pools_before(self._pool_path(), r, cap=self.pool_cap)
            pending = self._pending_verdicts(r)
            yield r, (u for u in self.plan.units(r) if self._note(u)), pending

    def judge_rounds(self, dedup: StageDir) -> Iterator[Round]:
        """The rounds of the logged examples that have no verdict yet."""
        for r in sorted({ex.round for ex in self.examples_log_records()}):
            self._round_pools = pools_before(self._pool_path(), r, cap=self.pool_cap)
            pending = self._pending_verdicts(r)
            codes = _codes(dedup, {ex.code_id for ex in pending.values()})
            yield r, (unit_of_example(ex, codes[cid]) for cid, ex in pending.items()), pending

    async def run_units(
        self, r: int, pools: Pools | Draws, units: Iterable[Unit], pending: dict[str, Example]
    ) -> None:
        """One round's units against a given pool snapshot (a worker of a distributed run)."""
        self._round_pools = pools
        await self._round(r, (u for u in units if self._note(u)), pending)

    def _note(self, unit: Unit) -> bool:
        self.task_of[unit.code.id] = unit.task
        return True

    def _pool_path(self) -> Any:
        return self.judge_logs[0].path if self.judge_logs else None

    async def _round(self, r: int, units: Iterator[Unit], pending: dict[str, Example]) -> None:
        gate = asyncio.Semaphore(self.window)
        tasks: set[asyncio.Task[None]] = set()
        errors: list[BaseException] = []

        def done(t: asyncio.Task[None]) -> None:
            gate.release()
            tasks.discard(t)
            if not t.cancelled() and t.exception() is not None:
                errors.append(t.exception())  # type: ignore[arg-type]

        count = 0
        for unit in units:
            work = self._work(unit, pending)
            if work is None:
                continue
            await gate.acquire()
            if errors:
                gate.release()
                break
            task = asyncio.create_task(work)
            tasks.add(task)
            task.add_done_callback(done)
            count += 1
        await asyncio.gather(*tasks, return_exceptions=True)
        if errors:
            raise errors[0]
        if self.on_round is not None:
            self.on_round()
        log.info("round %d: %d units run", r, count)

    def _pending_verdicts(self, r: int) -> dict[str, Example]:
        """Examples of round r generated by an earlier run but not judged yet."""
        if self.judge_logs is None:
            return {}
        judged = self.judge_logs[2]
        return {
            ex.code_id: ex
            for ex in self.examples_log_records()
            if ex.round == r and ex.id not in judged
        }

    def examples_log_records(self) -> Any:
        from wavecoder.store import read_jsonl

        path = self.examples_log.path
        if path is None or not path.exists():
            return
        for _, obj in read_jsonl(path):
            yield Example.from_dict(obj)

    def _work(self, unit: Unit, pending: dict[str, Example]) -> Any:
        cid = unit.code.id
        if cid in self.examples_log or cid in self.gen_rejected:
            ex = pending.get(cid)
            return self._judge(unit, ex) if ex is not None and self.judge else None
        if self.gen is None:
            return None
        return self._unit(unit)

    async def _unit(self, unit: Unit) -> None:
        ex = await self._generate(unit)
        if ex is not None and self.judge is not None:
            await self._judge(unit, ex)

    # -- asking ------------------------------------------------------------------------------
    async def _ask(self, side: Side, role: str, req: Request) -> Response | None:
        """One request; None when the role's budget is spent (then no more are sent)."""
        if self.counters.budget_hit.get(role):
            return None
        try:
            (resp,) = await side.llm.agenerate([req], progress=False)
        except BudgetExceeded:
            self.counters.budget_hit[role] = True
            return None
        return resp

    async def _ask_parsed(
        self, side: Side, role: str, req: Request, parse: Any
    ) -> tuple[Any, Response | None, str, list[str]]:
        """(parsed value or None, last response, error, raw replies); re-asks once."""
        replies: list[str] = []
        error = ""
        for attempt in range(2):
            resp = await self._ask(side, role, req)
            if resp is None or resp.status in ("error", "malformed", "filtered"):
                return None, resp, error, replies
            replies.append(resp.text)
            try:
                if resp.status == "truncated":
                    raise ParseFailure("no_case", "the reply was cut off at max_tokens")
                return parse(resp.text), resp, "", replies
            except (ParseFailure, VerdictFailure) as exc:
                error = f"{getattr(exc, 'reason', 'unparseable')}: {exc}"
            if attempt == 0:
                self.counters.reasks[role] += 1
                msgs = (*(req.messages or ()), _msg("assistant", resp.text),
                        _msg("user", REASK.format(error=error)))  # fmt: skip
                req = Request(**{**_fields(req), "messages": msgs})
        return None, resp, error, replies

    # -- generate ----------------------------------------------------------------------------
    async def _generate(self, unit: Unit) -> Example | None:
        assert self.gen is not None
        side, spec = self.gen, spec_for(unit.task, repair_bugs=self.repair_bugs)
        pools = self._round_pools
        key = dict(seed=self.seed, code_id=unit.code.id, round=unit.round, role="generator")
        prompt = render.generator_prompt(
            spec, unit,
            good=pools.sample(unit.task, True, side.k_good, **key),  # type: ignore[arg-type]
            bad=pools.sample(unit.task, False, side.k_bad, **key),  # type: ignore[arg-type]
            fmt=side.fmt, verdict_fmt=side.fmt,
        )  # fmt: skip
        req = request(unit.code.id, [("system", render.SYSTEM), ("user", prompt)], side.cfg,
                      fmt=side.fmt)  # fmt: skip
        case, resp, error, replies = await self._ask_parsed(side, "generator", req, parse_case)
        cid = unit.code.id
        if resp is None:
            return self._reject_code(cid, "budget", "the generator's budget_usd was reached")
        if case is None and not replies:
            reason = "llm_filtered" if resp.status == "filtered" else "llm_error"
            return self._reject_code(cid, reason, _detail(f"{resp.status}: {resp.error}", resp.raw))
        if case is None:
            return self._reject_code(cid, "parse_error", _detail(error, *replies))
        try:
            case = prefilter(case, information=spec.information)
        except Rejection as exc:
            return self._reject_code(cid, f"prefilter.{exc.rule}", _detail(str(exc), *replies))
        meta = dict(unit.bug.meta()) if unit.bug is not None else {}
        if unit.task == "repair" and self.repair_bugs == "generator":
            meta["bug_source"] = "generator"
        if len(replies) > 1:  # the first reply, which did not parse, is kept too
            meta["reasked"] = "true"
            meta["first_reply"] = replies[0]
        ex = Example(
            id=unit.example_id, code_id=cid, task=unit.task, language=unit.code.language,
            instruction=case.instruction, information=case.information, solution=case.solution,
            task_name=case.task_name, target_language=unit.target_language, raw=replies[-1],
            round=unit.round, model=side.llm.identity,
            prompt_version=spec.prompt_version(side.fmt), meta=meta,
        )  # fmt: skip
        self.examples_log.append(ex)
        return ex

    def _reject_code(self, code_id: str, reason: str, detail: str) -> Example | None:
        """Record why a code produced no example; returns None, the generate result."""
        self.gen_rejected.append(Rejected(code_id, "generate", reason, detail))
        return None

    # -- judge -------------------------------------------------------------------------------
    async def _judge(self, unit: Unit, ex: Example) -> None:
        assert self.judge is not None and self.judge_logs is not None
        side, spec = self.judge, spec_for(unit.task, repair_bugs=self.repair_bugs)
        rules = spec.rules
        pools = self._round_pools
        key = dict(seed=self.seed, code_id=unit.code.id, round=unit.round, role="judge")
        case = _case_of(ex)
        prompt = render.judge_prompt(
            spec, unit, case,
            good=pools.sample(unit.task, True, side.k_good, **key),  # type: ignore[arg-type]
            bad=pools.sample(unit.task, False, side.k_bad, **key),  # type: ignore[arg-type]
            fmt=side.fmt, verdict_fmt=side.fmt,
        )  # fmt: skip
        req = request(ex.id, [("system", render.SYSTEM), ("user", prompt)], side.cfg,
                      fmt=side.fmt, verdict=True)  # fmt: skip
        parsed, resp, error, replies = await self._ask_parsed(
            side, "judge", req, lambda text: parse_verdict(text, rules)
        )
        pool_log = self.judge_logs[0]
        if parsed is None:
            if resp is None:
                reason, detail = "judge.budget", "the judge's budget_usd was reached"
            elif not replies:
                reason, detail = (
                    "judge.llm_error",
                    _detail(f"{resp.status}: {resp.error}", resp.raw),
                )
            else:
                reason, detail = "judge.unparseable", _detail(error, *replies)
            raw = replies[-1] if replies else (resp.raw if resp is not None else "")
            self._finish(ex, None, raw, side.llm.identity, (reason, detail))
            return
        verdict: ParsedVerdict = parsed
        pc = pool_case(example_id=ex.id, task=ex.task, round=ex.round,
                       input=spec.render_input(unit), case=case, verdict=verdict)  # fmt: skip
        if pc.id not in pool_log:
            pool_log.append(pc.to_dict())
        why = None if verdict.accepted else _why(verdict)
        self._finish(ex, verdict, replies[-1], side.llm.identity, why)

    def _finish(
        self,
        ex: Example,
        verdict: ParsedVerdict | None,
        raw: str,
        model: str,
        rejected: tuple[str, str] | None,
    ) -> None:
        assert self.judge_logs is not None
        _, rejected_log, verdict_log = self.judge_logs
        if rejected is not None and ex.id not in rejected_log:
            rejected_log.append(Rejected(ex.id, "judge", rejected[0], rejected[1]))
        record = Verdict(
            example_id=ex.id,
            accepted=verdict is not None and verdict.accepted,
            rules=verdict.rules if verdict else (),
            reasons=verdict.reasons if verdict else (rejected[1] if rejected else ""),
            raw=raw,
            overall=verdict.overall if verdict else "",
            model=model,
            round=ex.round,
        )
        verdict_log.append(record)  # last: the verdict line is what marks the example judged


def _why(v: ParsedVerdict) -> tuple[str, str]:
    failed = [r for r in v.rules if r.answer != "yes"]
    lines = [f"{r.rule}: {r.reason}" for r in failed] + [f"overall {v.overall}: {v.reasons}"]
    reason = f"judge.rule.{failed[0].rule}" if failed else "judge.overall_no"
    return reason, "\n".join(lines)


def _msg(role: str, text: str) -> Any:
    from wavecoder.llm.base import Message

    return Message(role, text)  # type: ignore[arg-type]


def _fields(req: Request) -> dict[str, Any]:
    import dataclasses

    return {f.name: getattr(req, f.name) for f in dataclasses.fields(req)}


def _codes(dedup: StageDir, ids: set[str]) -> dict[str, Code]:
    found = {c.id: c for c in dedup.read_records("records", Code) if c.id in ids}
    missing = ids - set(found)
    if missing:
        raise ValueError(
            f"{len(missing)} examples name codes not in {dedup.path} (e.g. {min(missing)})"
        )
    return found
