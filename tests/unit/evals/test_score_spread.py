"""Scoring spread over workers through the map seam (`evals/score_spread.py`): the local run's
verdicts with an in-process map and with Ray, the sandbox report counted once, and a resumable
`results.jsonl` when a run stops between waves."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.raymap import ray_map, ray_session  # noqa: F401 (a fixture)
from wavecoder.evals import results as results_mod
from wavecoder.evals.api import evaluate
from wavecoder.evals.benchmarks import BENCHMARKS, load
from wavecoder.evals.score import ScoreOptions, score_completions
from wavecoder.evals.score_spread import Spread
from wavecoder.evals.types import Completion, Outcome, Problem
from wavecoder.instruct.distributed import local_map

pytestmark = [pytest.mark.usefixtures("sandbox_ok"), pytest.mark.timeout(180)]
OPTS = ScoreOptions(ks=(1,), workers=2)


@pytest.fixture(scope="module")
def problems(benchmarks_dir: Path) -> list[Problem]:
    return load("humaneval", benchmarks_dir)[1][:3]


def _samples(problems: list[Problem]) -> list[Completion]:
    """Per problem: its canonical solution, a wrong body, and one that does not parse."""
    out = []
    for p in problems:
        out += [Completion(p.task_id, 0, p.canonical_solution),
                Completion(p.task_id, 1, "    return None\n"),
                Completion(p.task_id, 2, "    return (\n")]  # fmt: skip
    return out


def _verdicts(outcomes: list[Outcome]) -> list[tuple[Any, ...]]:
    return [(o.task_id, o.sample_index, o.status, o.stage, o.returncode, o.retried)
            for o in outcomes]  # fmt: skip


def _score(problems: list[Problem], map_fn: Any) -> list[Outcome]:
    spread = Spread(map_fn, workers=2, chunk=2) if map_fn is not None else None
    bench = BENCHMARKS["humaneval"]
    return score_completions(bench, problems, _samples(problems), OPTS, spread=spread)


def test_an_in_process_map_gives_the_local_verdicts(problems: list[Problem]) -> None:
    from wavecoder.evals import sandbox

    local = _score(problems, None)
    steps = sum(sandbox.REPORT.snapshot()["steps_by_path"].values())
    spread = _score(problems, local_map)
    assert _verdicts(spread) == _verdicts(local)
    assert "pass" in {o.status for o in local} and len({o.status for o in local}) > 1
    # the counts of programs run in this process are not added a second time
    assert sum(sandbox.REPORT.snapshot()["steps_by_path"].values()) == steps


@pytest.mark.usefixtures("ray_session")
def test_ray_workers_give_the_local_verdicts(problems: list[Problem]) -> None:
    from wavecoder.evals import sandbox

    local = _score(problems, None)
    steps = sandbox.REPORT.snapshot()["steps_by_path"]
    spread = _score(problems, ray_map)
    assert _verdicts(spread) == _verdicts(local)
    assert sandbox.REPORT.snapshot()["steps_by_path"] == steps  # the workers' counts, merged


def test_a_run_stopped_between_waves_resumes_from_results(
    benchmarks_dir: Path, tmp_path: Path, problems: list[Problem], monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [{"task_id": c.task_id, "completion": c.completion} for c in _samples(problems)]
    samples = tmp_path / "s.jsonl"
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    kwargs: dict[str, Any] = dict(llm=None, data=benchmarks_dir, samples=samples, progress=False,
                                  allow_partial=True, score=OPTS)  # fmt: skip
    local = evaluate("humaneval", out=tmp_path / "local", **kwargs)
    waves = {"n": 0}

    def stops_after_one_wave(fn: Callable[[Any], Any], items: list[Any]) -> list[Any]:
        waves["n"] += 1
        if waves["n"] == 2:
            raise KeyboardInterrupt
        return local_map(fn, items)

    out = tmp_path / "spread"
    with pytest.raises(KeyboardInterrupt):
        evaluate("humaneval", out=out, spread=Spread(stops_after_one_wave, 2, 2), **kwargs)
    assert len((out / "results.jsonl").read_text().splitlines()) == 4  # one wave: 2 chunks of 2
    real = results_mod.ResultsLog.append
    ran: list[str] = []
    monkeypatch.setattr(
        results_mod.ResultsLog, "append", lambda self, o: (ran.append(o.task_id), real(self, o))
    )
    summary = evaluate("humaneval", out=out, spread=Spread(local_map, 2, 2), **kwargs)
    assert summary["resumed_results"] == 4 and len(ran) == len(rows) - 4
    assert summary["pass@1"] == local["pass@1"]
    assert summary["status_counts"] == local["status_counts"]

    def lines(where: Path) -> list[dict[str, Any]]:
        text = (where / "results.jsonl").read_text().splitlines()
        return [{k: v for k, v in json.loads(x).items() if k != "duration_s"} for x in text]

    assert lines(out) == lines(tmp_path / "local")
