"""The README's main command through the installed `wavecoder` executable, without a teacher and
then with one; and `generate` / `judge` as standalone stage commands."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.requirements import require_benchmarks
from tests.unit.instruct.conftest import dataset

pytestmark = pytest.mark.timeout(180)
REPO = Path(__file__).resolve().parents[3]
WAVECODER = Path(sys.executable).parent / "wavecoder"


def _wavecoder(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {**env, "PYTHONPATH": f"{REPO / 'src'}:{REPO}"}
    return subprocess.run([str(WAVECODER), *args], env=env, cwd=REPO, capture_output=True,
                          text=True, timeout=150)  # fmt: skip


def test_demo_without_then_with_a_teacher(tmp_path: Path, teacher) -> None:  # type: ignore[no-untyped-def]
    server, _ = teacher
    run_dir = tmp_path / "tiny"
    args = ["run", "configs/tiny.yaml", f"run_dir={run_dir}",
            "ingest.sources=[tests/fixtures/corpus/tree]", "select.budget=6"]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}

    out = _wavecoder(*args, env=env)
    assert out.returncode == 0, out.stderr
    assert "dry run, role generator: model gpt-4o-mini, 6 requests" in out.stdout
    assert "dry run, role judge" in out.stdout and "prompt tokens (estimate)" in out.stdout
    assert "You are asked to write one code" in out.stdout
    assert "no teacher configured" in out.stdout and "OPENAI_BASE_URL" in out.stdout
    assert (run_dir / "select" / "done.json").exists()
    assert not (run_dir / "generate").exists()

    # offline: decontaminate's references from the shared benchmark files, hashed vectors
    offline = [
        f"decontaminate.data={require_benchmarks()}",
        "decontaminate.embedder.backend=hashing",
    ]
    out = _wavecoder(*args, *offline, env={**env, "OPENAI_BASE_URL": server.url})
    assert out.returncode == 0, out.stderr
    assert (run_dir / "judge" / "done.json").exists()
    assert "instruction funnel: 6 selected -> 6 generated -> 6 judged" in out.stdout
    # the demo ends with the dataset, its card and its report
    export = run_dir / "export"
    assert (export / "done.json").exists() and (export / "README.md").is_file()
    report = (export / "report" / "report.md").read_text()
    # with the leakage of the data decontaminate kept, from its files (the pipeline's path)
    assert "## Benchmark decontamination and leakage" in report
    assert "embedded with `hashing`" in report and "](leakage.png)" in report
    assert (export / "report" / "leakage.png").is_file()
    rows = json.loads((export / "data" / "alpaca.json").read_text())
    clean = json.loads((run_dir / "decontaminate" / "stats.json").read_text())["out"]
    assert 0 < len(rows) <= clean and {"instruction", "input", "output"} <= set(rows[0])

    shown = _wavecoder("show", str(run_dir), "judge", "-n", "1", env=env)
    assert shown.returncode == 0 and "verdict: " in shown.stdout and "instruction:" in shown.stdout
    shown = _wavecoder("show", str(run_dir), "generate", "-n", "2", env=env)
    assert shown.returncode == 0 and shown.stdout.count("── generate case") == 2
    assert "instruction funnel: 6 selected" in shown.stdout
    status = _wavecoder("status", str(run_dir), env=env)
    for stage in ("generate", "judge", "decontaminate", "export"):
        assert re.search(rf"^\s*{stage}\s+done", status.stdout, re.M), status.stdout


def test_generate_and_judge_as_standalone_commands(tmp_path: Path, run_dir: Path, teacher) -> None:  # type: ignore[no-untyped-def]
    """The shapes `wavecoder generate --help` and `wavecoder judge --help` show."""
    server, responder = teacher
    gen, judged = tmp_path / "gen", tmp_path / "judged"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    ends = [f"llm.base_url={server.url}", "llm.model=M"]
    sel, dedup = str(run_dir / "select"), str(run_dir / "dedup")
    out = _wavecoder("generate", "-i", sel, "-i", dedup, "-o", str(gen), "rounds=1", *ends, env=env)
    assert out.returncode == 0, out.stderr
    out = _wavecoder("generate", "-i", sel, "-i", dedup, "-o", str(tmp_path / "x"), "rounds=2",
                     *ends, env=env)  # fmt: skip
    assert out.returncode == 2 and "generate.rounds=1" in out.stderr
    out = _wavecoder("judge", "-i", str(gen), "-i", dedup, "-o", str(judged), *ends, env=env)
    assert out.returncode == 0, out.stderr
    assert responder.calls == {"generate": 12, "judge": 12}
    verdicts = (judged / "records.jsonl").read_text().splitlines()
    assert len(verdicts) == 12 and (judged / "pool.jsonl").exists()
    assert dataset(run_dir) == ([], [], [], [])  # nothing written into the input run
    for stage in ("generate", "judge"):
        shown = _wavecoder(stage, "--help", env=env)
        assert f"wavecoder {stage} -i " in shown.stdout and "llm.base_url=" in shown.stdout


def test_judge_alone_without_a_teacher_says_how_to_connect_one(
    run_dir: Path, teacher, capsys
) -> None:  # type: ignore[no-untyped-def]
    import dataclasses

    from tests.unit.instruct.conftest import run, run_config
    from wavecoder import pipeline as pl

    server, _ = teacher
    rc = run_config(run_dir, server.url, gen={"rounds": 1})
    pl.run_pipeline(rc, start="generate", stop="generate", quiet=True)
    assert (run_dir / "generate" / "done.json").exists()
    judge = rc.sections["judge"]
    no_url = dataclasses.replace(judge, llm=dataclasses.replace(judge.llm, base_url=""))
    rc = dataclasses.replace(rc, sections={**rc.sections, "judge": no_url})
    assert run(rc).get("judge") is None  # the endpoint is not part of the fingerprint
    assert "no teacher configured for judge" in capsys.readouterr().out
    assert not (run_dir / "judge").exists()


def test_endpoint_settings_do_not_make_a_finished_stage_stale(run_dir: Path, teacher) -> None:  # type: ignore[no-untyped-def]
    from tests.unit.instruct.conftest import run, run_config
    from wavecoder import pipeline as pl

    server, _ = teacher
    run(run_config(run_dir, server.url))
    again = run(run_config(run_dir, server.url, gen_llm={"concurrency": 2, "timeout_s": 9.0},
                           judge_llm={"budget_usd": 5.0, "price_input_per_mtok": 1.0}))  # fmt: skip
    assert again == {"generate": None, "judge": None}
    with pytest.raises(pl.StaleStageError, match="judge.llm.temperature"):
        run(run_config(run_dir, server.url, judge_llm={"temperature": 0.5}))
