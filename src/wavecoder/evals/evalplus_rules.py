"""HumanEval+ scored by evalplus's rules (evalplus 0.3.1), every program run in the sandbox.

Ground truth: the canonical solution (`prompt + canonical_solution`) runs on the base and the plus
inputs in the sandbox; its outputs and per-input times are cached on disk under
`<cache>/evalplus/<dataset sha256>/<task>.pkl` (computed once, read back with an unpickler that
only admits plain data types). A candidate (`prompt + completion`) then runs on the base inputs,
and, when they all pass, on the plus inputs: per-input time limit `max(1.0, 4.0 * canonical
time)`, whole-phase deadline `min(60, sum of limits) + 2` s, outputs compared by evalplus's rules
(see `evalplus_harness`). The `Outcome` is the base+plus verdict; its `stage` names the phase
that decided (`base` or `plus`), so base-only pass = status pass or stage `plus`.
Known difference: evalplus 0.3.1 fails every HumanEval/32 candidate (its `find_zero` oracle
`continue`s before recording the pass); here the oracle's intended rule is applied.
"""

from __future__ import annotations

import base64
import io
import json
import pickle
import secrets
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from wavecoder.evals import sandbox
from wavecoder.evals.runners import MEMORY_MB
from wavecoder.evals.sandbox import Job, Limits, SandboxMode, Step
from wavecoder.evals.toolchains import cache_dir, find
from wavecoder.evals.types import Completion, Outcome, OutcomeStatus, Problem

Phase = Literal["base", "plus"]
PHASES: tuple[Phase, ...] = ("base", "plus")
MIN_TIME_LIMIT = 1.0  # evalplus DEFAULT_MIN_TIME_LIMIT
TIME_LIMIT_FACTOR = 4.0  # evalplus DEFAULT_GT_TIME_LIMIT_FACTOR
PHASE_TIMEOUT_CAP = 60.0  # evalplus EVALPLUS_TIMEOUT_PER_TASK
TRUTH_TIMEOUT_S = 300.0
HARNESS = Path(__file__).with_name("evalplus_harness.py")
_PLAIN = {"list", "tuple", "dict", "set", "frozenset", "complex", "bytearray", "int", "float"}


@dataclass(frozen=True)
class PlusTask:
    """One HumanEval+ problem with its parsed inputs and its ground truth."""

    problem: Problem
    inputs: dict[Phase, list[Any]]
    expected: dict[Phase, list[Any]]
    times: dict[Phase, list[float]]

    @property
    def atol(self) -> float:
        return float(self.problem.extra.get("atol", "0") or 0)

    def limits(self, phase: Phase) -> list[float]:
        return [max(MIN_TIME_LIMIT, TIME_LIMIT_FACTOR * t) for t in self.times[phase]]


class _PlainUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module == "builtins" and name in _PLAIN:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing {module}.{name} in a ground-truth cache")


def loads_plain(data: bytes) -> Any:
    return _PlainUnpickler(io.BytesIO(data)).load()


def inputs_of(problem: Problem, phase: Phase) -> list[Any]:
    raw = problem.extra.get(f"{phase}_input")
    if raw is None:
        raise ValueError(f"{problem.task_id}: no {phase}_input (not an evalplus HumanEval+ file)")
    value = json.loads(raw)
    if not isinstance(value, list):
        raise ValueError(f"{problem.task_id}: {phase}_input is not a list")
    return value


def ground_truth(
    problems: Sequence[Problem],
    dataset_sha256: str,
    *,
    mode: SandboxMode = "namespaces",
    workers: int = 1,
    cache: Path | None = None,
) -> dict[str, PlusTask]:
    """Expected outputs and times of every problem, computed in the sandbox once and cached."""
    root = (cache or cache_dir() / "evalplus") / dataset_sha256
    root.mkdir(parents=True, exist_ok=True)

    def one(problem: Problem) -> PlusTask:
        path = root / (problem.task_id.replace("/", "_") + ".pkl")
        if not path.is_file():
            data = pickle.dumps(_compute_truth(problem, mode), protocol=4)
            tmp = path.with_suffix(f".{secrets.token_hex(4)}.tmp")
            tmp.write_bytes(data)
            tmp.replace(path)
        truth = loads_plain(path.read_bytes())
        inputs = {ph: inputs_of(problem, ph) for ph in PHASES}
        for ph in PHASES:
            if len(truth[ph]["out"]) != len(inputs[ph]):
                raise ValueError(f"{path}: {ph} outputs do not match the inputs; delete it")
        expected = {ph: truth[ph]["out"] for ph in PHASES}
        times = {ph: truth[ph]["time"] for ph in PHASES}
        return PlusTask(problem, inputs, expected, times)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return {t.problem.task_id: t for t in pool.map(one, problems)}


def _compute_truth(problem: Problem, mode: SandboxMode) -> dict[str, Any]:
    code = problem.prompt + problem.canonical_solution
    jobs: dict[str, dict[str, Any]] = {
        ph: {"code": code, "entry_point": problem.entry_point, "inputs": inputs_of(problem, ph)}
        for ph in PHASES
    }
    limits = Limits(
        timeout_s=TRUTH_TIMEOUT_S, memory_mb=MEMORY_MB["python"], output_bytes=256 << 20
    )
    results, _ = _run_phases("truth", jobs, [limits, limits], mode)
    truth: dict[str, Any] = {}
    for ph, (status, payload, stderr) in zip(PHASES, results, strict=True):
        if status != "ok" or payload is None:
            raise RuntimeError(
                f"{problem.task_id}: canonical solution failed on {ph} inputs ({status}): "
                f"{stderr[-500:]}"
            )
        truth[ph] = loads_plain(base64.b64decode(payload))
    return truth


def check(task: PlusTask, completion: Completion, *, mode: SandboxMode = "namespaces") -> Outcome:
    """Run one candidate on the base, then the plus inputs; the verdict as an `Outcome`."""
    problem = task.problem
    code = problem.prompt + completion.completion
    jobs: dict[str, dict[str, Any]] = {}
    limits: list[Limits] = []
    for ph in PHASES:
        per_input = task.limits(ph)
        jobs[ph] = {
            "code": code,
            "entry_point": problem.entry_point,
            "inputs": task.inputs[ph],
            "expected": task.expected[ph],
            "limits": per_input,
            "atol": task.atol,
        }
        deadline = min(PHASE_TIMEOUT_CAP, sum(per_input)) + 2.0
        limits.append(Limits(timeout_s=deadline, memory_mb=MEMORY_MB["python"]))
    results, duration = _run_phases("check", jobs, limits, mode)
    for ph, (status, payload, stderr) in zip(PHASES, results, strict=False):
        if status == "ok":
            continue
        verdict: OutcomeStatus = "timeout" if status == "timeout" else "fail"
        detail = json.loads(payload).get("error", "") if payload else ""
        tail = "\n".join(s for s in (detail, stderr[-1500:]) if s)
        return Outcome(
            completion.task_id, completion.sample_index, verdict, round(duration, 4), ph,
            stderr_tail=tail,
        )  # fmt: skip
    return Outcome(completion.task_id, completion.sample_index, "pass", round(duration, 4))


def _run_phases(
    kind: str, jobs: dict[str, dict[str, Any]], limits: list[Limits], mode: SandboxMode
) -> tuple[list[tuple[str, str | None, str]], float]:
    """(status, payload after the nonce or None, stderr) per phase that ran, and the seconds.

    A check phase is `ok` only when it printed a passing result; exit 0 without one (the
    candidate called os._exit) is a failure.
    """
    tc = find("python")
    nonce = secrets.token_hex(16)
    files: dict[str, str | bytes] = {"evalplus_harness.py": HARNESS.read_text(encoding="utf-8")}
    for ph, job in jobs.items():
        files[f"{ph}.pkl"] = pickle.dumps({**job, "nonce": nonce}, protocol=4)
    steps = tuple(
        Step((tc.tools["python"], "-s", "evalplus_harness.py", kind, ph), lim, dict(tc.env), ph)
        for ph, lim in zip(jobs, limits, strict=True)
    )
    result = sandbox.run(Job(files=files, steps=steps, binds=tc.binds), mode=mode)
    out: list[tuple[str, str | None, str]] = []
    for step in result.steps:
        payload = None
        for line in step.stdout.splitlines():
            if line.startswith(nonce + " "):
                payload = line[len(nonce) + 1 :]
        status: str = step.status
        if kind == "check" and status in ("ok", "failed"):
            passed = payload is not None and json.loads(payload).get("passed") is True
            status = "ok" if passed and step.status == "ok" else "failed"
        out.append((status, payload, step.stderr))
    return out, result.duration_s
