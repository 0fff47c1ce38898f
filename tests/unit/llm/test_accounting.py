"""Token accounting, prices, the hard budget cap and the dry run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.openai_server import OpenAIServer, Reply
from wavecoder.llm import BudgetExceeded, LLMConfig, LLMError, Request, Response, build_llm
from wavecoder.llm.accounting import Accountant, Price, resolve_price, worst_case_cost
from wavecoder.llm.dryrun import estimate

pytestmark = pytest.mark.timeout(60)


def reqs(n: int) -> list[Request]:
    return [
        Request.chat(f"k{i}", ("user", f"question number {i}"), max_tokens=100) for i in range(n)
    ]


def test_price_resolution(tmp_path: Path) -> None:
    assert resolve_price(LLMConfig(model="gpt-4o")) == Price(2.5, 10.0)
    assert resolve_price(LLMConfig(model="gpt-4o-2024-08-06")) == Price(2.5, 10.0)
    assert resolve_price(LLMConfig(model="my-vllm-model")) is None
    table = tmp_path / "prices.yaml"
    table.write_text("my-vllm-model: {input: 0.1, output: 0.2}\n")
    assert resolve_price(LLMConfig(model="my-vllm-model", prices_file=str(table))) == Price(
        0.1, 0.2
    )
    cfg = LLMConfig(model="gpt-4o", price_input_per_mtok=1.0, price_output_per_mtok=3.0)
    assert resolve_price(cfg) == Price(1.0, 3.0)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"m": {"input": 1}}))
    with pytest.raises(LLMError, match="bad.json"):
        resolve_price(LLMConfig(model="m", prices_file=str(bad)))


def test_budget_needs_a_price() -> None:
    with pytest.raises(LLMError, match="no known price"):
        Accountant(role="judge", model="mystery", price=None, budget_usd=1.0)


def test_a_budget_on_an_unpriced_model_fails_when_the_config_loads() -> None:
    from wavecoder import pipeline as pl
    from wavecoder.config import ConfigError

    with pytest.raises(ValueError, match="no known price"):
        LLMConfig(model="mystery", budget_usd=1.0)
    LLMConfig(model="mystery", budget_usd=1.0, price_input_per_mtok=1.0, price_output_per_mtok=2.0)
    LLMConfig(model="mystery")  # no cap, no price needed
    tiny = Path(__file__).resolve().parents[3] / "configs" / "tiny.yaml"
    with pytest.raises(ConfigError, match="generate.*no known price"):
        pl.load_run_config(tiny, ["generate.llm.model=mystery"])
    pl.load_run_config(tiny, ["generate.llm.model=mystery", "generate.llm.budget_usd=null"])


def test_tokens_and_cost_are_counted_from_server_usage(server: OpenAIServer) -> None:
    cfg = LLMConfig(base_url=server.url, price_input_per_mtok=1e6, price_output_per_mtok=2e6)
    with build_llm(cfg, role="judge") as llm:
        out = llm.generate(reqs(3), progress=False)
        stats = llm.stats()
    prompt = sum(r.usage.prompt_tokens for r in out)
    completion = sum(r.usage.completion_tokens for r in out)
    assert prompt > 0 and completion > 0
    assert stats["llm.judge.prompt_tokens"] == prompt
    assert stats["llm.judge.completion_tokens"] == completion
    assert stats["llm.judge.cost_usd"] == pytest.approx(prompt * 1.0 + completion * 2.0)


def test_budget_cap_stops_cleanly_and_resumes_without_repeats(server: OpenAIServer) -> None:
    # Price of 1 USD per token makes the numbers easy: each request reserves its worst case.
    price: dict[str, Any] = {"price_input_per_mtok": 1e6, "price_output_per_mtok": 1e6}
    one = worst_case_cost(reqs(1)[0], Price(1e6, 1e6))
    budget = 5.5 * one
    server.responder = lambda body: Reply.text("x" * 396)  # 99 tokens: close to max_tokens
    cfg = LLMConfig(base_url=server.url, concurrency=2, budget_usd=budget, **price)
    seen: list[Response] = []
    with build_llm(cfg, role="generator") as llm:
        with pytest.raises(BudgetExceeded, match="budget") as info:
            llm.generate(reqs(20), progress=False, on_response=seen.append)
        spent = float(llm.stats()["llm.generator.cost_usd"])
    finished = [r for r in info.value.responses if r is not None]
    assert spent <= budget, "the hard cap was crossed"
    assert 5 <= len(finished) < 20 and len(seen) == len(finished) == len(server.requests)
    cfg2 = LLMConfig(base_url=server.url, budget_usd=100 * one, **price)
    with build_llm(cfg2, role="generator") as llm:
        out = llm.generate(reqs(20), progress=False)
    assert all(r.ok for r in out) and len(server.requests) == 20  # none sent twice
    assert sum(r.cached for r in out) == len(finished)


def test_budget_too_small_for_one_request(server: OpenAIServer) -> None:
    cfg = LLMConfig(base_url=server.url, budget_usd=1e-9, model="gpt-4o")
    with (
        build_llm(cfg, role="generator") as llm,
        pytest.raises(BudgetExceeded, match="20 of 20 requests not sent"),
    ):
        llm.generate(reqs(20), progress=False)
    assert server.requests == []


def test_cached_replies_cost_nothing(server: OpenAIServer) -> None:
    cfg = LLMConfig(base_url=server.url, model="gpt-4o")
    with build_llm(cfg, role="generator") as llm:
        llm.generate(reqs(4), progress=False)
    # A budget too small for any fresh call still replays the cache in full.
    cfg = LLMConfig(base_url=server.url, model="gpt-4o", budget_usd=1e-9)
    with build_llm(cfg, role="generator") as llm:
        assert all(r.cached for r in llm.generate(reqs(4), progress=False))
    server.script(Reply.text("unused"))
    assert len(server.requests) == 4


def test_dry_run_estimates_without_calling(server: OpenAIServer) -> None:
    cfg = LLMConfig(base_url=server.url, model="gpt-4o", budget_usd=0.001)
    requests = reqs(50)
    report = estimate(requests, cfg, role="generator", show=2)
    assert report.requests == 50 and report.max_completion_tokens == 5000
    assert report.max_cost_usd == pytest.approx(report.cost_usd + 5000 * 10.0 / 1e6)
    text = report.render()
    assert "question number 0" in text and "question number 1" in text
    assert "question number 2" not in text and "may stop the run" in text
    assert server.requests == []
