"""HumanEval+ and MBPP+ scored by evalplus's rules (evalplus 0.3.1), every program sandboxed.

Ground truth: the canonical solution (`prompt + canonical_solution`) runs on the base and the plus
inputs in the sandbox; its outputs and per-input times are cached on disk under
`<cache>/evalplus/<dataset sha256>/<task>.pkl` (computed once, read back with an unpickler that
only admits plain data types). A candidate (`prompt + completion`) then runs on the base inputs,
and, when they all pass, on the plus inputs: per-input time limit `max(1.0, 4.0 * canonical
time)`, whole-phase deadline `min(60, sum of limits) + 2` s. The candidate's process only
receives the inputs and sends back its outputs as data (`evalplus_harness`); this process, where
no candidate code runs, decodes them as plain data and compares them with the expected outputs
by evalplus's rules (`evalplus_oracle`). The first input that fails decides. The `Outcome` is the
base+plus verdict; its `stage` names the phase that decided (`base` or `plus`), so base-only
pass = status pass or stage `plus`.
"""

from __future__ import annotations

import base64
import json
import pickle
import secrets
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from wavecoder.evals import sandbox
from wavecoder.evals.benchmarks import humanevalplus
from wavecoder.evals.evalplus_oracle import MBPP_NOT_NONE, decode, first_mismatch
from wavecoder.evals.runners import MEMORY_MB
from wavecoder.evals.sandbox import Job, Limits, SandboxMode, Step, StepResult
from wavecoder.evals.toolchains import cache_dir, find
from wavecoder.evals.types import Completion, Outcome, OutcomeStatus, Problem

Phase = Literal["base", "plus"]
PHASES: tuple[Phase, ...] = ("base", "plus")
MIN_TIME_LIMIT = 1.0  # evalplus DEFAULT_MIN_TIME_LIMIT
TIME_LIMIT_FACTOR = 4.0  # evalplus DEFAULT_GT_TIME_LIMIT_FACTOR
PHASE_TIMEOUT_CAP = 60.0  # evalplus EVALPLUS_TIMEOUT_PER_TASK
TRUTH_TIMEOUT_S = 300.0
TRUTH_MEMORY_MB = 8192  # trusted code; some MBPP+ outputs are hundreds of MB (Mbpp/255)
TRUTH_RESULT_BYTES = 1 << 30
MIN_RESULT_BYTES = 1 << 20  # a candidate may send this much, or 3x the expected outputs' size
HARNESS = Path(__file__).with_name("evalplus_harness.py")


@dataclass(frozen=True)
class PlusTask:
    """One HumanEval+ / MBPP+ problem with its parsed inputs and its ground truth."""

    problem: Problem
    inputs: dict[Phase, list[Any]]
    expected: dict[Phase, list[Any]]
    times: dict[Phase, list[float]]
    expected_bytes: dict[Phase, int] | None = None

    @property
    def atol(self) -> float:
        return float(self.problem.extra.get("atol", "0") or 0)

    @property
    def dataset(self) -> str:
        """evalplus's dataset name, which selects its special oracles: humaneval or mbpp."""
        return dataset_of(self.problem)

    @property
    def not_none(self) -> bool:
        """MBPP+ tasks whose outputs evalplus only checks for being not None."""
        return self.dataset == "mbpp" and self.problem.entry_point in MBPP_NOT_NONE

    def limits(self, phase: Phase) -> list[float]:
        return [max(MIN_TIME_LIMIT, TIME_LIMIT_FACTOR * t) for t in self.times[phase]]

    def result_bytes(self, phase: Phase) -> int:
        size = (self.expected_bytes or {}).get(phase, 0)
        return MIN_RESULT_BYTES + 3 * size


def dataset_of(problem: Problem) -> str:
    return problem.extra.get("evalplus_dataset", "humaneval")


def loads_plain(data: bytes) -> Any:
    """A ground-truth cache file, read with the plain-data unpickler (no code)."""
    return decode(data)


def inputs_of(problem: Problem, phase: Phase) -> list[Any]:
    raw = problem.extra.get(f"{phase}_input")
    if raw is None:
        raise ValueError(f"{problem.task_id}: no {phase}_input (not an evalplus release file)")
    value = json.loads(raw)
    if value == {}:  # MBPP+ 767efcc's Mbpp/793 has `"plus_input": {}`: evalplus runs no input
        value = []
    if not isinstance(value, list):
        raise ValueError(f"{problem.task_id}: {phase}_input is not a list")
    if dataset_of(problem) == "mbpp":
        from wavecoder.evals.benchmarks.mbppplus import deserialize_inputs

        value = deserialize_inputs(problem.task_id, value)
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
        inputs = {ph: inputs_of(problem, ph) for ph in PHASES}
        if not path.is_file():
            data = pickle.dumps(_compute_truth(problem, inputs, mode), protocol=4)
            tmp = path.with_suffix(f".{secrets.token_hex(4)}.tmp")
            tmp.write_bytes(data)
            tmp.replace(path)
        truth = loads_plain(path.read_bytes())
        for ph in PHASES:
            if len(truth[ph]["out"]) != len(inputs[ph]):
                raise ValueError(f"{path}: {ph} outputs do not match the inputs; delete it")
        expected = {ph: truth[ph]["out"] for ph in PHASES}
        times = {ph: truth[ph]["time"] for ph in PHASES}
        sizes = {ph: len(pickle.dumps(expected[ph], protocol=4)) for ph in PHASES}
        return PlusTask(problem, inputs, expected, times, sizes)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return {t.problem.task_id: t for t in pool.map(one, problems)}


def _compute_truth(
    problem: Problem, inputs: dict[Phase, list[Any]], mode: SandboxMode
) -> dict[str, Any]:
    code = problem.prompt + problem.canonical_solution
    not_none = dataset_of(problem) == "mbpp" and problem.entry_point in MBPP_NOT_NONE
    limits = Limits(
        timeout_s=TRUTH_TIMEOUT_S, memory_mb=TRUTH_MEMORY_MB, output_bytes=TRUTH_RESULT_BYTES
    )
    truth: dict[str, Any] = {}
    for ph in PHASES:
        job = _job(code, problem.entry_point, inputs[ph], None, "truth" if not_none else "")
        job["copy_inputs"] = True
        step, result = _run(job, limits, mode)
        outputs = result.get("outputs", []) if result else []
        if step.status != "ok" or result is None or len(outputs) != len(inputs[ph]):
            why = (result or {}).get("error", "") or step.stderr[-500:]
            raise RuntimeError(
                f"{problem.task_id}: canonical solution failed on {ph} inputs ({step.status}): "
                f"{why}"
            )
        truth[ph] = {"out": [decode(o) for o in outputs], "time": list(result["times"])}
    return truth


def check(task: PlusTask, completion: Completion, *, mode: SandboxMode = "namespaces") -> Outcome:
    """Run one candidate on the base, then the plus inputs; the verdict as an `Outcome`."""
    problem = task.problem
    code = humanevalplus.program(problem, completion.completion)
    duration = 0.0
    for ph in PHASES:
        per_input = task.limits(ph)
        job = _job(
            code, problem.entry_point, task.inputs[ph], per_input,
            "candidate" if task.not_none else "",
        )  # fmt: skip
        deadline = min(PHASE_TIMEOUT_CAP, sum(per_input)) + 2.0
        limits = Limits(
            timeout_s=deadline, memory_mb=MEMORY_MB["python"], output_bytes=task.result_bytes(ph)
        )
        step, result = _run(job, limits, mode)
        duration += step.duration_s
        status: OutcomeStatus = "fail"
        if step.status in ("timeout", "error"):  # error: the sandbox could not run it
            status = step.status
        why = {"timeout": "phase deadline", "error": "sandbox error"}.get(status, "")
        why = why or _verdict(task, ph, result)
        if why:
            tail = "\n".join(s for s in (why, step.stderr[-1500:]) if s)
            return Outcome(
                completion.task_id, completion.sample_index, status, round(duration, 4), ph,
                stderr_tail=tail,
            )  # fmt: skip
    return Outcome(completion.task_id, completion.sample_index, "pass", round(duration, 4))


def _verdict(task: PlusTask, phase: Phase, result: dict[str, Any] | None) -> str:
    """ "" when every output of `phase` matches, else why not (the first failing input)."""
    if result is None:
        return "no result: the program ended before sending its outputs"
    outputs = result.get("outputs")
    if not isinstance(outputs, list):
        return "malformed result"
    problem = task.problem
    bad = first_mismatch(
        task.dataset, problem.entry_point, outputs, task.expected[phase], task.inputs[phase],
        task.atol,
    )  # fmt: skip
    if bad is None:
        return ""
    index, why = bad
    error = str(result.get("error", ""))
    if why == "no output" and error:
        return error
    return f"input {index}: {why}"


def _job(
    code: str, entry_point: str, inputs: list[Any], limits: list[float] | None, not_none: str
) -> dict[str, Any]:
    return {
        "code": code,
        "entry_point": entry_point,
        "inputs": inputs,
        "limits": limits,
        "not_none": not_none,
        "copy_inputs": False,  # evalplus passes a candidate the inputs themselves
    }


def _run(
    job: dict[str, Any], limits: Limits, mode: SandboxMode
) -> tuple[StepResult, dict[str, Any] | None]:
    """The harness's step and its decoded result (None when it sent none or it is malformed)."""
    tc = find("python")
    nonce = secrets.token_hex(16)
    files: dict[str, str | bytes] = {
        "evalplus_harness.py": HARNESS.read_text(encoding="utf-8"),
        "job.pkl": pickle.dumps({**job, "nonce": nonce}, protocol=4),
    }
    step = Step((tc.tools["python"], "-s", "evalplus_harness.py"), limits, dict(tc.env), "run")
    result = sandbox.run(Job(files=files, steps=(step,), binds=tc.binds), mode=mode).last
    out = result.stdout
    at = out.rfind(nonce + " ")
    if at < 0:
        return result, None
    end = out.find("\n", at)
    try:
        raw = base64.b64decode(out[at + len(nonce) + 1 : end if end >= 0 else None], validate=True)
        decoded = decode(raw)
    except Exception:
        return result, None
    return result, decoded if isinstance(decoded, dict) else None
