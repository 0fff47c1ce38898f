"""`wavecoder show` puts the code beside records that point at it; status counts every stage's
outputs; the eval results table (issue 14, item 6)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers.executable import wavecoder
from wavecoder import cli
from wavecoder import pipeline as pl
from wavecoder.records import Code, Rejected
from wavecoder.show import eval_results, status_rows
from wavecoder.store import StageDir

TREE = Path(__file__).parents[2] / "fixtures" / "corpus" / "tree"


def _code(name: str) -> Code:
    body = f"def {name}(x):\n    return x + 1\n"
    return Code.new(
        language="python",
        code=body,
        source="tree",
        path=f"pkg/{name}.py",
        span=(3, 4),
        func_name=name,
        repo="acme/w",
        license="MIT",
    )


def _stage(run: Path, name: str, records: list[object], rejected: list[Rejected] = ()) -> None:
    sd = StageDir(run / name)
    sd.path.mkdir(parents=True)
    sd.write_records("records", records)  # type: ignore[arg-type]
    sd.write_rejected(list(rejected))
    sd.mark_done({"stats": {}})


def test_records_pointing_at_records_show_the_code_they_lead_to(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Any `*_id` chain is followed, whatever stage writes it: a verdict -> its example -> the
    code (the shape generate/judge records have), a selection, a rejection."""
    from wavecoder.records import Selected

    run = tmp_path / "run"
    a, b = _code("alpha"), _code("beta")
    _stage(run, "ingest", [a, b])
    _stage(run, "filter", [a], [Rejected(b.id, "filter", "too_short", "code: 20 chars < 50")])
    _stage(run, "select", [Selected(code_id=a.id, rank=0, radius=1.5)])
    assert cli.main(["show", str(run), "select", "-n", "1"]) == 0
    out = capsys.readouterr().out
    assert "code: python alpha in acme/w/pkg/alpha.py:3-4, MIT" in out
    assert "    | def alpha(x):" in out and "rank: 0" in out
    assert cli.main(["show", str(run), "filter", "--rejected"]) == 0
    out = capsys.readouterr().out
    assert "too_short" in out and "code: python beta in acme/w/pkg/beta.py:3-4" in out
    assert cli.main(["show", str(run), "filter"]) == 0  # Code records show their own code once
    out = capsys.readouterr().out
    assert "def alpha" in out and "code: python alpha in" not in out

    # a later stage's records: an example points at code, a verdict at the example
    (run / "train").mkdir()
    StageDir(run / "train").write_records("records", [])  # the stage before "eval" is searched
    examples = run / "train" / "records.jsonl"
    examples.write_text(
        json.dumps({"id": "ex1", "code_id": a.id, "instruction": "Add one."}) + "\n"
    )
    verdicts = StageDir(run / "eval")
    verdicts.path.mkdir()
    (verdicts.path / "records.jsonl").write_text(
        json.dumps({"id": "v1", "example_id": "ex1"}) + "\n"
    )
    assert cli.main(["show", str(run), "eval", "-n", "1"]) == 0
    out = capsys.readouterr().out
    assert "example_id" in out and "code: python alpha" in out


def test_status_counts_eval_reports_and_results_table(tmp_path: Path) -> None:
    run = tmp_path / "run"
    eval_dir = run / "eval"
    for name, p1 in (("humaneval", 0.25), ("mbpp", 0.5)):
        (eval_dir / name).mkdir(parents=True)
        summary = {"pass@1": p1, "samples": 4, "status_counts": {"passed": 1}}
        (eval_dir / name / "summary.json").write_text(json.dumps(summary))
    StageDir(eval_dir).mark_done({"stats": {"humaneval.pass@1": 0.25}, "seconds": 1.0})
    rows = {r[0]: r for r in status_rows(run)}
    assert rows["eval"][1:3] == ("done", "2")
    assert eval_results(run) == [
        ("benchmark", "pass@1", "samples"),
        ("humaneval", "0.250", "4"),
        ("mbpp", "0.500", "4"),
    ]


def test_show_through_the_executable_names_function_and_path(tmp_path: Path) -> None:
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(
        f"run_dir: {tmp_path / 'run'}\nstop_after: filter\ningest:\n  sources: [{TREE}]\n"
    )
    assert wavecoder("run", cfg, "-q", "filter.min_chars=120").returncode == 0
    proc = wavecoder("show", tmp_path / "run", "filter", "--rejected", "-n", "1")
    assert proc.returncode == 0, proc.stderr
    assert "too_short" in proc.stdout and "code: " in proc.stdout and " in tree/lib/" in proc.stdout
    assert pl.STAGES  # the real table
