"""The example database: shipped seeds, round snapshots, seeded sampling, the size cap."""

from __future__ import annotations

import json
from pathlib import Path

from wavecoder.instruct.parsing import Case
from wavecoder.instruct.pools import PoolCase, Pools, pool_case, pools_before, seed_cases
from wavecoder.instruct.tasks import TASKS
from wavecoder.instruct.verdict import ParsedVerdict
from wavecoder.records import RuleVerdict


def _case(i: int, round: int, good: bool, task: str = "generate") -> PoolCase:
    rules = tuple(RuleVerdict(r, "yes" if good else "no", "why") for r in TASKS[task].rules)  # type: ignore[index]
    verdict = ParsedVerdict(rules, "yes" if good else "no", "because")
    case = Case("t", "Write Python.", "<noinput>", f"s{i}")
    return pool_case(example_id=f"ex{i:03d}", task=task, round=round, input=f"code {i}",  # type: ignore[arg-type]
                     case=case, verdict=verdict)  # fmt: skip


def test_every_task_ships_a_good_and_a_bad_seed_with_every_rule_answered() -> None:
    for task, spec in TASKS.items():
        cases = [c for c in seed_cases() if c.task == task]
        assert {c.good for c in cases} == {True, False}, task
        for c in cases:
            assert tuple(r.rule for r in c.verdict.rules) == spec.rules
            assert c.good == c.verdict.accepted


def test_sampling_is_keyed_and_reproducible() -> None:
    pools = Pools([_case(i, 0, True) for i in range(50)])
    key = dict(seed=1, code_id="c1", round=2, role="generator")
    a = pools.sample("generate", True, 3, **key)  # type: ignore[arg-type]
    assert a == Pools([_case(i, 0, True) for i in reversed(range(50))]).sample(
        "generate", True, 3, **key)  # type: ignore[arg-type]  # fmt: skip
    others = [pools.sample("generate", True, 3, **{**key, "code_id": f"c{i}"})  # type: ignore[arg-type]
              for i in range(2, 12)]  # fmt: skip
    assert any(o != a for o in others) and len(a) == 3
    assert pools.sample("generate", False, 3, **key) == []  # type: ignore[arg-type]


def test_pools_before_round_r_hold_only_earlier_rounds(tmp_path: Path) -> None:
    log = tmp_path / "pool.jsonl"
    lines = [_case(i, i % 3, i % 2 == 0).to_dict() for i in range(30)]
    lines.append(lines[0])  # a line repeated by a resumed run
    log.write_text("".join(json.dumps(x) + "\n" for x in lines))
    seeds = len([c for c in seed_cases() if c.task == "generate"])
    p0, p2 = pools_before(log, 0, cap=100), pools_before(log, 2, cap=100)
    n0 = len(p0.cases("generate", True)) + len(p0.cases("generate", False))
    n2 = len(p2.cases("generate", True)) + len(p2.cases("generate", False))
    assert n0 == seeds and n2 == seeds + 20
    assert all(c.round < 2 for c in p2.cases("generate", True))


def test_the_cap_keeps_the_most_recent_cases() -> None:
    pools = Pools([_case(i, i // 10, True) for i in range(40)], cap=10)
    kept = pools.cases("generate", True)
    assert [c.id for c in kept] == [f"ex{i:03d}" for i in range(30, 40)]


def test_pool_cases_round_trip() -> None:
    c = _case(3, 1, False, "repair")
    assert PoolCase.from_dict(json.loads(json.dumps(c.to_dict()))) == c
