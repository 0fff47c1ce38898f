"""What a test needs from outside the project: the shared benchmark data, toolchains.

Missing pieces skip the test with a reason on a developer's machine, and fail it under CI
(`CI=true`), where `make toolchains` must have installed everything.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BENCHMARKS = REPO.parent / "shared" / "data" / "benchmarks"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def missing(reason: str) -> None:
    if in_ci():
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


def require_benchmarks() -> Path:
    """The shared benchmark data folder (../shared/data/benchmarks beside the checkout)."""
    if not (BENCHMARKS / "HumanEval.jsonl.gz").exists():
        missing(f"benchmark data not found at {BENCHMARKS}")
    return BENCHMARKS


def require_tool(name: str) -> str:
    """The path of an executable on PATH (javac, go, node, rustc, g++ ...)."""
    path = shutil.which(name)
    if path is None:
        missing(f"{name} is not installed (make toolchains)")
    assert path is not None
    return path
