"""The example database (reference §4.4): a good and a bad pool per task, fed by every verdict.

A pool case is an input, the generated case and the judge's analysis. The pools start from the
seed cases shipped in `seeds/<task>.yaml` (one good and one bad per task at least) and grow by
one case per judged example: the judge stage appends it to `pool.jsonl` in its folder (before
the verdict line, so a kill between the two only repeats a cached judge call; loading drops the
repeated line). Work goes in rounds: round r samples from `pools_before(r)`, the seeds plus the
cases of rounds < r, so what a prompt holds never depends on the order replies arrive in.
Each draw is keyed by (seed, code id, task, round, role), so a rerun draws the same cases.
A pool keeps its `cap` most recent cases (by round, then id): memory stays flat however large
the run, and later rounds learn from recent mistakes. `Draws` holds the draws of known keys,
made beforehand (what a worker of a distributed run gets instead of the pools). Not here:
rendering cases into prompts (`render.py`).
"""

from __future__ import annotations

import functools
import heapq
import random
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from wavecoder.instruct.parsing import Case
from wavecoder.instruct.verdict import ParsedVerdict
from wavecoder.records import TASKS, RuleVerdict, Task, stable_hash
from wavecoder.store import read_jsonl


@dataclass(frozen=True)
class PoolCase:
    id: str
    task: Task
    good: bool
    round: int  # -1 for the shipped seeds
    input: str  # the `Input:` block the generator saw
    case: Case
    verdict: ParsedVerdict

    def to_dict(self) -> dict[str, Any]:
        v = self.verdict
        return {
            "id": self.id, "task": self.task, "good": self.good, "round": self.round,
            "input": self.input, "case": self.case.to_dict(),
            "rules": [[r.rule, r.answer, r.reason] for r in v.rules],
            "overall": v.overall, "reasons": v.reasons,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PoolCase:
        rules = tuple(RuleVerdict(r, _yes_no(a), str(why)) for r, a, why in d["rules"])
        verdict = ParsedVerdict(rules, _yes_no(d["overall"]), str(d.get("reasons", "")))
        return cls(d["id"], d["task"], bool(d["good"]), int(d["round"]), d["input"],
                   Case(**d["case"]), verdict)  # fmt: skip


def _yes_no(value: Any) -> Any:
    return "yes" if value is True or str(value).lower() in ("yes", "true") else "no"


@functools.cache
def seed_cases() -> tuple[PoolCase, ...]:
    import yaml

    out = []
    for task in TASKS:
        text = (resources.files("wavecoder.instruct") / "seeds" / f"{task}.yaml").read_text()
        for i, c in enumerate(yaml.safe_load(text)):
            rules = [[rid, a, ", ".join(map(str, why))]
                     for rid, (a, *why) in c["analysis"]["rules"].items()]  # fmt: skip
            out.append(PoolCase.from_dict({
                "id": f"seed-{task}-{i}", "task": task, "good": c["good"], "round": -1,
                "input": c["input"].rstrip("\n"), "case": {k: str(v).rstrip("\n") for k, v in
                c["output"].items()}, "rules": rules, "overall": c["analysis"]["overall"],
                "reasons": c["analysis"]["reasons"],
            }))  # fmt: skip
    return tuple(out)


class Pools:
    """The good and bad pools of every task as they stood at one point."""

    def __init__(self, cases: Iterable[PoolCase], *, cap: int = 500) -> None:
        heaps: dict[tuple[str, bool], list[tuple[int, str, PoolCase]]] = {}
        seen: set[str] = set()
        for case in cases:
            if case.id in seen:
                continue  # a line repeated by a resumed run
            seen.add(case.id)
            heap = heaps.setdefault((case.task, case.good), [])
            item = (case.round, case.id, case)
            if len(heap) < cap:
                heapq.heappush(heap, item)
            elif item[:2] > heap[0][:2]:
                heapq.heapreplace(heap, item)
        self._pools = {
            k: [c for _, _, c in sorted(h, key=lambda t: t[:2])] for k, h in heaps.items()
        }

    def cases(self, task: str, good: bool) -> list[PoolCase]:
        return list(self._pools.get((task, good), ()))

    def sizes(self) -> dict[str, int]:
        return {
            f"{t}.{'good' if g else 'bad'}": len(v) for (t, g), v in sorted(self._pools.items())
        }

    def sample(
        self, task: Task, good: bool, k: int, *, seed: int, code_id: str, round: int, role: str
    ) -> list[PoolCase]:
        """k cases (fewer if the pool is smaller), the same for the same key on every run."""
        pool = self._pools.get((task, good), [])
        if k <= 0 or not pool:
            return []
        rng = random.Random(stable_hash("pool", seed, code_id, task, round, role, good))
        return rng.sample(pool, min(k, len(pool)))


DrawKey = tuple[str, bool, str, str, int]  # task, good, role, code id, round


class Draws:
    """What `Pools.sample` returns for known keys, drawn beforehand: all a worker of a
    distributed run needs of the pools (a few cases per unit instead of every pool)."""

    def __init__(self, draws: dict[DrawKey, list[PoolCase]]) -> None:
        self._draws = draws

    def sample(
        self, task: Task, good: bool, k: int, *, seed: int, code_id: str, round: int, role: str
    ) -> list[PoolCase]:
        try:
            return list(self._draws[(task, good, role, code_id, round)])
        except KeyError:
            raise KeyError(f"no pool draw for {role} of code {code_id} (round {round})") from None


def draws_for(
    pools: Pools, units: Iterable[Any], *, seed: int, ks: dict[str, tuple[int, int]]
) -> Draws:
    """The draws of every unit for every role in `ks` (role -> (k good, k bad))."""
    out: dict[DrawKey, list[PoolCase]] = {}
    for unit in units:
        for role, (k_good, k_bad) in ks.items():
            for good, k in ((True, k_good), (False, k_bad)):
                key = (unit.task, good, role, unit.code.id, unit.round)
                out[key] = pools.sample(unit.task, good, k, seed=seed, code_id=unit.code.id,
                                        round=unit.round, role=role)  # fmt: skip
    return Draws(out)


def pool_case(
    *, example_id: str, task: Task, round: int, input: str, case: Case, verdict: ParsedVerdict
) -> PoolCase:
    return PoolCase(example_id, task, verdict.accepted, round, input, case, verdict)


def pools_before(path: Path | None, round: int, *, cap: int) -> Pools:
    """The seeds plus the judged cases of rounds < `round` in the pool log at `path`."""

    def judged() -> Iterable[PoolCase]:
        if path is None or not path.exists():
            return
        for _, obj in read_jsonl(path):
            if int(obj["round"]) < round:
                yield PoolCase.from_dict(obj)

    return Pools([*seed_cases(), *judged()], cap=cap)
