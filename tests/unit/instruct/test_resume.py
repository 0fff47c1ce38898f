"""generate + judge killed with SIGKILL part-way, then rerun: the clean run's dataset, and no
request the server answered before the kill is sent again (the cache and the append logs)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.openai_server import Reply
from tests.unit.instruct.conftest import dataset, run, run_config

pytestmark = pytest.mark.timeout(120)
REPO = Path(__file__).resolve().parents[3]
SCRIPT = """
import json, sys
from tests.unit.instruct.conftest import run, run_config
run(run_config(__import__("pathlib").Path(sys.argv[1]), sys.argv[2]))
"""


def _body(body: dict[str, Any]) -> str:
    return json.dumps(body, sort_keys=True)


@pytest.mark.parametrize("kill_at", [5, 17])
def test_kill_9_then_rerun_repeats_no_call(  # type: ignore[no-untyped-def]
    tmp_path: Path, run_dir: Path, teacher, kill_at: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, responder = teacher
    clean = tmp_path / "clean"
    shutil.copytree(run_dir, clean)
    answered: list[str] = []
    proc: list[subprocess.Popen[bytes]] = []

    def killing(body: dict[str, Any]) -> Reply:
        # From request `kill_at` on nothing is answered; the kill comes a second later, when
        # every reply sent before has long been received (what is in flight then is lost, and
        # that is what the cache cannot save: a reply the client never got).
        if len(answered) + 1 >= kill_at:
            if len(answered) + 1 == kill_at:
                threading.Timer(1.0, lambda: os.kill(proc[0].pid, signal.SIGKILL)).start()
            answered.append("")
            return Reply.hang()
        answered.append(_body(body))
        return responder(body)

    server.responder = killing
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}:{REPO}"}
    proc.append(subprocess.Popen([sys.executable, "-c", SCRIPT, str(run_dir), server.url],
                                 env=env, cwd=REPO, stderr=subprocess.PIPE))  # fmt: skip
    assert proc[0].wait(timeout=60) == -signal.SIGKILL
    assert not (run_dir / "judge" / "done.json").exists()
    before = set(answered) - {""}

    server.responder = responder
    server.requests.clear()
    run(run_config(run_dir, server.url))
    after = {_body(r.body) for r in server.requests}
    assert not before & after, "a request answered before the kill was sent again"

    monkeypatch.setenv("WAVECODER_CACHE_DIR", str(tmp_path / "clean-cache"))
    run(run_config(clean, server.url))
    assert dataset(run_dir) == dataset(clean)
