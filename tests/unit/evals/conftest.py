"""Fixtures for the evaluation tests: skip (fail under CI=true) when something is missing."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from wavecoder.evals import forkserver, sandbox
from wavecoder.evals.sandbox import namespaces_available
from wavecoder.evals.toolchains import ToolchainMissing, find

REPO = Path(__file__).resolve().parents[3]
BENCHMARKS = (REPO / ".." / "shared" / "data" / "benchmarks").resolve()


def _missing(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"required under CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def benchmarks_dir() -> Path:
    if not (BENCHMARKS / "README.md").is_file():
        _missing(f"benchmark data not found at {BENCHMARKS}")
    return BENCHMARKS


@pytest.fixture(scope="session")
def sandbox_ok() -> None:
    reason = namespaces_available()
    if reason is not None:
        _missing(f"namespaces sandbox unavailable: {reason}")


def require_language(language: str) -> None:
    try:
        find(language)
    except ToolchainMissing as exc:
        _missing(str(exc))


@pytest.fixture(params=["forkserver", "multiprocess"])
def sandbox_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Run a test on both sandbox paths; on the fast one, check it really served every step."""
    monkeypatch.setenv(forkserver.ENV_SWITCH, "1" if request.param == "forkserver" else "0")
    sandbox.REPORT.reset()
    yield request.param
    counts = sandbox.REPORT.snapshot()
    if request.param == "forkserver":  # the fast path really ran, and did not fall back
        assert not forkserver._POOL.failures, forkserver._POOL.failures
        assert not counts["fallback_steps"], counts
        assert "util-linux" not in counts["steps_by_path"], counts
