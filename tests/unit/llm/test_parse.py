"""Body parsing, Retry-After and back-off: pure functions."""

from __future__ import annotations

import json

from wavecoder.llm import LLMConfig, Request
from wavecoder.llm.openai_compat import backoff_s, base_urls, retry_after_s
from wavecoder.llm.parse import parse_body, payload


def _chat(*choices: dict[str, object]) -> str:
    return json.dumps(
        {"choices": list(choices), "usage": {"prompt_tokens": 5, "completion_tokens": 7}}
    )


def test_ok_and_choice_order() -> None:
    raw = _chat(
        {"index": 1, "message": {"content": "b"}, "finish_reason": "stop"},
        {"index": 0, "message": {"content": "a"}, "finish_reason": "stop"},
    )
    resp = parse_body("k", raw, chat=True)
    assert resp.status == "ok" and resp.texts == ("a", "b") and resp.raw == raw
    assert (resp.usage.prompt_tokens, resp.usage.completion_tokens) == (5, 7)


def test_statuses() -> None:
    trunc = _chat({"index": 0, "message": {"content": "a"}, "finish_reason": "length"})
    assert parse_body("k", trunc, chat=True).status == "truncated"
    filt = _chat({"index": 0, "message": {"content": None}, "finish_reason": "content_filter"})
    assert parse_body("k", filt, chat=True).status == "filtered"
    refusal = _chat(
        {"index": 0, "message": {"content": None, "refusal": "no"}, "finish_reason": "stop"}
    )
    assert parse_body("k", refusal, chat=True).status == "filtered"
    empty = _chat({"index": 0, "message": {"content": ""}, "finish_reason": "stop"})
    assert parse_body("k", empty, chat=True).status == "empty"
    comp = json.dumps({"choices": [{"index": 0, "text": "x", "finish_reason": "stop"}]})
    assert parse_body("k", comp, chat=False).texts == ("x",)


def test_malformed_bodies_are_kept_raw() -> None:
    for raw in (
        "<html>bad gateway</html>",
        "[]",
        '{"choices": []}',
        '{"error": {"message": "x"}}',
        '{"choices": [{"message": {"content": 3}}]}',
        '{"choices": [5]}',
        '{"choi',
    ):
        resp = parse_body("k", raw, chat=True)
        assert resp.status == "malformed", raw
        assert resp.raw == raw and resp.error


def test_payload_shapes() -> None:
    req = Request.chat("k", ("user", "u"), stop=("x",), seed=1, response_format="json_object")
    body = payload(req, "m")
    assert body["messages"] == [{"role": "user", "content": "u"}] and body["seed"] == 1
    assert body["response_format"] == {"type": "json_object"} and body["stop"] == ["x"]
    assert "response_format" not in payload(req, "m", use_format=False)
    assert payload(Request(key="k", prompt="p"), "m")["prompt"] == "p"


def test_retry_after_forms() -> None:
    assert retry_after_s({"retry-after": "2"}) == 2.0
    assert retry_after_s({"retry-after-ms": "1500"}) == 1.5
    assert retry_after_s({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
    assert retry_after_s({"retry-after": "soon"}) is None
    assert retry_after_s({}) is None


def test_backoff_is_capped_and_jittered() -> None:
    delays = [backoff_s(10, 0.5, 4.0) for _ in range(200)]
    assert all(2.0 <= d <= 4.0 for d in delays) and len(set(delays)) > 100
    assert 0.25 <= backoff_s(0, 0.5, 4.0) <= 0.5


def test_base_urls_from_config_and_env(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    assert base_urls(LLMConfig()) == ["https://api.openai.com/v1"]
    monkeypatch.setenv("OPENAI_BASE_URL", "http://a/v1, http://b/v1")
    assert base_urls(LLMConfig()) == ["http://a/v1", "http://b/v1"]
    cfg = LLMConfig(base_url="http://c/v1", base_urls=("http://c/v1", "http://d/v1"))
    assert base_urls(cfg) == ["http://c/v1", "http://d/v1"]
