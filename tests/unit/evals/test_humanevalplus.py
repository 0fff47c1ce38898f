"""HumanEval+ by evalplus's rules on a handful of problems: ground truth from the canonical
solution (cached per dataset sha256), base and plus verdicts, atol, per-input time limits."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest

from wavecoder.evals import cli, evalplus_rules
from wavecoder.evals.benchmarks import load, sha256
from wavecoder.evals.evalplus_oracle import matches
from wavecoder.evals.score import ScoreOptions, score_completions, summarize
from wavecoder.evals.types import Completion, Problem

IDS = ("HumanEval/2", "HumanEval/32", "HumanEval/53")
SIZE_BUG = (  # right on small inputs, wrong on large ones: survives base, fails plus
    "\n_orig = add\n\ndef add(*a):\n    return _orig(*a) if min(a) >= 0 else 0\n"
)


@pytest.fixture(scope="module")
def mini(benchmarks_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple:  # type: ignore[type-arg]
    bench, problems, path = load("humanevalplus-mini", benchmarks_dir)
    return bench, [p for p in problems if p.task_id in IDS], sha256(path)


def test_loader_keeps_inputs_and_rejects_originfmt(benchmarks_dir: Path) -> None:
    _, problems, _ = load("humanevalplus", benchmarks_dir)
    assert len(problems) == 164
    p = problems[53]
    assert json.loads(p.extra["base_input"]) and len(json.loads(p.extra["plus_input"])) > 100
    with pytest.raises(ValueError, match="lacks base_input"):
        load("humanevalplus", benchmarks_dir / "humanevalplus" / "HumanEvalPlus-OriginFmt.jsonl.gz")


@pytest.mark.usefixtures("sandbox_ok")
def test_base_and_plus_verdicts(
    mini: tuple, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[type-arg]
    monkeypatch.setenv("WAVECODER_CACHE_DIR", str(tmp_path))
    bench, problems, digest = mini
    by_id = {p.task_id: p for p in problems}
    comps = [Completion(t, 0, by_id[t].canonical_solution) for t in IDS]
    comps += [
        Completion("HumanEval/53", 1, by_id["HumanEval/53"].canonical_solution + SIZE_BUG),
        Completion("HumanEval/53", 2, "    return x - y\n"),
        Completion("HumanEval/2", 1, "    return number % 1.0 + 1e-9\n"),  # inside atol 1e-6
        Completion("HumanEval/2", 2, "    return number % 1.0 + 1e-4\n"),  # outside
        Completion("HumanEval/32", 1, "    return 0.0\n"),
        Completion("HumanEval/53", 3, "    while True:\n        pass\n"),
    ]
    out = {(o.task_id, o.sample_index): o for o in score_completions(
        bench, problems, comps, ScoreOptions(timeout_s=5.0), dataset_sha256=digest
    )}  # fmt: skip
    assert all(out[(t, 0)].status == "pass" for t in IDS)  # HumanEval/32 via the find_zero oracle
    assert (out[("HumanEval/53", 1)].status, out[("HumanEval/53", 1)].stage) == ("fail", "plus")
    assert (out[("HumanEval/53", 2)].status, out[("HumanEval/53", 2)].stage) == ("fail", "base")
    assert out[("HumanEval/2", 1)].status == "pass"
    assert out[("HumanEval/2", 2)].stage == "base" and out[("HumanEval/2", 2)].status == "fail"
    assert out[("HumanEval/32", 1)].status == "fail"
    slow = out[("HumanEval/53", 3)]  # per-input limit (1 s floor) stops it: a failure
    assert slow.status == "fail" and "time limit" in slow.stderr_tail
    cached = list((tmp_path / "evalplus" / digest).glob("*.pkl"))
    assert len(cached) == len(IDS)
    summary = summarize(
        bench, list(out.values()), ScoreOptions(ks=(1,)), dataset=Path("x"), dataset_sha256=digest
    )
    assert summary["base_tests"]["pass@1"] > summary["pass@1"]


@pytest.mark.usefixtures("sandbox_ok")
def test_cache_is_reused_and_refuses_code(mini: tuple, tmp_path: Path) -> None:  # type: ignore[type-arg]
    _, problems, digest = mini
    p = problems[0]
    tasks = evalplus_rules.ground_truth([p], digest, cache=tmp_path)
    path = tmp_path / digest / (p.task_id.replace("/", "_") + ".pkl")
    assert path.is_file() and len(tasks[p.task_id].expected["plus"]) == len(
        json.loads(p.extra["plus_input"])
    )
    truth = pickle.loads(path.read_bytes())
    truth["base"]["out"][0] = "sentinel"
    path.write_bytes(pickle.dumps(truth))
    again = evalplus_rules.ground_truth([p], digest, cache=tmp_path)  # read, not recomputed
    assert again[p.task_id].expected["base"][0] == "sentinel"
    path.write_bytes(pickle.dumps(Path("/etc")))
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        evalplus_rules.ground_truth([p], digest, cache=tmp_path)


def test_time_limits_follow_evalplus() -> None:
    p = Problem(
        "T/0", "b", "python", "", "", "f", "", extra={"base_input": "[]", "plus_input": "[]"}
    )
    task = evalplus_rules.PlusTask(p, {}, {}, {"base": [0.01, 0.5], "plus": []})
    assert task.limits("base") == [1.0, 2.0]


def test_matches_rules() -> None:
    assert matches("humaneval", "f", [1.0, 2.0], [1.0, 2.0 + 1e-7], [], 0)
    assert not matches("humaneval", "f", [1.0, 2.0], [1.0, 2.1], [], 0)
    assert not matches("humaneval", "f", (1.0,), [1.0], [], 0)  # type must match under atol
    assert not matches("humaneval", "f", 1, 2, [], 0)
    assert matches("humaneval", "f", 2.0, 2.0, [], 0)
    assert matches("humaneval", "find_zero", 1.0, 999.0, [[-1, 1]], 1e-4)  # root of -1 + x


def test_cli_score_reports_base_and_plus(
    benchmarks_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sandbox_ok: None
) -> None:
    monkeypatch.setenv("WAVECODER_CACHE_DIR", str(tmp_path / "cache"))
    data = tmp_path / "plus.jsonl"
    from wavecoder.evals.benchmarks.sources import read_rows

    rows = [
        r
        for r in read_rows(benchmarks_dir / "humanevalplus/HumanEvalPlus-Mini.jsonl.gz")
        if r["task_id"] == "HumanEval/53"
    ]
    data.write_text(json.dumps(rows[0]) + "\n")
    samples = tmp_path / "s.jsonl"
    samples.write_text(
        json.dumps({"task_id": "HumanEval/53", "completion": rows[0]["canonical_solution"]})
        + "\n"
        + json.dumps(
            {"task_id": "HumanEval/53", "completion": rows[0]["canonical_solution"] + SIZE_BUG}
        )
        + "\n"
    )
    import argparse

    parser = argparse.ArgumentParser()
    cli.configure(parser)
    args = parser.parse_args(
        [
            "score",
            "--benchmark",
            "humanevalplus",
            "--samples",
            str(samples),
            "--data",
            str(data),
            "--allow-code-execution",
            "-o",
            str(tmp_path / "out"),
            "-k",
            "1",
        ]
    )
    assert cli.main(args) == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["base_tests"]["pass@1"] == 1.0 and summary["pass@1"] == 0.5
    assert summary["dataset_sha256"] == sha256(data)
