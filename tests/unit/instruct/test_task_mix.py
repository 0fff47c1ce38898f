"""Task assignment, translation targets and the units of a plan: pure functions of the seed."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from wavecoder.instruct.roles import Plan, PlanSettings
from wavecoder.instruct.task import PAPER_MIX, assign_task, pick_target
from wavecoder.store import RunStore


def test_the_default_mix_is_the_papers() -> None:
    counts = Counter(assign_task(42, f"code{i}", PAPER_MIX) for i in range(20000))
    for task, share in PAPER_MIX.items():
        assert abs(counts[task] / 20000 - share / 100) < 0.01, (task, counts)


def test_assignment_is_deterministic_and_depends_on_the_seed() -> None:
    ids = [f"code{i}" for i in range(200)]
    a = [assign_task(1, i, PAPER_MIX) for i in ids]
    assert a == [assign_task(1, i, dict(reversed(PAPER_MIX.items()))) for i in ids]
    assert a != [assign_task(2, i, PAPER_MIX) for i in ids]
    assert {assign_task(1, i, {"repair": 1.0}) for i in ids} == {"repair"}


def test_translation_targets_never_the_source() -> None:
    targets = ("python", "go", "java")
    picks = {pick_target(3, f"c{i}", "python", targets) for i in range(200)}
    assert picks == {"go", "java"}
    assert pick_target(3, "c", "python", ("python",)) is None


def test_plan_units_cover_the_coreset_in_rounds(run_dir: Path) -> None:
    store = RunStore(run_dir)
    settings = PlanSettings(mix={"translate": 1.0}, translate_targets=("python",),
                            repair_bugs="inject", rounds=3)  # fmt: skip
    plan = Plan(settings, seed=1, select=store.stage("select"), dedup=store.stage("dedup"))
    units = [u for r in range(3) for u in plan.units(r)]
    assert len(units) == 12 and [len(list(plan.units(r))) for r in range(3)] == [4, 4, 4]
    for u in units:
        # python code cannot be translated to python: it falls back to another task
        assert (u.task, u.target_language) == (("generate", None) if u.code.language == "python"
                                               else ("translate", "python"))  # fmt: skip


def test_repair_units_carry_an_injected_bug(run_dir: Path) -> None:
    store = RunStore(run_dir)
    settings = PlanSettings(mix={"repair": 1.0}, translate_targets=(), repair_bugs="inject")
    plan = Plan(settings, seed=1, select=store.stage("select"), dedup=store.stage("dedup"))
    units = list(plan.units(0))
    assert all(u.task == "repair" and u.bug is not None for u in units)
    assert all(u.shown_code != u.code.code for u in units)
    assert {u.code.language for u in units} == {"python", "go", "java", "javascript", "php", "ruby"}
