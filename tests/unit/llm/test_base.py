"""Request / Response value types and the config."""

from __future__ import annotations

import pytest

from wavecoder.llm import LLMConfig, Message, Request, Response, Usage


def test_request_needs_exactly_one_of_messages_or_prompt() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        Request(key="a")
    with pytest.raises(ValueError, match="exactly one"):
        Request(key="a", prompt="x", messages=(Message("user", "x"),))
    with pytest.raises(ValueError, match="n must be"):
        Request(key="a", prompt="x", n=0)
    with pytest.raises(ValueError, match="json_schema"):
        Request(key="a", prompt="x", response_format="json_schema")


def test_request_round_trip_and_payload_excludes_key() -> None:
    req = Request.chat("k1", ("system", "s"), ("user", "u"), temperature=0.7, stop=("\n",), seed=3)
    assert Request.from_dict(req.to_dict()) == req
    assert "key" not in req.payload()
    other = Request.chat(
        "k2", ("system", "s"), ("user", "u"), temperature=0.7, stop=("\n",), seed=3
    )
    assert other.payload() == req.payload()
    assert req.kind == "chat" and Request(key="p", prompt="x").kind == "completions"


def test_response_round_trip() -> None:
    resp = Response("k", ("a", "b"), ("stop", "length"), "truncated", '{"raw": 1}', Usage(3, 4))
    back = Response.from_dict(resp.to_dict())
    assert back == resp and back.text == "a" and not back.ok


def test_config_validation_and_namespace() -> None:
    with pytest.raises(ValueError):
        LLMConfig(concurrency=0)
    with pytest.raises(ValueError):
        LLMConfig(min_concurrency=10, concurrency=5)
    assert LLMConfig().namespace("eval") == "eval"
    assert LLMConfig().namespace("generator") == "default"
    assert LLMConfig(cache_namespace="x").namespace("eval") == "x"


def test_import_is_light() -> None:
    import subprocess
    import sys

    code = "import sys, wavecoder.llm; print('openai' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
