"""The leakage report of the data decontamination keeps, and its section in export's report:
numbers, the model named, the PNG, the counts per level and benchmark, and one line when
there is nothing to show."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.unit.instruct.decontam_helpers import CLEAN
from tests.unit.instruct.export_run import build
from tests.unit.instruct.test_export import md_tables, run_export
from wavecoder.corpus.embedders import EmbedderConfig
from wavecoder.instruct.decontaminate import write_outputs
from wavecoder.instruct.decontaminate_core import Config, Item, find_matches
from wavecoder.instruct.decontaminate_refs import Reference
from wavecoder.instruct.leakage import leakage_report
from wavecoder.instruct.report_leakage import Decontamination, load, section

SOLUTIONS = [
    "def add(a, b):\n    return a + b\n",
    "def is_palindrome(s):\n    return s == s[::-1]\n",
    "def fizz(n):\n    return ['Fizz' if i % 3 == 0 else str(i) for i in range(1, n + 1)]\n",
    "def flatten(xs):\n    return [y for x in xs for y in x]\n",
]
REFS = [Reference("humaneval", f"HumanEval/{i}", "python", s, s) for i, s in enumerate(SOLUTIONS)]
SMALL = EmbedderConfig(backend="hashing", dim=8, n_features=2048)
CLEAN_ITEMS = [Item(f"c{i}", f"{ins}\n{code}", code) for i, (ins, code) in enumerate(CLEAN)]
# an embedding-level copy (too short for the exact level) and an exact copy
COPIES = [
    Item("copy-add", "Add.\n" + SOLUTIONS[0], SOLUTIONS[0]),
    Item("copy-fizz", "Fizz.\n" + SOLUTIONS[2], SOLUTIONS[2]),
]
ITEMS = [*CLEAN_ITEMS, *COPIES]


def cfg(**kw: Any) -> Config:
    base: dict[str, Any] = {"benchmarks": ("humaneval",), "embedder": SMALL}
    return Config(**{**base, **kw})


def per_problem(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["problem_id"]: p for p in report["benchmarks"]["humaneval"]["per_problem"]}


def test_leakage_after_drops_is_over_the_kept_instances() -> None:
    """The data that leaves decontamination holds no copy: neither the one the embedding level
    dropped nor the one the exact level dropped is any problem's nearest instance."""
    c = cfg(levels=("exact", "embedding"), embedding_threshold=0.99)
    scan = find_matches(ITEMS, REFS, c)
    levels = {(m.item_id, m.level) for m in scan.matches}
    assert {("copy-add", "embedding"), ("copy-fizz", "exact")} <= levels
    assert ("copy-add", "exact") not in levels and {i for i, _ in levels} == {
        "copy-add",
        "copy-fizz",
    }
    assert scan.nearest is not None
    kept = leakage_report(REFS, ITEMS, scan.nearest, embedder="hashing", after_drops=True)
    before = leakage_report(REFS, ITEMS, scan.nearest, embedder="hashing")
    assert (kept["over"], kept["instances"], kept["checked"]) == ("kept", 4, 6)
    assert (before["over"], before["instances"]) == ("all", 6)
    assert {p["nearest_id"] for p in per_problem(kept).values()} <= {it.id for it in CLEAN_ITEMS}
    assert per_problem(before)["HumanEval/0"]["nearest_id"] == "copy-add"
    b = kept["benchmarks"]["humaneval"]
    assert b["before_drops"]["max"] == pytest.approx(1.0, abs=1e-3) and b["max"] < 0.99
    assert b["p10"] <= b["p25"] <= b["median"] <= b["p75"] <= b["p90"] <= b["max"]
    assert sum(b["histogram"]["counts"]) == 4


def test_flagging_keeps_every_instance_in_the_leakage() -> None:
    scan = find_matches(ITEMS, REFS, cfg(levels=("embedding",), action="flag"))
    assert scan.nearest is not None and scan.nearest.kept is None
    report = leakage_report(REFS, ITEMS, scan.nearest, embedder="hashing", after_drops=True)
    assert (
        report["over"] == "all" and per_problem(report)["HumanEval/0"]["nearest_id"] == "copy-add"
    )


def decontaminated(folder: Path, **kw: Any) -> None:
    """What the decontaminate stage writes beside its records, for these toy references."""
    c = cfg(**kw)
    write_outputs(folder, c, ITEMS, REFS, find_matches(ITEMS, REFS, c))


def test_export_report_shows_counts_leakage_model_and_plot(tmp_path: Path) -> None:
    built = build(tmp_path / "run")
    decontaminated(built.store.stage("decontaminate").path)
    out, _ = run_export(built, formats=("messages",))
    report = (out / "report" / "report.md").read_text()
    text = report[report.index("## Benchmark decontamination and leakage") :]
    assert "Checked 6 accepted instances against `humaneval`" in text and "2 (33.3%)" in text
    tables = {tuple(h): rows for h, rows in md_tables(text, "benchmark")}
    counts = tables[("benchmark", "exact", "ngram", "embedding", "any")]
    assert counts[0][0] == "humaneval" and counts[0][-1] == "2"
    leak = tables[("benchmark", "problems", "mean", "p10", "p25", "median", "p75", "p90", "max")]
    saved = load(built.store.stage("decontaminate").path).leakage
    assert saved is not None
    mean = saved["benchmarks"]["humaneval"]["mean"]
    assert leak == [["humaneval", "4", f"{mean:.3f}", *leak[0][3:]]]
    assert "over the 4 instances decontaminate kept (of 6 checked)" in text
    assert "embedded with `hashing`" in text and "0.880" in text and "GTE-Large" in text
    assert "comparable with no other dataset" in text  # the hashing caveat
    png = out / "report" / "leakage.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and "](leakage.png)" in text
    assert {r[0]: r[1] for r in md_tables(text, "level")[0][1]}["`exact`"] == "1"
    card = (out / "README.md").read_text()
    said = card[card.index("## Benchmark decontamination") : card.index("## Settings")]
    assert "2 (33.3%) matched" in said and "exact 1, ngram 0, embedding 1" in said
    assert f"humaneval {mean:.3f} (max" in said and "`hashing`" in said and "0.880" in said


def test_export_report_says_what_was_not_measured(tmp_path: Path) -> None:
    built = build(tmp_path / "run")
    out, _ = run_export(built, plots=False, formats=("messages",))
    report = (out / "report" / "report.md").read_text()
    assert "Not measured: decontaminate wrote no report.json" in report
    assert "Not measured: decontaminate wrote no report.json" in (out / "README.md").read_text()
    built = build(tmp_path / "run2")
    decontaminated(built.store.stage("decontaminate").path, levels=("exact", "ngram"))
    out, _ = run_export(built, plots=False, formats=("messages",))
    report = (out / "report" / "report.md").read_text()
    assert "Not measured: the embedding level is off" in report
    assert "| `exact` | 1 |" in report and not (out / "report" / "leakage.png").exists()
    assert "Leakage not measured (no embedding level)" in (out / "README.md").read_text()


def test_section_lines_for_each_case() -> None:
    off = section(Decontamination({"config": {"leakage_report": False}, "items": 3}, None, None))
    assert any("`decontaminate.leakage_report` is false" in x for x in off)
    only = section(Decontamination(None, {"benchmarks": {}}, None))
    assert only[2].startswith("decontaminate wrote no report.json")


def test_section_of_a_flagging_run_reports_every_instance(tmp_path: Path) -> None:
    decontaminated(tmp_path, action="flag")
    text = "\n".join(section(load(tmp_path), ["leakage.png"]))
    assert "2 (33.3%) matched a benchmark solution and were flagged and kept" in text
    assert "over all 6 instances checked" in text and "Before decontamination" not in text
    assert "![leakage](leakage.png)" in text
