"""Toolchain discovery: a tool that is on PATH but cannot run is a missing toolchain."""

from __future__ import annotations

import sys

import pytest

from wavecoder.evals.toolchains import ToolchainMissing, _run_text


def test_a_tool_that_cannot_run_is_a_missing_toolchain_not_a_crash() -> None:
    """rustup's `rustc` under a HOME without a toolchain exits 1 on `--print sysroot`: the
    caller (eval's and verify's preflight) must get a one-line reason, not a traceback."""
    failing = [sys.executable, "-c",
               "import sys; sys.exit('error: no default toolchain\\n  13: <unknown>')"]  # fmt: skip
    with pytest.raises(ToolchainMissing, match="failed: error: no default toolchain; run"):
        _run_text(failing)
    assert _run_text([sys.executable, "-c", "print(' ok ')"]) == "ok"
