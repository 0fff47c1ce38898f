"""`wavecoder eval` through the installed executable: no per-request library log lines, `-q`
accepted and quiet, and every subcommand's --help has an example (issue 14, items 1 and 8)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.executable import wavecoder
from tests.helpers.openai_server import OpenAIServer, Reply
from tests.helpers.requirements import require_benchmarks


@pytest.fixture()
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as srv:
        srv.responder = lambda body: Reply.text("    return 0\n")
        yield srv


def _generate(server: OpenAIServer, out: Path, *extra: str) -> tuple[int, str]:
    proc = wavecoder(
        "eval",
        "generate",
        "--benchmark",
        "humaneval",
        "--model",
        "tiny",
        "--base-url",
        server.url,
        "--data",
        require_benchmarks(),
        "--limit",
        "3",
        "-o",
        out,
        *extra,
        OPENAI_API_KEY="sk-test-not-a-real-key",
        WAVECODER_CACHE_DIR=str(out / "cache"),
    )
    assert proc.returncode == 0, proc.stderr
    return proc.returncode, proc.stderr


def test_library_logs_stay_at_warning_unless_verbose(server: OpenAIServer, tmp_path: Path) -> None:
    _, err = _generate(server, tmp_path / "a")
    assert "HTTP Request" not in err  # httpx logs every request at INFO
    _, err = _generate(server, tmp_path / "b", "-v")
    assert "HTTP Request: POST" in err


def test_eval_accepts_quiet(server: OpenAIServer, tmp_path: Path) -> None:
    _, err = _generate(server, tmp_path / "q", "-q")
    assert " INFO " not in err and "it/s]" not in err


@pytest.mark.parametrize("command", ["score", "generate", "selftest"])
def test_every_eval_help_has_an_example(command: str) -> None:
    proc = wavecoder("eval", command, "--help")
    assert proc.returncode == 0
    assert f"example:\n  wavecoder eval {command} " in proc.stdout
