"""Ctrl-C during LLM calls: in-flight requests are cancelled, finished replies reach the cache,
and the process prints one line and exits 130 (no pending-task, endpoint or sqlite noise)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.helpers.openai_server import OpenAIServer

REPO = Path(__file__).resolve().parents[3]


def test_ctrl_c_cancels_in_flight_requests_and_commits_the_cache(tmp_path: Path) -> None:
    cache = tmp_path / "llm.sqlite"
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}:{REPO}", "OPENAI_API_KEY": "sk-test"}
    with OpenAIServer(latency_s=0.2) as srv:
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.unit.llm.interrupt_child", srv.url, str(cache)],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert child.stdout is not None
        got = 0
        while got < 40:  # some replies finished, about 32 more in flight
            line = child.stdout.readline()
            assert line, child.communicate()[1]
            got += line.startswith("got")
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)
    got += out.count("got")
    assert child.returncode == 130, err
    assert err.strip().splitlines() == ["wavecoder: interrupted; rerun the same command to resume"]
    with sqlite3.connect(cache) as db:
        cached = db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
    assert cached >= got  # every reply handed over was committed (and those that came after)
