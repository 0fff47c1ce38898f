"""An append stage killed with SIGKILL part-way, then rerun, gives the same output as a clean
run: no duplicate and no missing record."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
SCRIPT = """
import sys
from tests.unit.core.toy_stages import TOY_STAGES
from wavecoder.pipeline import build_run_config, run_pipeline
rc = build_run_config({"run_dir": sys.argv[1], "count": {"n": 60},
                       "square": {"delay_s": float(sys.argv[2])}}, TOY_STAGES)
run_pipeline(rc, stages=TOY_STAGES)
"""


def _run(run_dir: Path, delay: float) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}:{REPO}"}
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(run_dir), str(delay)],
        env=env,
        cwd=REPO,
        stderr=subprocess.PIPE,
    )


def _lines(run_dir: Path) -> list[dict]:
    return [json.loads(x) for x in (run_dir / "square" / "records.jsonl").read_text().splitlines()]


def test_sigkill_then_rerun_gives_identical_output(tmp_path: Path) -> None:
    clean = tmp_path / "clean"
    assert _run(clean, 0.0).wait(timeout=60) == 0

    crashed = tmp_path / "crashed"
    proc = _run(crashed, 0.02)
    log = crashed / "square" / "records.jsonl"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (not log.exists() or log.stat().st_size < 200):
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    partial = len(log.read_text().splitlines())
    assert 0 < partial < 60, "the kill must land part-way"
    assert not (crashed / "square" / "done.json").exists()

    proc = _run(crashed, 0.02)  # same settings: a changed one would (rightly) stop the run
    assert proc.wait(timeout=60) == 0, proc.stderr.read() if proc.stderr else ""
    got, want = _lines(crashed), _lines(clean)
    assert len(got) == 60
    assert sorted(got, key=lambda r: r["id"]) == sorted(want, key=lambda r: r["id"])
