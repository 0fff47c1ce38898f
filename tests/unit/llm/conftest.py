"""Fixtures of the LLM tests: the scripted OpenAI server, a private cache, the tiny model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.openai_server import OpenAIServer


@pytest.fixture()
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as srv:
        yield srv


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No real provider, no user cache: every test gets its own cache dir and a fake key."""
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    monkeypatch.setenv("WAVECODER_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory: Any) -> Path:
    pytest.importorskip("torch")
    from tests.helpers.tiny_model import tiny_llama_dir

    return tiny_llama_dir(tmp_path_factory)
