"""Run an instance's code against its tests in the evaluation sandbox, and decide its status.

`run_tests(language, code, tests)` builds the program (`verify_programs.program`) and runs it
exactly as the scorer does: `wavecoder.evals.runners.build_job` with a fresh end-of-test marker,
`wavecoder.evals.sandbox.run`, `runners.judge` for the verdict (exit status 0 of every step AND
the marker, so an early `exit(0)` is no pass). A timeout is retried once, as the scorer does,
before it counts. The runner's `fail` becomes `compile_error` when the compile step decided (or
Go's `go test` reported `[build failed]`, or Python / JavaScript raised a SyntaxError).

`check(ex, tests, ...)` is one instance's verdict: the solution must pass; for repair the buggy
input must also FAIL the same tests (else `repair_buggy_passes`: the tests do not tell the fix
from the bug, so the instance proves nothing), and a fix that does not pass is
`repair_fix_<status>`. Nothing here asks a model or touches the run directory.
"""

from __future__ import annotations

import re

from wavecoder.evals import endmarker, runners, sandbox
from wavecoder.evals.sandbox import SandboxMode, tail
from wavecoder.evals.toolchains import ToolchainMissing
from wavecoder.instruct.verify_programs import buggy_code, program, solution_language
from wavecoder.records import Example, Execution, ProgramRun, VerifyStatus

TAIL_BYTES = 2000
_SYNTAX = re.compile(r"^\s*SyntaxError\b", re.M)


def run_tests(
    language: str, code: str, tests: str, *, timeout_s: float, mode: SandboxMode
) -> ProgramRun:
    """The program's status in the sandbox, retried once on a timeout."""
    first = _run_once(language, code, tests, timeout_s=timeout_s, mode=mode)
    if first.status != "timeout":
        return first
    return _run_once(language, code, tests, timeout_s=timeout_s, mode=mode)


def _run_once(
    language: str, code: str, tests: str, *, timeout_s: float, mode: SandboxMode
) -> ProgramRun:
    marker = endmarker.new_marker()
    try:
        job = runners.build_job(language, program(language, code, tests), timeout_s=timeout_s,
                                marker=marker)  # fmt: skip
    except ToolchainMissing as exc:
        return ProgramRun("error", "setup", None, "", str(exc)[-TAIL_BYTES:])
    except ValueError as exc:  # the program has no place for the end marker (C++ without main)
        return ProgramRun("compile_error", "assemble", None, "", str(exc)[-TAIL_BYTES:])
    result = sandbox.run(job, mode=mode)
    verdict = runners.judge(language, result, marker)
    last = result.last
    stdout = endmarker.strip(last.stdout, marker)
    status: VerifyStatus = verdict.status
    if status == "fail" and _did_not_build(language, last.name, stdout, last.stderr):
        status = "compile_error"
    return ProgramRun(
        status=status,
        step=verdict.stage,
        returncode=last.returncode,
        stdout_tail=tail(stdout.encode(), TAIL_BYTES),
        stderr_tail=tail(last.stderr.encode(), TAIL_BYTES),
        duration_s=round(result.duration_s, 4),
    )


def _did_not_build(language: str, step: str, stdout: str, stderr: str) -> bool:
    if step == "compile":
        return True
    if language == "go":
        return "[build failed]" in stdout or "[setup failed]" in stdout
    if language in ("python", "javascript"):
        return bool(_SYNTAX.search(stderr))
    return False


def check(
    ex: Example,
    tests: str,
    *,
    timeout_s: float,
    mode: SandboxMode,
    accepted: bool = True,
    **record: str,
) -> Execution:
    """One instance's `Execution` (module docstring); `record`: the tests' provenance fields
    (`tests_source`, `tests_raw`, `tests_model`)."""
    language = solution_language(ex)
    fix = run_tests(language, ex.solution, tests, timeout_s=timeout_s, mode=mode)
    buggy = None
    status: VerifyStatus = fix.status
    reason: str = "" if fix.status == "pass" else fix.status
    if ex.task == "repair":
        if fix.status != "pass":
            reason = f"repair_fix_{fix.status}"
        else:
            buggy = run_tests(language, buggy_code(ex), tests, timeout_s=timeout_s, mode=mode)
            if buggy.status == "pass":
                status, reason = "fail", "repair_buggy_passes"
            elif buggy.status == "error":
                status, reason = "error", "repair_buggy_error"
    return Execution(
        example_id=ex.id,
        task=ex.task,
        language=language,
        status=status,
        reason=reason,
        accepted=accepted,
        tests=tests,
        solution=fix,
        buggy=buggy,
        **record,  # type: ignore[arg-type]
    )


def skipped(ex: Example, reason: str, *, accepted: bool = True, **record: str) -> Execution:
    return Execution(ex.id, ex.task, solution_language(ex), "skipped", reason, accepted,
                     **record)  # type: ignore[arg-type]  # fmt: skip
