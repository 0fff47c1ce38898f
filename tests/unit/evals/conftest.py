"""Fixtures for the evaluation tests: skip (fail under CI=true) when something is missing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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
