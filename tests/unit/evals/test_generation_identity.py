"""No stale replies: the served weights key the cache, summaries say who answered and how many
replies the cache gave back, `--no-cache` and `--model-revision` (issue 12, item 6)."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.openai_server import OpenAIServer, Reply
from tests.unit.evals.test_generate import _run
from wavecoder.evals.api import evaluate
from wavecoder.llm.base import LLMConfig, build_llm


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAVECODER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-secret")


def _generate(benchmarks_dir: Path, url: str, out: Path, *extra: str) -> dict[str, Any]:
    argv = ["generate", "--benchmark", "humaneval", "--data", str(benchmarks_dir), "--model"]
    argv += ["fixed", "--base-url", url, "--limit", "2", "-o", str(out), *extra]
    assert _run(argv) == 0
    rows = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    return {"raw": [r["raw"] for r in rows]}


def _server(reply: str, root: str | None) -> OpenAIServer:
    srv = OpenAIServer()
    srv.responder = lambda body: Reply.text(reply)
    srv.served = {"fixed": root}
    return srv


def test_a_server_reporting_other_weights_is_never_answered_from_the_cache(
    benchmarks_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with _server("from A", "/weights/a") as a:
        assert _generate(benchmarks_dir, a.url, tmp_path / "a")["raw"] == ["from A"] * 2
    with _server("from B", "/weights/b") as b:  # same model name, other weights
        assert _generate(benchmarks_dir, b.url, tmp_path / "b")["raw"] == ["from B"] * 2
        assert len(b.requests) == 2 and b.model_listings == 1
        capsys.readouterr()
        _generate(benchmarks_dir, b.url, tmp_path / "b2")  # same server again: the cache
        assert len(b.requests) == 2
    printed = capsys.readouterr().out
    assert (
        "2 of 2 requests answered from the cache" in printed
        and "server weights /weights/b" in printed
    )


def test_a_dead_endpoint_does_not_replay_another_servers_replies(
    benchmarks_dir: Path, tmp_path: Path
) -> None:
    with _server("from A", "/weights/a") as a:
        _generate(benchmarks_dir, a.url, tmp_path / "a")
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/v1"
    cfg = LLMConfig(model="fixed", base_url=dead, endpoint="completions", max_retries=0)
    llm = build_llm(cfg, role="eval")
    try:
        with pytest.raises(RuntimeError, match="generation failed"):
            evaluate("humaneval", llm=llm, out=tmp_path / "d", data=benchmarks_dir, limit=1)
    finally:
        llm.close()


def test_summary_records_who_answered_and_no_cache_asks_again(
    benchmarks_dir: Path, tmp_path: Path
) -> None:
    with _server("```python\ndef f():\n    return 1\n```", None) as srv:
        _generate(benchmarks_dir, srv.url, tmp_path / "1", "--model-revision", "r1")
        _generate(benchmarks_dir, srv.url, tmp_path / "2", "--model-revision", "r1", "--no-cache")
        assert len(srv.requests) == 4  # --no-cache: asked again
        _generate(benchmarks_dir, srv.url, tmp_path / "3", "--model-revision", "r2")
        assert len(srv.requests) == 6  # another revision: another identity
        llm = build_llm(
            LLMConfig(model="fixed", base_url=srv.url, endpoint="completions",
                      model_revision="r1"),
            role="eval",
        )  # fmt: skip
        try:
            result = evaluate(
                "humaneval", llm=llm, out=tmp_path / "4", data=benchmarks_dir, limit=2
            )
        finally:
            llm.close()
        assert len(srv.requests) == 6  # all from the cache, and the record says so
    gen = result["generation"]
    assert (gen["cache_hits"], gen["requests"]) == (2, 2)
    assert gen["model"]["model"] == "fixed" and gen["model"]["revision"] == "r1"
    assert gen["model"]["endpoints"] == [srv.url] and gen["model"]["identity"] == "fixed@r1"
    assert (gen["prompt_format"], gen["temperature"], gen["max_tokens"]) == ("alpaca", 0.0, 512)


def test_identity_includes_the_served_root_for_the_eval_role_only() -> None:
    with _server("x", "/models/llama-7b") as srv:
        cfg = LLMConfig(model="fixed", base_url=srv.url)
        with build_llm(cfg, role="eval") as ev, build_llm(cfg, role="generator") as gen:
            assert ev.identity == "fixed+served:/models/llama-7b"
            assert gen.identity == "fixed" and srv.model_listings == 1
        with build_llm(LLMConfig(model="other", base_url=srv.url), role="eval") as other:
            assert other.identity == "other"  # the server does not list it: no root


def test_two_endpoints_serving_different_weights_is_an_error() -> None:
    from wavecoder.llm.base import LLMError

    with _server("x", "/w/a") as a, _server("x", "/w/b") as b:
        cfg = LLMConfig(model="fixed", base_urls=(a.url, b.url))
        with pytest.raises(LLMError, match="different weights"):
            build_llm(cfg, role="eval")


def test_endpoints_are_recorded_without_credentials() -> None:
    from wavecoder.llm.identity import redact

    assert redact("https://user:s3cret@host:8000/v1?key=abc") == "https://host:8000/v1"


@pytest.mark.usefixtures("sandbox_ok")
def test_scoring_generated_samples_later_records_who_generated_them(
    benchmarks_dir: Path, tmp_path: Path
) -> None:
    with _server("```python\ndef f():\n    return 1\n```", "/weights/a") as srv:
        _generate(benchmarks_dir, srv.url, tmp_path / "g", "--model-revision", "r7")
    samples = tmp_path / "g" / "samples.jsonl"
    argv = ["score", "--benchmark", "humaneval", "--data", str(benchmarks_dir), "--samples"]
    argv += [str(samples), "--allow-partial", "--allow-code-execution", "-k", "1", "-o"]
    assert _run([*argv, str(tmp_path / "s")]) == 0
    gen = json.loads((tmp_path / "s" / "summary.json").read_text())["generation"]
    assert gen["model"]["identity"] == "fixed@r7+served:/weights/a" and gen["requests"] == 2
    samples.write_text(samples.read_text().replace("return 1", "return 2"))  # edited since
    assert _run([*argv, str(tmp_path / "t")]) == 0
    assert "generation" not in json.loads((tmp_path / "t" / "summary.json").read_text())
