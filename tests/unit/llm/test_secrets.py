"""The API key reaches the server and nothing else: not the cache, not logs, not responses."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.helpers.openai_server import OpenAIServer, Reply
from wavecoder.llm import LLMConfig, Request, build_llm

KEY = "sk-secret-7f3a9c1e-do-not-leak"


@pytest.mark.timeout(60)
def test_key_is_sent_but_never_written(
    server: OpenAIServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("MY_ROLE_KEY", KEY)
    log_file = tmp_path / "run.log"
    handler = logging.FileHandler(log_file)
    logging.getLogger().addHandler(handler)
    caplog.set_level(logging.DEBUG)
    server.script(
        Reply.status(429, retry_after=0.01),
        Reply.status(500),
        Reply.garbage(),
        Reply.status(401),
        Reply.truncated(),
    )
    dead = "http://127.0.0.1:9/v1"
    cfg = LLMConfig(
        base_urls=(server.url, dead),
        api_key_env="MY_ROLE_KEY",
        backoff_base_s=0.01,
        cache_path=str(tmp_path / "cache" / "llm.sqlite"),
        max_retries=3,
    )
    requests = [Request.chat(f"k{i}", ("user", f"m{i}")) for i in range(8)]
    try:
        with build_llm(cfg, role="generator") as llm:
            out = llm.generate(requests, progress=False)
            stats = llm.stats()
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
    assert any(r.headers.get("authorization") == f"Bearer {KEY}" for r in server.requests)
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.suffix == ".sqlite" for p in written) and log_file in written
    for path in written:
        assert KEY.encode() not in path.read_bytes(), f"key leaked into {path}"
    assert KEY not in caplog.text
    for resp in out:
        assert KEY not in resp.to_json()
    assert KEY not in repr(stats) and KEY not in repr(cfg)
