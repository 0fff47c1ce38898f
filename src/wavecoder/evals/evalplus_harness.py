"""The program HumanEval+ and MBPP+ run in the sandbox: call a function on inputs, send the outputs.

Not imported by wavecoder: `wavecoder.evals.evalplus_rules` ships its text into the sandbox with a
pickled job (`job.pkl`: code, entry point, inputs, per-input time limits, flags) and runs
`python evalplus_harness.py`. It loads the code, calls the entry point on every input (a deep
copy of each when computing ground truth, timed with time.time() as evalplus does; under a
per-input ITIMER_REAL limit for candidates) and pickles each output right after its call (a
candidate may mutate what it returned later). It stops at the first input that raises or runs
out of time. It prints one line, `NONCE base64(pickle({"outputs": [bytes], "times": [float],
"error": str}))`, on a private copy of stdout; the code's own stdout and stderr go to /dev/null.

Nothing here decides a verdict. The expected outputs never enter the sandbox; the scorer decodes
the outputs as plain data and compares them (`wavecoder.evals.evalplus_oracle`), so whatever
this process is made to print, it can only claim outputs, never a pass.
"""

from __future__ import annotations

import base64
import copy
import os
import pickle
import signal
import sys
import time
import traceback
from typing import Any


class _Timeout(BaseException):
    pass


def _alarm(_signum: int, _frame: Any) -> None:
    raise _Timeout()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, _Timeout):
        return "time limit"
    try:
        return repr(exc)[:300]
    except BaseException:
        return type(exc).__name__


def run(job: dict[str, Any]) -> dict[str, Any]:
    outputs: list[bytes] = []
    times: list[float] = []
    result: dict[str, Any] = {"outputs": outputs, "times": times, "error": ""}
    try:
        # An empty namespace, as evalplus's exec: `__name__` is then builtins', so a solution's
        # `if __name__ == "__main__":` block does not run.
        scope: dict[str, Any] = {}
        exec(compile(job["code"], "solution.py", "exec"), scope)
        fn = scope[job["entry_point"]]
    except BaseException as exc:
        result["error"] = "load: " + _describe(exc)
        return result
    limits, not_none = job["limits"], job["not_none"]
    for i, inp in enumerate(job["inputs"]):
        try:
            if job["copy_inputs"]:
                inp = copy.deepcopy(inp)
            if limits:
                signal.setitimer(signal.ITIMER_REAL, limits[i])
            start = time.time()
            try:
                out = fn(*inp)
            finally:
                elapsed = time.time() - start
                if limits:
                    signal.setitimer(signal.ITIMER_REAL, 0)
            # evalplus checks only "was not None" for these tasks (a candidate's bool as is)
            if not_none == "truth" or (not_none == "candidate" and not isinstance(out, bool)):
                out = out is not None
            outputs.append(pickle.dumps(out, protocol=4))
            times.append(elapsed)
        except BaseException as exc:
            result["error"] = f"input {i}: " + _describe(exc)
            return result
    return result


def main() -> int:
    with open("job.pkl", "rb") as fh:
        job = pickle.load(fh)
    os.remove("job.pkl")
    nonce = job.pop("nonce").encode()
    result_fd, error_fd = os.dup(1), os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    signal.signal(signal.SIGALRM, _alarm)
    try:
        payload = pickle.dumps(run(job), protocol=4)
    except BaseException:
        os.write(error_fd, traceback.format_exc()[-2000:].encode())
        return 1
    _write(result_fd, nonce + b" ")
    step = 3 << 20  # base64 in pieces: outputs can be hundreds of MB (MBPP+ combinatorics)
    for at in range(0, len(payload), step):
        _write(result_fd, base64.b64encode(payload[at : at + step]))
    _write(result_fd, b"\n")
    return 0


def _write(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


if __name__ == "__main__":
    sys.exit(main())
