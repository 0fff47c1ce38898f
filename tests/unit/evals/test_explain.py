"""HumanEvalPack Explain: stage-1 post-processing on real rows, both stages end to end through the
local OpenAI-compatible server (scored in the sandbox), `--descriptions`, and `evaluate()`."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.openai_server import OpenAIServer, Reply
from tests.unit.evals.conftest import require_language
from wavecoder.evals import cli, explain
from wavecoder.evals.api import evaluate
from wavecoder.evals.benchmarks import load
from wavecoder.evals.generate import GenerateOptions
from wavecoder.evals.score import ScoreOptions
from wavecoder.evals.types import Problem

DESCRIBE = "Provide a concise natural language description of the code"
SYNTH = "according to the description."


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    cli.configure(parser)
    return cli.main(parser.parse_args(argv))


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture()
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAVECODER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-secret")


@pytest.fixture(scope="module")
def python_rows(benchmarks_dir: Path) -> list[Problem]:
    return load("humanevalpack-explain-python", benchmarks_dir)[1]


def test_describe_prompt_is_code_then_instruction(benchmarks_dir: Path) -> None:
    _, rust, _ = load("humanevalexplain-rust", benchmarks_dir)  # the harness's name is an alias
    p = rust[0]
    text = explain.describe_text(p)
    assert text.startswith("fn main(){}\n" + p.extra["declaration"] + p.canonical_solution)
    assert text.endswith(f"using at most {len(p.extra['docstring'])} characters.")
    assert p.extra["docstring"] not in text  # the model sees code, never the docstring


@pytest.mark.parametrize("index", [0, 4, 12, 80, 163])
def test_cut_to_docstring_length(python_rows: list[Problem], index: int) -> None:
    p = python_rows[index]
    limit = len(p.extra["docstring"])
    reply = "  " + " ".join(f"word{i}" for i in range(400)) + "\n"
    cut = explain.cut_description(p, reply)
    assert len(cut) <= limit and reply.strip().startswith(cut)
    assert len(cut) >= limit - len(" word399")  # only the trailing blank is stripped


def test_copied_code_lines_removed(python_rows: list[Problem]) -> None:
    p = python_rows[0]  # has_close_elements: long and short code lines
    long_lines = [ln.strip() for ln in p.canonical_solution.splitlines() if len(ln.strip()) > 20]
    assert long_lines, "row 0 has code lines over 20 characters"
    reply = f"Loops: {long_lines[0]} then {long_lines[1]}; returns True early."
    cut = explain.cut_description(p, reply)
    assert long_lines[0] not in cut and long_lines[1] not in cut
    assert cut.startswith("Loops: ") and cut.endswith("returns True early.")
    short = "return False"  # a code line of 20 characters or fewer stays
    assert short in explain.cut_description(p, f"It will {short} otherwise.")


def test_stop_words_cut_per_language(benchmarks_dir: Path, python_rows: list[Problem]) -> None:
    assert explain.cut_description(python_rows[2], "Keeps the fraction.\ndef f():") == (
        "Keeps the fraction."
    )
    _, go, _ = load("humanevalpack-explain-go", benchmarks_dir)
    assert explain.cut_description(go[2], "Fractional part.\n// code") == "Fractional part."
    _, js, _ = load("humanevalpack-explain-js", benchmarks_dir)
    text = "Fractional part.\ndef x<|endoftext|>more"
    assert explain.cut_description(js[2], text) == "Fractional part.\ndef x"


def _responder(problems: list[Problem], wrong: set[tuple[str, int]]) -> Any:
    """Stage 1: two descriptions naming the function; stage 2: the right code unless `wrong`."""
    fence = "javascript" if problems[0].language == "javascript" else "python"

    def answer(body: dict[str, Any]) -> Reply:
        messages = body.get("messages") or []
        prompt = str(body.get("prompt") or "".join(m["content"] for m in messages))
        for p in problems:
            if DESCRIBE in prompt and p.canonical_solution in prompt:
                pad = " (padding) " * 40  # longer than any docstring: the cut must bite
                return Reply.text(f"DESC0 of {p.entry_point}.{pad}", f"DESC1 of {p.entry_point}.")
            for j in (0, 1):
                if SYNTH in prompt and f"DESC{j} of {p.entry_point}." in prompt:
                    body_text = "    return None\n" if p.language == "python" else "  return 0;\n}"
                    code = p.canonical_solution if (p.task_id, j) not in wrong else body_text
                    decl = p.extra["declaration"]
                    return Reply.text(f"Sure:\n```{fence}\n{decl}{code}\n```\n")
        return Reply.text("unexpected prompt")

    return answer


@pytest.mark.usefixtures("sandbox_ok", "isolated_cache")
def test_cli_both_stages_python(
    python_rows: list[Problem], benchmarks_dir: Path, tmp_path: Path
) -> None:
    first = python_rows[:3]
    out = tmp_path / "out"
    with OpenAIServer() as srv:
        srv.responder = _responder(first, wrong={("Python/1", 1)})
        argv = ["generate", "--benchmark", "humanevalpack-explain-python", "--data"]
        argv += [str(benchmarks_dir), "--model", "m", "--base-url", srv.url, "--limit", "3"]
        argv += ["--prompt-format", "instruct", "-n", "2", "--temperature", "0.8", "-k", "1"]
        assert _run([*argv, "-k", "2", "-o", str(out), "--allow-code-execution"]) == 0
        prompts = [str(r.body.get("prompt")) for r in srv.requests]
    describes = [q for q in prompts if DESCRIBE in q]
    synths = [q for q in prompts if SYNTH in q]
    assert len(describes) == 3 and len(synths) == 6 and len(prompts) == 9
    for q in synths:  # stage 2 sees the cut description and the bare declaration only
        assert ("DESC0" in q) == ("(padding)" in q) and q.count("(padding)") < 40
        assert not any(p.extra["docstring"] in q for p in first)
        assert not any(p.canonical_solution.strip() in q for p in first)
    descs = _rows(out / "descriptions.jsonl")
    assert [(d["task_id"], d["description_index"]) for d in descs] == [
        (p.task_id, j) for p in first for j in (0, 1)
    ]
    for d, p in zip(descs[::2], first, strict=True):
        assert len(d["description"]) <= len(p.extra["docstring"]) < len(d["raw"])
        assert d["max_chars"] == len(p.extra["docstring"])
    samples = _rows(out / "samples.jsonl")
    assert [(s["task_id"], s["sample_index"], s["description_index"]) for s in samples] == [
        (p.task_id, j, j) for p in first for j in (0, 1)
    ]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["pass@1"] == pytest.approx(5 / 6)  # Python/1: 1 of its 2 programs passes
    assert summary["pass@2"] == pytest.approx(1.0)
    assert summary["explain"]["descriptions_per_problem"] == 2
    assert summary["explain"]["samples_per_description"] == 1
    assert summary["benchmark"] == "humanevalpack-explain-python" and summary["scored"] is True
    results = _rows(out / "results.jsonl")
    assert [r["status"] for r in results] == ["pass", "pass", "pass", "fail", "pass", "pass"]


@pytest.mark.usefixtures("sandbox_ok", "isolated_cache")
def test_evaluate_api_both_stages_javascript(benchmarks_dir: Path, tmp_path: Path) -> None:
    from wavecoder.llm.base import LLMConfig, build_llm

    require_language("javascript")
    _, js, _ = load("humanevalpack-explain-js", benchmarks_dir)
    first = js[:2]
    with OpenAIServer() as srv:
        srv.responder = _responder(first, wrong={("JavaScript/1", 0)})
        llm = build_llm(LLMConfig(backend="openai", model="m", base_url=srv.url), role="eval")
        gen = GenerateOptions("alpaca", n=1, samples_per_description=2, temperature=0.8)
        summary = evaluate(
            "humanevalexplain-js",
            llm=llm,
            out=tmp_path,
            data=benchmarks_dir,
            gen=gen,
            score=ScoreOptions(ks=(1,)),
            limit=2,
            progress=False,
        )
        assert all("### Instruction" in str(r.body.get("prompt")) for r in srv.requests)
        assert all(r.body.get("n") == 2 for r in srv.requests if SYNTH in str(r.body))
    assert summary["pass@1"] == pytest.approx(0.5)  # JavaScript/1's only description is wrong
    assert summary["samples"] == 4 and summary["prompt_format"] == "alpaca"
    assert summary["explain"]["samples_per_description"] == 2
    assert summary == json.loads((tmp_path / "summary.json").read_text())


@pytest.mark.usefixtures("sandbox_ok", "isolated_cache")
def test_cli_descriptions_file_skips_stage1(
    python_rows: list[Problem], benchmarks_dir: Path, tmp_path: Path
) -> None:
    chosen = [python_rows[4], python_rows[2]]  # file order need not be dataset order
    desc_file = tmp_path / "theirs.jsonl"
    desc_file.write_text(
        "".join(
            json.dumps({"task_id": p.task_id, "description": f"DESC0 of {p.entry_point}."}) + "\n"
            for p in chosen
        )
    )
    out = tmp_path / "out"
    with OpenAIServer() as srv:
        srv.responder = _responder(chosen, wrong=set())
        argv = ["generate", "--benchmark", "humanevalpack-explain-python", "--data"]
        argv += [str(benchmarks_dir), "--model", "m", "--base-url", srv.url, "-k", "1"]
        argv += ["--descriptions", str(desc_file), "-o", str(out), "--allow-code-execution"]
        assert _run(argv) == 0
        assert not any(DESCRIBE in str(r.body) for r in srv.requests)
        assert len(srv.requests) == 2
    assert not (out / "descriptions.jsonl").exists()
    samples = _rows(out / "samples.jsonl")
    assert [s["task_id"] for s in samples] == ["Python/2", "Python/4"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["pass@1"] == 1.0 and summary["explain"]["descriptions_file"] == str(desc_file)


def test_harness_generations_json_is_read(python_rows: list[Problem], tmp_path: Path) -> None:
    path = tmp_path / "generations.json"
    path.write_text(json.dumps([["a", "b"], ["c"]]))
    descs = explain.read_descriptions(path, python_rows)
    assert [(d.task_id, d.index, d.text) for d in descs] == [
        ("Python/0", 0, "a"), ("Python/0", 1, "b"), ("Python/1", 0, "c"),
    ]  # fmt: skip


def test_bad_descriptions_name_file_and_line(python_rows: list[Problem], tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text(
        '{"task_id": "Python/0", "description": "ok"}\n{"task_id": "Nope/1", "description": "x"}\n'
    )
    with pytest.raises(KeyError, match=re.escape(f"{path}:2")):
        explain.read_descriptions(path, python_rows)
    path.write_text('{"task_id": "Python/0"}\n')
    with pytest.raises(ValueError, match=re.escape(f"{path}:1")):
        explain.read_descriptions(path, python_rows)
    path.write_text('{"task_id": "Python/0", "description": "a", "description_index": 0}\n' * 2)
    with pytest.raises(ValueError, match="duplicate"):
        explain.read_descriptions(path, python_rows)


def test_evaluate_argument_errors(benchmarks_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="LLM client"):
        evaluate("humaneval", llm=None, out=tmp_path, data=benchmarks_dir)
    with pytest.raises(ValueError, match="samples file"):
        evaluate("humaneval", llm=None, out=tmp_path, samples=tmp_path, descriptions=tmp_path)
    with pytest.raises(ValueError, match="explain"):
        evaluate(
            "humaneval", llm=object(), out=tmp_path, data=benchmarks_dir, descriptions=tmp_path
        )
    with pytest.raises(KeyError, match="unknown benchmark"):
        evaluate("humanevalexplain-cobol", llm=None, out=tmp_path, samples=tmp_path)


def test_stage2_without_description_is_an_error(python_rows: list[Problem]) -> None:
    from wavecoder.evals.benchmarks import BENCHMARKS
    from wavecoder.evals.generate import build_requests

    with pytest.raises(ValueError, match="needs a description"):
        build_requests(
            BENCHMARKS["humanevalpack-explain-python"], python_rows[:1], GenerateOptions()
        )


def test_evaluate_unscored_samples_file(benchmarks_dir: Path, tmp_path: Path) -> None:
    samples = tmp_path / "s.jsonl"
    samples.write_text('{"task_id": "HumanEval/0", "completion": "    return 1\\n"}\n' * 3)
    result = evaluate(
        "humaneval",
        llm=None,
        out=tmp_path / "o",
        data=benchmarks_dir,
        samples=samples,
        allow_partial=True,
    )
    assert (result["benchmark"], result["samples"], result["scored"]) == ("humaneval", 3, False)
    assert result["partial"]["problems_scored"] == 1 and result["problems_total"] == 164
    assert not (tmp_path / "o").exists()


@pytest.mark.usefixtures("sandbox_ok")
def test_evaluate_scores_samples_file(
    python_rows: list[Problem], benchmarks_dir: Path, tmp_path: Path
) -> None:
    """Stage-2 programs from elsewhere score like Synthesize, against the bare declaration."""
    rows = [{"task_id": p.task_id, "completion": p.canonical_solution} for p in python_rows[:2]]
    rows.append({"task_id": "Python/1", "completion": "    return []\n"})
    samples = tmp_path / "s.jsonl"
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows))
    summary = evaluate(
        "humanevalpack-explain-python",
        llm=None,
        out=tmp_path / "o",
        data=benchmarks_dir,
        samples=samples,
        score=ScoreOptions(ks=(1,)),
        progress=False,
        allow_partial=True,
    )
    assert summary["pass@1"] == pytest.approx(0.75) and summary["prompt_format"] == ""
    assert summary["status_counts"] == {"pass": 2, "fail": 1}


@pytest.mark.usefixtures("isolated_cache")
def test_cli_describe_only(
    python_rows: list[Problem], benchmarks_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    with OpenAIServer() as srv:
        srv.responder = _responder(python_rows[:2], wrong=set())
        argv = ["generate", "--benchmark", "humanevalexplain-python", "--data", str(benchmarks_dir)]
        argv += ["--model", "m", "--base-url", srv.url, "--limit", "2", "-o", str(out)]
        assert _run([*argv, "--describe-only", "--descriptions", str(tmp_path / "x")]) == 2
        assert srv.requests == []
        assert _run([*argv, "--describe-only", "--prompt-format", "chat"]) == 0
        assert all(r.path.endswith("/chat/completions") for r in srv.requests)
        assert len(srv.requests) == 2
    descs = _rows(out / "descriptions.jsonl")
    assert [d["task_id"] for d in descs] == ["Python/0", "Python/1"]
    assert not (out / "samples.jsonl").exists()
