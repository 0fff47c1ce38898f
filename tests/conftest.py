"""Test-session guards shared by every suite.

- No network: any connection to a non-loopback address fails the test (tests never reach a real
  provider; local test servers listen on 127.0.0.1).
- Time budgets: each suite (tests/unit/<area>, tests/integration) has a wall-time budget so the
  whole of CI stays well inside its 90 minutes on 2 cores; a suite over budget fails the session.
"""

from __future__ import annotations

import ipaddress
import socket
from collections import defaultdict
from pathlib import Path

import pytest

# seconds per suite on a 2-core machine; keep the sum far below CI's 90 minutes
BUDGETS: dict[str, float] = {
    "unit/core": 120,
    "unit/corpus": 420,
    "unit/llm": 300,
    "unit/instruct": 240,
    "unit/evals": 600,
    "unit/train": 420,
    "integration": 900,  # the documented-commands test runs every example: ~6 min here
}
_spent: dict[str, float] = defaultdict(float)
_ROOT = Path(__file__).parent


def _suite(nodeid: str) -> str:
    parts = Path(nodeid.split("::")[0]).parts
    if len(parts) >= 3 and parts[1] == "unit" and (_ROOT / "unit" / parts[2]).is_dir():
        return f"unit/{parts[2]}"
    if len(parts) >= 2 and parts[1] == "unit":
        return "unit/core"
    return parts[1] if len(parts) >= 2 else "other"


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _spent[_suite(report.nodeid)] += report.duration


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # type: ignore[no-untyped-def]
    if not _spent:
        return
    terminalreporter.section("suite time budgets")
    for suite, spent in sorted(_spent.items()):
        budget = BUDGETS.get(suite, 120.0)
        flag = "  OVER BUDGET" if spent > budget else ""
        terminalreporter.write_line(f"{suite:<14} {spent:7.1f}s of {budget:5.0f}s{flag}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    over = [s for s, t in _spent.items() if t > BUDGETS.get(s, 120.0)]
    if over and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


_real_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address, *args):  # type: ignore[no-untyped-def]
    if self.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple):
        host = address[0]
        try:
            ok = ipaddress.ip_address(host).is_loopback
        except ValueError:
            ok = host == "localhost"
        if not ok:
            raise ConnectionRefusedError(f"tests may not reach the network ({host})")
    return _real_connect(self, address, *args)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
