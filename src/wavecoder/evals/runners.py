"""Per-language runners: turn one complete test program into a sandbox `Job` and a verdict.

Each runner names the file the program goes in, the compile step (javac, g++, rustc --test; Go
compiles and runs in one `go test`), the run step, the environment the toolchain needs, and the
limits (the JVM and V8 need far more address space than CPython). The pass rule is exit status 0
for every step, the run's per-program end marker in its output (`wavecoder.evals.endmarker`: the
test's last statement completed, no early exit), and for JavaScript also nothing on stderr
(HumanEvalPack's JS tests use `console.assert`, which only prints). Program assembly from a
benchmark problem is not here; see `wavecoder.evals.benchmarks`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from wavecoder.evals import endmarker, sandbox
from wavecoder.evals.sandbox import Job, JobResult, Limits, SandboxMode, Step
from wavecoder.evals.toolchains import Toolchain, find
from wavecoder.evals.types import OutcomeStatus

RunnerLanguage = Literal["python", "javascript", "java", "cpp", "go", "rust"]
RUNNER_LANGUAGES: tuple[RunnerLanguage, ...] = ("python", "javascript", "java", "cpp", "go", "rust")

# Address space per language (MiB): the JVM reserves heap + metaspace + code cache up front; V8
# and Go reserve large virtual ranges; g++/rustc need room to compile.
MEMORY_MB: dict[str, int] = {
    "python": 2048,
    "javascript": 8192,
    "java": 6144,
    "cpp": 2048,
    "go": 8192,
    "rust": 4096,
}
COMPILE_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Verdict:
    status: OutcomeStatus
    stage: str
    returncode: int | None
    stderr_tail: str
    duration_s: float


def build_job(language: str, program: str, *, timeout_s: float = 10.0, marker: str = "") -> Job:
    """The sandbox job that compiles (if needed) and runs `program` for `language`.

    With `marker`, the program is instrumented to write it once its test has run to the end."""
    tc = find(language)
    run_limits = Limits(timeout_s=timeout_s, memory_mb=MEMORY_MB[language])
    compile_limits = replace(run_limits, timeout_s=max(COMPILE_TIMEOUT_S, timeout_s), nproc=256)
    if marker:
        program = endmarker.instrument(language, program, marker)
    files, steps = _PLANS[language](tc, program, run_limits, compile_limits, bool(marker))
    return Job(files=files, steps=steps, binds=tc.binds, overlays=tc.overlays)


def run_program(
    language: str, program: str, *, timeout_s: float = 10.0, mode: SandboxMode = "namespaces"
) -> Verdict:
    marker = endmarker.new_marker()
    job = build_job(language, program, timeout_s=timeout_s, marker=marker)
    return judge(language, sandbox.run(job, mode=mode), marker)


EARLY_EXIT = "exited with status 0 before its test ran to the end (no end-of-test marker)"


def judge(language: str, result: JobResult, marker: str) -> Verdict:
    """The verdict of a job built with `marker`: a pass needs the marker in the run's output."""
    last = result.last
    status: OutcomeStatus
    finished = endmarker.completed(last.stdout, marker)
    if last.status == "timeout":
        status = "timeout"
    elif last.status == "error":  # the sandbox could not run it: infrastructure, not a verdict
        status = "error"
    elif result.ok and finished and not (language == "javascript" and last.stderr.strip()):
        status = "pass"
    else:
        status = "fail"
    stage = "" if status == "pass" else last.name
    tail = (last.stderr or endmarker.strip(last.stdout, marker))[-2000:]
    if result.ok and not finished:
        tail = (EARLY_EXIT + "\n" + tail)[-2000:]
    return Verdict(status, stage, last.returncode, tail, result.duration_s)


Plan = tuple[dict[str, str | bytes], tuple[Step, ...]]


def _python(tc: Toolchain, program: str, run: Limits, _c: Limits, _m: bool) -> Plan:
    return {"main.py": program}, (
        Step((tc.tools["python"], "-s", "main.py"), run, dict(tc.env), name="run"),
    )


def _node(tc: Toolchain, program: str, run: Limits, _c: Limits, _m: bool) -> Plan:
    return {"main.js": program}, (
        Step((tc.tools["node"], "main.js"), run, dict(tc.env), name="run"),
    )


_JVM = (
    "-Xmx1g",
    "-Xss8m",
    "-XX:+UseSerialGC",
    "-XX:ReservedCodeCacheSize=64m",
    "-XX:TieredStopAtLevel=1",
)


def _java(tc: Toolchain, program: str, run: Limits, comp: Limits, marked: bool) -> Plan:
    javac = (
        tc.tools["javac"],
        "-J-Xmx1g",
        "-J-XX:+UseSerialGC",
        "-J-XX:TieredStopAtLevel=1",
        "-encoding",
        "UTF-8",
        "-nowarn",
        "-d",
        ".",
        "Main.java",
    )
    entry = endmarker.JAVA_RUNNER if marked else "Main"
    java = (tc.tools["java"], *_JVM, "-cp", ".", entry)
    return {"Main.java": program}, (Step(javac, comp, name="compile"), Step(java, run, name="run"))


def _cpp(tc: Toolchain, program: str, run: Limits, comp: Limits, _m: bool) -> Plan:
    gxx = (
        tc.tools["g++"],
        "-std=c++17",
        "-O1",
        "-o",
        "main",
        "main.cpp",
        "-lcrypto",
        "-lssl",
        "-lm",
    )
    return {"main.cpp": program}, (
        Step(gxx, comp, name="compile"),
        Step(("./main",), run, name="run"),
    )


def _go(tc: Toolchain, program: str, run: Limits, comp: Limits, _m: bool) -> Plan:
    # One `go test` both compiles and runs; give it the compile budget plus the run budget.
    # Local directory mode (no package argument): a passing test's output is shown, not dropped.
    limits = replace(comp, timeout_s=comp.timeout_s + run.timeout_s)
    files: dict[str, str | bytes] = {"main_test.go": program}
    step = Step((tc.tools["go"], "test"), limits, dict(tc.env), name="run")
    return files, (step,)


def _rust(tc: Toolchain, program: str, run: Limits, comp: Limits, _m: bool) -> Plan:
    externs = [
        f"--extern={k.split(':', 1)[1]}={v}" for k, v in tc.tools.items() if k.startswith("extern:")
    ]
    rustc = (
        tc.tools["rustc"],
        "--test",
        "--edition=2021",
        "-C",
        "opt-level=1",
        "--cap-lints=allow",
        "-L",
        f"dependency={tc.tools['deps']}",
        *externs,
        "-o",
        "main",
        "main.rs",
    )
    return {"main.rs": program}, (
        Step(rustc, comp, name="compile"),
        # one test at a time, in name order: the end-marker test runs last
        Step(("./main", "--test-threads=1"), run, name="run"),
    )


_PLANS = {
    "python": _python,
    "javascript": _node,
    "java": _java,
    "cpp": _cpp,
    "go": _go,
    "rust": _rust,
}
