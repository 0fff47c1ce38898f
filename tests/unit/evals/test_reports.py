"""`eval score` inputs and reports: evalplus / human-eval / bigcode files, MBPP ids, partial and
bad files refused, results appended and resumed, JSON Lines every splitter reads, rounded pass@k."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.evals.conftest import require_language
from wavecoder.evals import results as results_mod
from wavecoder.evals.api import evaluate, load_benchmark
from wavecoder.evals.benchmarks import BENCHMARKS, load
from wavecoder.evals.report import format_summary
from wavecoder.evals.results import json_line
from wavecoder.evals.samples import SamplesError, check_ids, normalize_ids, read_samples
from wavecoder.evals.score import ScoreOptions, summarize
from wavecoder.evals.types import Outcome, Problem

OPTS = ScoreOptions(ks=(1,), workers=2)


def _write(path: Path, rows: list[object]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def humaneval(benchmarks_dir: Path) -> list[Problem]:
    return load("humaneval", benchmarks_dir)[1]


# --- reading ---------------------------------------------------------------------------------


def test_formats_are_read_as_their_tools_write_them(
    tmp_path: Path, humaneval: list[Problem]
) -> None:
    p0, p1 = humaneval[:2]
    both = {"task_id": p0.task_id, "solution": "S", "completion": "C"}
    rows = read_samples(
        _write(tmp_path / "a.jsonl", [both, {"task_id": p1.task_id, "completion": "C"}])
    )
    assert [(r.solution, r.completion) for r in rows] == [("S", ""), ("", "C")]  # solution wins
    gens = tmp_path / "generations.json"
    gens.write_text(json.dumps([["prog a", "prog b"], ["prog c"]]))
    rows = read_samples(gens, humaneval)
    assert [(r.task_id, r.sample_index, r.solution) for r in rows] == [
        (p0.task_id, 0, "prog a"), (p0.task_id, 1, "prog b"), (p1.task_id, 0, "prog c"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty"),
        ("\n\n", "empty"),
        ('{"task_id": "HumanEval/0", "completion": 3}\n', r"s.jsonl:1: 'completion' must be a str"),
        ('{"task_id": "HumanEval/0"}\n', r"s.jsonl:1: no 'solution'"),
        ('{"task_id": "HumanEval/0", "solution": null}\n', r"'solution' must be a str.*NoneType"),
        ('{"task_id": "a", "completion": "x", "sample_index": "1"}\n', "sample_index"),
        ("[[1]]", "must be a string"),
        ('{"task_id": "a", "completion": "", "sample_index": 0}\n' * 2, r"s.jsonl:2: a second"),
        ('{"a": 1}', "list of lists"),
    ],
)  # fmt: skip
def test_bad_samples_files_name_the_file_and_line(
    tmp_path: Path, humaneval: list[Problem], content: str, message: str
) -> None:
    path = tmp_path / ("s.jsonl" if not content.startswith('{"a') else "s.json")
    if content.startswith('{"a'):
        content = "[" + content + "]"
    path.write_text(content)
    with pytest.raises(SamplesError, match=message):
        read_samples(path, humaneval)


def test_mbpp_integer_ids_and_the_expected_form(benchmarks_dir: Path, tmp_path: Path) -> None:
    _, problems, _ = load("mbpp", benchmarks_dir)
    path = _write(
        tmp_path / "m.jsonl",
        [{"task_id": 11, "completion": "x"}, {"task_id": "12", "completion": "y"}],
    )
    rows = normalize_ids(read_samples(path), problems)
    assert [r.task_id for r in rows] == ["Mbpp/11", "Mbpp/12"]
    assert check_ids(path, rows, problems, "mbpp", allow_partial=True)[0] == "Mbpp/13"
    bad = normalize_ids(
        read_samples(_write(tmp_path / "b.jsonl", [{"task_id": "HumanEval/0", "completion": ""}])),
        problems,
    )
    with pytest.raises(
        SamplesError,
        match=r"b.jsonl: 1 task id\(s\) not in mbpp: HumanEval/0; expected ids like 'Mbpp/11'",
    ):
        check_ids(tmp_path / "b.jsonl", bad, problems, "mbpp", allow_partial=True)
    with pytest.raises(
        SamplesError, match=r"samples for 2 of 500 problems of mbpp .*--allow-partial"
    ):
        check_ids(path, rows, problems, "mbpp", allow_partial=False)


def test_a_wrong_data_file_is_named_as_the_problem(benchmarks_dir: Path) -> None:
    wrong = benchmarks_dir / "HumanEval.jsonl.gz"
    with pytest.raises(ValueError, match=r"HumanEval.jsonl.gz: not a mbpp file .*--data"):
        load_benchmark("mbpp", wrong)


# --- the command line -------------------------------------------------------------------------


def _score_cli(*args: str) -> subprocess.CompletedProcess[str]:
    exe = str(Path(sys.executable).with_name("wavecoder"))  # the installed entry point
    cmd = [exe, "eval", "score", "--allow-code-execution", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.usefixtures("sandbox_ok")
def test_cli_refuses_partial_and_empty_files_and_prints_rounded_scores(
    benchmarks_dir: Path, tmp_path: Path, humaneval: list[Problem]
) -> None:
    p0 = humaneval[0]
    rows = [{"task_id": p0.task_id, "solution": p0.prompt + p0.canonical_solution}] * 2
    rows.append({"task_id": p0.task_id, "completion": "    return None\n"})
    samples = _write(tmp_path / "s.jsonl", rows)
    base = ["--benchmark", "humaneval", "--data", str(benchmarks_dir), "-o", str(tmp_path / "o")]
    refused = _score_cli(*base, "--samples", str(samples), "-k", "1")
    assert refused.returncode == 2 and "1 of 164 problems" in refused.stderr
    assert "--allow-partial" in refused.stderr and not (tmp_path / "o" / "summary.json").exists()
    done = _score_cli(*base, "--samples", str(samples), "-k", "1", "--allow-partial")
    assert done.returncode == 0, done.stderr
    assert "PARTIAL" in done.stderr and "PARTIAL" in done.stdout
    assert "pass@1: 0.6667" in done.stdout  # not 0.6666666666666667
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["pass@1"] == 0.666667 and summary["partial"]["problems_missing"] == 163
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    run = _score_cli(*base, "--samples", str(empty))
    assert run.returncode == 2 and "empty.jsonl: the samples file is empty" in run.stderr


def test_summary_pass_at_k_is_rounded(humaneval: list[Problem]) -> None:
    outcomes = [Outcome("HumanEval/0", i, "pass" if i == 0 else "fail") for i in range(3)]
    summary = summarize(
        BENCHMARKS["humaneval"], outcomes, OPTS, dataset=Path("d"), dataset_sha256=""
    )
    assert summary["pass@1"] == 0.333333
    assert "pass@1: 0.3333" in format_summary({**summary, "problems_total": 164})


# --- results ----------------------------------------------------------------------------------


def test_json_lines_escape_unicode_line_breaks() -> None:
    line = json_line({"s": "a\u2028b\u2029c\x85d\ne"})
    assert len(line.splitlines()) == 1 and json.loads(line)["s"] == "a\u2028b\u2029c\x85d\ne"


@pytest.mark.usefixtures("sandbox_ok")
def test_results_carry_passed_result_and_split_cleanly(
    benchmarks_dir: Path, tmp_path: Path, humaneval: list[Problem]
) -> None:
    p0 = humaneval[0]
    rows = [
        {"task_id": p0.task_id, "completion": p0.canonical_solution},
        {"task_id": p0.task_id, "completion": "    raise SystemExit('bad\u2028x\u2029y\x85z')\n"},
    ]
    out = tmp_path / "o"
    samples = _write(tmp_path / "s.jsonl", rows)
    kwargs = dict(score=OPTS, progress=False, allow_partial=True)
    evaluate("humaneval", llm=None, out=out, data=benchmarks_dir, samples=samples, **kwargs)  # type: ignore[arg-type]
    lines = (out / "results.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    got = [json.loads(line) for line in lines]
    assert (got[0]["status"], got[0]["passed"], got[0]["result"]) == ("pass", True, "passed")
    assert got[1]["passed"] is False and got[1]["result"].startswith("failed: bad")
    assert "\u2028" in got[1]["stderr_tail"]  # kept, escaped on disk


@pytest.mark.usefixtures("sandbox_ok")
def test_interrupted_score_resumes(
    benchmarks_dir: Path, tmp_path: Path, humaneval: list[Problem], monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [{"task_id": p.task_id, "completion": p.canonical_solution} for p in humaneval[:4]]
    samples, out = _write(tmp_path / "s.jsonl", rows), tmp_path / "o"
    real = results_mod.ResultsLog.append
    seen: list[str] = []

    def interrupt_after_two(self: results_mod.ResultsLog, outcome: Outcome) -> None:
        real(self, outcome)
        seen.append(outcome.task_id)
        if len(seen) == 2:
            raise KeyboardInterrupt

    kwargs = dict(llm=None, out=out, data=benchmarks_dir, samples=samples, progress=False)
    monkeypatch.setattr(results_mod.ResultsLog, "append", interrupt_after_two)
    with pytest.raises(KeyboardInterrupt):
        evaluate("humaneval", score=OPTS, allow_partial=True, **kwargs)  # type: ignore[arg-type]
    assert len((out / "results.jsonl").read_text().splitlines()) == 2  # appended as they ended
    with (out / "results.jsonl").open("a") as fh:
        fh.write('{"task_id": "HumanEval/')  # a torn line from the kill
    monkeypatch.setattr(results_mod.ResultsLog, "append", real)
    ran: list[str] = []
    monkeypatch.setattr(
        results_mod.ResultsLog, "append", lambda self, o: (ran.append(o.task_id), real(self, o))
    )
    summary = evaluate("humaneval", score=OPTS, allow_partial=True, **kwargs)  # type: ignore[arg-type]
    assert summary["resumed_results"] == 2 and sorted(ran) == sorted(
        set(r["task_id"] for r in rows) - set(seen)
    )
    final = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [r["task_id"] for r in final] == [r["task_id"] for r in rows]
    assert summary["pass@1"] == 1.0
    other = _write(tmp_path / "t.jsonl", rows[:1])  # another samples file: starts afresh
    summary = evaluate("humaneval", score=OPTS, allow_partial=True, **{**kwargs, "samples": other})  # type: ignore[arg-type]
    assert summary["resumed_results"] == 0 and summary["samples"] == 1


@pytest.mark.usefixtures("sandbox_ok")
def test_humanevalplus_solutions_run_by_evalplus_rules(benchmarks_dir: Path) -> None:
    from wavecoder.evals.score import score_completions
    from wavecoder.evals.types import Completion

    path = benchmarks_dir / "humanevalplus" / "HumanEvalPlus-Mini.jsonl.gz"
    bench, problems, _ = load("humanevalplus-mini", path)
    p = problems[0]
    samples = [
        Completion(p.task_id, 0, "", solution=p.prompt + p.canonical_solution),
        Completion(p.task_id, 1, "", solution=f"def {p.entry_point}(n, t):\n    return False\n"),
    ]
    outcomes = score_completions(bench, problems, samples, OPTS)
    assert [(o.status, o.stage) for o in outcomes] == [("pass", ""), ("fail", "base")]


@pytest.mark.usefixtures("sandbox_ok")
@pytest.mark.parametrize("language", ["python", "js", "java", "cpp", "go", "rust"])
def test_bigcode_generations_are_whole_programs(
    benchmarks_dir: Path, tmp_path: Path, language: str
) -> None:
    """bigcode's generations.json holds prompt + code per problem; Go's keeps the prompt's
    import block (and may carry a package clause), which must not clash with the test file's."""
    from wavecoder.evals.score import score_completions

    bench = BENCHMARKS[f"humanevalpack-synthesize-{language}"]
    require_language(bench.language)
    _, problems, _ = load(bench.name, benchmarks_dir)
    p = problems[0]
    programs = [p.prompt + p.canonical_solution]
    if language == "go":
        programs.append("package main\n\n" + programs[0])
    gens = tmp_path / "generations.json"
    gens.write_text(json.dumps([programs]))
    samples = read_samples(gens, problems)
    outcomes = score_completions(bench, [p], samples, ScoreOptions(timeout_s=60, workers=2))
    assert {o.status for o in outcomes} == {"pass"}, [o.stderr_tail for o in outcomes]
