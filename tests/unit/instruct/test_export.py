"""The `export` stage through the runner: every format, lineage, the card, the report, show."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import _loopback_only
from tests.unit.instruct.export_run import JUDGE, TEACHER, Built, build
from wavecoder import cli
from wavecoder import pipeline as pl
from wavecoder.instruct.export import Config, train_file
from wavecoder.instruct.export_files import FILES
from wavecoder.train.data import read_inputs

REPO = Path(__file__).resolve().parents[3]
EXPORTED = ["ex0", "ex1", "ex2", "ex3"]  # coreset order; ex6 repeats ex0, ex4/ex5 rejected


def run_export(built: Built, **cfg: Any) -> tuple[Path, dict[str, Any]]:
    spec = pl.stage_spec("export")
    module = pl.load_stage(spec)
    inputs = {name: built.store.stage(name) for name in module.INPUTS}
    out = built.store.stage("export")
    stats = pl.run_stage(spec, Config(**cfg), out, inputs=inputs, quiet=True)
    assert stats is not None
    return out.path, stats


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Built, Path, dict[str, Any]]:
    """One export for the tests that only read it (with plots: the slow part), under the same
    offline guard as every test (module fixtures run before the function-scoped one)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", _loopback_only)
        for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
            mp.setenv(var, "1")
        built = build(tmp_path_factory.mktemp("export") / "run")
        out, stats = run_export(built)
    return built, out, stats


def test_funnel_accounts_for_every_selected_code(exported: Any) -> None:
    _, out, stats = exported
    assert stats["funnel.selected"] == 6 and stats["funnel.with_example"] == 5
    assert (stats["funnel.examples"], stats["funnel.judged"]) == (7, 7)
    assert (stats["funnel.accepted"], stats["funnel.exported"]) == (5, 4)
    assert stats["dropped.generate.generate.parse_failed"] == 1
    assert stats["dropped.judge.judge.rule.only_code"] == 1
    assert stats["dropped.judge.judge.unparseable"] == 1
    assert stats["rejected.export.duplicate"] == 1 and (stats["in"], stats["out"]) == (5, 4)
    rejected = [json.loads(line) for line in (out / "rejected.jsonl").read_text().splitlines()]
    assert rejected == [
        {"id": "ex6", "stage": "export", "reason": "export.duplicate", "detail": "ex0"}
    ]
    assert stats["by_task"] == {"generate": 1, "summarize": 1, "translate": 1, "repair": 1}
    assert stats["train_file"] == FILES["alpaca"]
    assert (stats["llm.tokens"], stats["llm.cost_usd"]) == (17_700, 0.259)
    assert stats["llm.tokens_per_instance"] == 4425.0
    assert stats["llm.cost_usd_per_instance"] == pytest.approx(0.259 / 4)
    funnel = json.loads((out / "funnel.json").read_text())
    assert funnel["by_task"]["repair"] == {"judged": 2, "accepted": 1}
    assert funnel["by_rule"]["repair/only_code"] == {"answered": 2, "yes": 1}
    assert funnel["usage"]["judge"]["cost_usd"] == 0.252


def load(fmt: str, out: Path, cache: Path) -> Any:
    import datasets

    builder = "parquet" if fmt == "parquet" else "json"
    return datasets.load_dataset(
        builder, data_files=str(out / FILES[fmt]), split="train", cache_dir=str(cache)
    )


@pytest.mark.parametrize("fmt", ["alpaca", "messages", "parquet"])
def test_every_format_loads_with_datasets_and_the_train_reader(
    exported: Any, fmt: str, tmp_path: Path
) -> None:
    _, out, _ = exported
    ds = load(fmt, out, tmp_path / "cache")
    assert ds["id"] == EXPORTED
    records, sources = read_inputs([out / FILES[fmt]])
    assert [r.meta["id"] for r in records] == EXPORTED
    assert {r.format for r in records} == {"messages" if fmt == "messages" else "alpaca"}
    by_id = {r.meta["id"]: r.fields for r in records}
    if fmt == "messages":
        assert by_id["ex0"]["messages"] == [  # <noinput>: the instruction alone
            {"role": "user", "content": "Write a python function number 0."},
            {"role": "assistant", "content": "def f0():\n    return 0\n"},
        ]
        user = by_id["ex2"]["messages"][0]["content"]
        assert user == "Write a python function number 2.\n\ndef sub(a, b): ..."
        assert ds[0]["messages"][-1]["role"] == "assistant"
    else:
        assert by_id["ex1"] == {
            "instruction": "Write a go function number 1.",
            "input": "func Add(a, b int) int",
            "output": "Adds.",
        }
        assert by_id["ex0"]["input"] == ""  # <noinput>
        assert by_id["ex2"]["input"] == "def sub(a, b): ..."
        assert ds[0]["input"] == "" and ds[0]["output"] == "def f0():\n    return 0\n"
    assert sources[0].records == 4


@pytest.mark.parametrize("fmt", ["alpaca", "messages", "parquet"])
def test_every_instance_keeps_its_lineage(exported: Any, fmt: str, tmp_path: Path) -> None:
    built, out, _ = exported
    rows = {row["id"]: row for row in load(fmt, out, tmp_path / "cache")}
    code3 = built.codes[3]
    repair = rows["ex3"]
    assert (repair["task"], repair["language"], repair["target_language"]) == (
        "repair",
        "java",
        None,
    )
    lin = repair["lineage"]
    assert (lin["code_id"], lin["repo"], lin["path"]) == (code3.id, code3.repo, code3.path)
    assert lin["span"] == list(code3.span or ()) and lin["license"] == "Apache-2.0"
    assert (lin["teacher_model"], lin["judge_model"]) == (TEACHER, JUDGE)
    assert lin["prompt_version"] == "repair-v1" and lin["source"] == "codesearchnet"
    assert lin["verdict"]["overall"] == "yes"
    assert [r["answer"] for r in lin["verdict"]["rules"]] == ["yes"] * 3
    assert lin["verdict"]["rules"][0]["rule"] == "language_named"
    assert lin["meta"]["bug_kind"] == "inverted_condition" and lin["meta"]["bug_line"] == "2"
    assert rows["ex2"]["target_language"] == "go"
    assert not rows["ex0"]["lineage"]["meta"] or not any(rows["ex0"]["lineage"]["meta"].values())


def front_matter(text: str) -> dict[str, Any]:
    head = re.match(r"---\n(.*?)\n---\n", text, re.S)
    assert head, "the card starts with YAML front matter"
    data = yaml.safe_load(head.group(1))
    assert isinstance(data, dict)
    return data


def md_tables(text: str, first_header: str) -> list[tuple[list[str], list[list[str]]]]:
    """(header, rows) of every Markdown table whose first column is `first_header`."""
    lines = text.splitlines()
    found = []
    for i, line in enumerate(lines):
        if line.startswith(f"| {first_header} |"):
            rows = []
            for row in lines[i + 2 :]:
                if not row.startswith("|"):
                    break
                rows.append(_cells(row))
            found.append((_cells(line), rows))
    return found


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def md_table(text: str, first_header: str) -> list[list[str]]:
    (table,) = md_tables(text, first_header)
    return table[1]


def test_card_counts_models_and_configs(exported: Any) -> None:
    _, out, _ = exported
    card = (out / "README.md").read_text()
    meta = front_matter(card)
    assert meta["license"] == "other" and meta["size_categories"] == ["n<1K"]
    assert meta["license_name"] and meta["license_link"] == "README.md"
    assert {"code", "python", "go", "java"} <= set(meta["tags"])
    paths = {c["config_name"]: c["data_files"][0]["path"] for c in meta["configs"]}
    assert paths == {"default": "data/alpaca.json", "messages": "data/messages.jsonl"}
    assert "| (file) | `data/alpaca.parquet` |" in card, "Parquet is a file, not a config"
    (header, rows), (_, accept) = md_tables(card, "task")
    langs = header[1:-1]
    cells = {(r[0], lang): int(v) for r in rows for lang, v in zip(langs, r[1:-1], strict=True)}
    assert cells[("repair", "java")] == 1 and cells[("translate", "python")] == 1
    assert cells[("summarize", "go")] == 1 and cells[("total", "python")] == 2
    assert rows[-1][-1] == "4"
    assert f"`{TEACHER}` (4)" in card and f"`{JUDGE}` (4)" in card
    assert "MIT (2), Apache-2.0 (2)" in card
    acceptance = {r[0]: r[1:] for r in accept}
    assert acceptance["repair"] == ["2", "1", "50.0%"]
    assert acceptance["all"] == ["7", "5", "71.4%"]
    assert "k: generate" in card, "the generate settings from its fingerprint"
    assert "model: m" in card and "10.1.2.3" not in card, "no endpoint URL on the card"


@pytest.mark.parametrize(
    ("formats", "config", "column"),
    [
        (("alpaca", "messages", "parquet"), None, "instruction"),
        (("alpaca", "messages", "parquet"), "messages", "messages"),
        (("parquet", "alpaca"), None, "instruction"),
    ],
)
def test_the_card_configs_load_the_folder_as_a_hub_repo_would(
    tmp_path: Path, formats: tuple[Any, ...], config: str | None, column: str
) -> None:
    """`load_dataset(folder_or_repo, config)` reads the card's YAML, as the hub does."""
    import datasets

    built = build(tmp_path / "run")
    out, _ = run_export(built, formats=formats, report=False)
    ds = datasets.load_dataset(str(out), config, split="train", cache_dir=str(tmp_path / "c"))
    assert ds["id"] == EXPORTED and column in ds.column_names


def test_report_funnel_equals_the_stage_stats_and_plots_are_written(exported: Any) -> None:
    _, out, stats = exported
    report = (out / "report" / "report.md").read_text()
    funnel = {r[0]: r for r in md_table(report, "step")}
    assert int(funnel["selected code"][1]) == stats["funnel.selected"]
    assert int(funnel["code with an instance"][1]) == stats["funnel.with_example"]
    assert funnel["code with an instance"][3] == "`generate.parse_failed` 1"
    assert int(funnel["instances generated"][1]) == stats["funnel.examples"]
    accepted = funnel["accepted by the judge"]
    assert (int(accepted[1]), int(accepted[2])) == (stats["funnel.accepted"], 2)
    assert "`judge.rule.only_code` 1" in accepted[3] and "`judge.unparseable` 1" in accepted[3]
    assert int(funnel["exported"][1]) == stats["funnel.exported"] == stats["out"]
    assert funnel["exported"][3] == "`export.duplicate` 1"
    (_, mix), (_, by_task), (_, by_rule) = md_tables(report, "task")
    assert {r[0]: r[1] for r in mix} == {
        t: "1" for t in ("generate", "summarize", "translate", "repair")
    }
    assert {r[0]: r[1:] for r in by_task}["repair"] == ["2", "1", "50.0%"]
    rules = {(r[0], r[1]): r[2:] for r in by_rule}
    assert rules[("repair", "`only_code`")] == ["2", "1", "50.0%"]
    cost = {r[0]: r for r in md_table(report, "stage")}
    assert cost["total"][1:] == ["15", "1", "15,000", "2,700", "$0.2590"]
    assert cost["per exported instance"][3:] == ["3,750.0", "675.0", "$0.06475"]
    for name in ("funnel", "mix", "acceptance", "lengths"):
        png = out / "report" / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
        assert f"]({name}.png)" in report


def test_unpriced_usage_is_not_given_a_cost(tmp_path: Path) -> None:
    built = build(tmp_path / "run")
    sd = built.store.stage("generate")
    stats = sd.read_json("stats")
    sd.write_json("stats", {**stats, "usage": {**stats["usage"], "cost_usd": None}})
    out, _ = run_export(built, plots=False, formats=("messages",))
    cost = {r[0]: r for r in md_table((out / "report" / "report.md").read_text(), "stage")}
    assert cost["generate"][-1] == "-" and cost["total"][-1] == "$0.2520 (partial)"
    assert cost["per exported instance"][-1] == "-"
    assert not list((out / "report").glob("*.png"))
    assert sorted(p.name for p in (out / "data").iterdir()) == ["messages.jsonl"]


def test_rerun_skips_and_train_file_names_the_first_format(tmp_path: Path) -> None:
    built = build(tmp_path / "run")
    out, _ = run_export(built, formats=("parquet", "alpaca"), plots=False)
    spec = pl.stage_spec("export")
    inputs = {n: built.store.stage(n) for n in pl.load_stage(spec).INPUTS}
    cfg = Config(formats=("parquet", "alpaca"), plots=False)
    assert pl.run_stage(spec, cfg, built.store.stage("export"), inputs=inputs) is None
    assert train_file(built.store.stage("export")) == out / "data" / "alpaca.parquet"


def test_show_prints_instances_with_verdicts_and_status_counts_them(
    exported: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    built, _, _ = exported
    run_dir = built.store.root
    assert cli.main(["show", str(run_dir), "export", "-n", "4"]) == 0
    shown = capsys.readouterr().out
    assert "── export instance 4/4 ──" in shown and "task: repair  language: java" in shown
    assert "yes  only_code: only_code is yes" in shown
    assert (
        f"source: {built.codes[3].repo} {built.codes[3].path}:31-34  licence: Apache-2.0" in shown
    )
    assert "bug_kind: inverted_condition" in shown
    assert "funnel: selected=6" in shown and "dropped: " in shown
    assert cli.main(["show", str(run_dir), "export", "--rejected"]) == 0
    assert "export.duplicate=1" in capsys.readouterr().out
    assert cli.main(["status", str(run_dir)]) == 0
    (row,) = [
        r.split() for r in capsys.readouterr().out.splitlines() if r.strip().startswith("export")
    ]
    assert row[1:4] == ["done", "4", "1"]


def test_the_installed_command_exports_and_shows(tmp_path: Path) -> None:
    """docs/export.md's commands, through the installed `wavecoder` executable."""
    built = build(tmp_path / "run")
    exe = str(Path(sys.executable).parent / "wavecoder")
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    root = built.store.root

    def wavecoder(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([exe, *args], capture_output=True, text=True, env=env, check=False)

    ins = [
        f"-i{root / name}"
        for name in ("dedup", "select", "generate", "judge", "verify", "decontaminate")
    ]
    shown = wavecoder("show", str(root), "export", "-n", "3")
    assert shown.returncode == 0 and "export: no records" in shown.stdout  # not exported yet
    done = wavecoder("export", *ins, "-o", str(root / "export"), "plots=false")
    assert done.returncode == 0, done.stderr
    assert "out=4" in done.stdout and (root / "export" / "README.md").is_file()
    help_ = wavecoder("export", "--help").stdout
    assert "Hugging Face Hub" in help_
    # the help's example is the command just run, with runs/tiny for the run directory
    assert (
        " ".join(
            f"-i runs/tiny/{n}"
            for n in ("dedup", "select", "generate", "judge", "verify", "decontaminate")
        )
        in help_
    )
    shown = wavecoder("show", str(root), "export", "-n", "3")
    assert shown.returncode == 0 and "── export instance 3/4 ──" in shown.stdout
    assert "instance 4/4" not in shown.stdout and "verdict: overall yes" in shown.stdout
    rejected = wavecoder("show", str(root), "export", "--rejected")
    assert rejected.returncode == 0 and "reasons: export.duplicate=1" in rejected.stdout
