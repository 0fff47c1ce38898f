"""Run the installed `wavecoder` executable in a subprocess, with this checkout's sources first."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXECUTABLE = str(Path(sys.executable).with_name("wavecoder"))


def env(**extra: str) -> dict[str, str]:
    out = dict(os.environ)
    out["PYTHONPATH"] = str(REPO / "src") + os.pathsep + out.get("PYTHONPATH", "")
    out.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    out.update(extra)
    return out


def wavecoder(
    *argv: str | Path, cwd: Path | None = None, timeout: float = 300, **extra: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [EXECUTABLE, *map(str, argv)],
        cwd=cwd,
        env=env(**extra),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    """The single error line of a refused command (asserts there is no traceback)."""
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [x for x in proc.stderr.splitlines() if ": error: " in x]
    assert len(lines) == 1, proc.stderr
    return lines[0]
