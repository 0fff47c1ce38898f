"""The program HumanEval+ runs in the sandbox (a standalone script: stdlib; numpy for atol).

Not imported by wavecoder: `wavecoder.evals.evalplus_rules` ships its text into the sandbox with a
pickled job (`<phase>.pkl`). `python evalplus_harness.py truth PHASE` runs the trusted canonical
solution on every input of PHASE (a deep copy of each, timed with time.time() as evalplus does)
and prints `NONCE base64(pickle({"out", "time"}))`. `python evalplus_harness.py check PHASE`
runs a candidate on every input under a per-input time limit and compares with evalplus 0.3.1's
rules (exact match; else, with `atol` (1e-6 forced for float outputs), same type, same length and
`np.allclose(rtol=1e-7)`; HumanEval/32 `find_zero` checked by `|poly(xs, out)| <= atol`), stopping
at the first failure (evalplus's fast check). It prints `NONCE {json}` and exits 0 on pass, 1 on
failure. The candidate's prints go to /dev/null; the result goes to a private copy of stdout.
"""

from __future__ import annotations

import base64
import copy
import json
import math
import os
import pickle
import signal
import sys
import time
from typing import Any


class _Timeout(BaseException):
    pass


def _alarm(_signum: int, _frame: Any) -> None:
    raise _Timeout()


def _poly(xs: list[Any], x: float) -> float:
    return sum(coeff * math.pow(x, i) for i, coeff in enumerate(xs))


def is_floats(x: Any) -> bool:
    if isinstance(x, float):
        return True
    if isinstance(x, (list, tuple)) and x:
        return all(isinstance(i, float) for i in x)
    return type(x).__name__ == "ndarray" and str(x.dtype) in ("float64", "float32")


def matches(out: Any, exp: Any, atol: float, entry_point: str, inp: list[Any]) -> bool:
    if entry_point == "find_zero":  # HumanEval/32: any root will do
        return bool(abs(_poly(inp[0], out)) <= atol)
    exact = out == exp
    if atol == 0 and is_floats(exp):
        atol = 1e-6
    if not exact and atol != 0:
        import numpy as np

        if type(out) is not type(exp):
            return False
        if isinstance(exp, (list, tuple)) and len(out) != len(exp):
            return False
        return bool(np.allclose(out, exp, rtol=1e-07, atol=atol))
    return bool(exact)


def _load(code: str, entry_point: str) -> Any:
    scope: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(code, "solution.py", "exec"), scope)
    return scope[entry_point]


def truth(job: dict[str, Any]) -> bytes:
    fn = _load(job["code"], job["entry_point"])
    outs, times = [], []
    for inp in job["inputs"]:
        inp = copy.deepcopy(inp)
        start = time.time()
        outs.append(fn(*inp))
        times.append(time.time() - start)
    return base64.b64encode(pickle.dumps({"out": outs, "time": times}, protocol=4))


def check(job: dict[str, Any]) -> dict[str, Any]:
    try:
        fn = _load(job["code"], job["entry_point"])
    except BaseException as exc:
        return {"passed": False, "done": 0, "error": f"load: {exc!r}"[:300]}
    atol = job["atol"]
    for i, inp in enumerate(job["inputs"]):
        try:
            signal.setitimer(signal.ITIMER_REAL, job["limits"][i])
            try:
                out = fn(*inp)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            ok = matches(out, job["expected"][i], atol, job["entry_point"], inp)
            error = "" if ok else "wrong output"
        except BaseException as exc:
            ok, error = False, ("time limit" if isinstance(exc, _Timeout) else repr(exc))
        if not ok:
            return {"passed": False, "done": i, "failed": i, "error": error[:300]}
    return {"passed": True, "done": len(job["inputs"])}


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def main() -> int:
    mode, phase = sys.argv[1], sys.argv[2]
    with open(f"{phase}.pkl", "rb") as fh:
        job = pickle.load(fh)
    os.remove(f"{phase}.pkl")
    nonce = job.pop("nonce").encode()
    result_fd = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    signal.signal(signal.SIGALRM, _alarm)
    if mode == "truth":
        _write_all(result_fd, nonce + b" " + truth(job) + b"\n")
        return 0
    result = check(job)
    _write_all(result_fd, nonce + b" " + json.dumps(result).encode() + b"\n")
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
