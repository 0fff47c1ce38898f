"""A pass means the test ran to its end: early exits with status 0 fail, in every language, on
both sandbox paths (the pre-forked interpreter and util-linux, `WAVECODER_SANDBOX_FORKSERVER=0`).

Each `exits` case passed before the end-of-test marker existed (exit status 0 was the rule)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.evals.conftest import require_language
from wavecoder.evals import endmarker, forkserver
from wavecoder.evals.benchmarks import load
from wavecoder.evals.runners import EARLY_EXIT, run_program

pytestmark = pytest.mark.usefixtures("sandbox_ok", "sandbox_path")


@pytest.fixture(params=["forkserver", "multiprocess"])
def sandbox_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv(forkserver.ENV_SWITCH, "1" if request.param == "forkserver" else "0")
    yield request.param


PY_EXITS = {
    "os._exit": "import os\nos._exit(0)\nassert False\n",
    "sys.exit at module level": "import sys\nsys.exit(0)\nassert False\n",
    "exit() builtin": "exit()\nassert False\n",
    "atexit after a failing assert": (
        "import atexit, os\natexit.register(lambda: os._exit(0))\nassert 1 == 2\n"
    ),
    "finaliser after a failing assert": (
        "import os\nclass Bye:\n    def __del__(self):\n        os._exit(0)\n"
        "keep = Bye()\nassert 1 == 2\n"
    ),
    "SystemExit(0) raised from the tested function": (
        "def f():\n    raise SystemExit(0)\nassert f() == 1\n"
    ),
    "a guessed marker": (
        f"import os\nos.write(1, b'\\n{endmarker.MARKER_PREFIX}{'0' * 32}\\n')\nos._exit(0)\n"
    ),
}


@pytest.mark.parametrize("case", sorted(PY_EXITS))
def test_python_early_exit_fails(case: str) -> None:
    verdict = run_program("python", PY_EXITS[case], timeout_s=5)
    assert verdict.status == "fail", case
    if verdict.returncode == 0:
        assert EARLY_EXIT in verdict.stderr_tail


def test_python_honest_programs_still_pass() -> None:
    assert run_program("python", "assert 1 + 1 == 2\n").status == "pass"
    noisy = "import sys\nfor i in range(3000):\n    print('x' * 20)\nsys.stdout.write('no newline')"
    assert run_program("python", noisy).status == "pass"
    atexit_ok = "import atexit\natexit.register(print, 'bye')\nassert True\n"
    assert run_program("python", atexit_ok).status == "pass"
    closed = "import sys, io\nsys.stdout = io.StringIO()\nprint('hidden')\nassert True\n"
    assert run_program("python", closed).status == "pass"  # the marker bypasses sys.stdout
    assert run_program("python", "assert 1 == 2\n").status == "fail"


# (language, a HumanEvalPack task 0 completion-side sabotage that exits 0 before the test)
EXITS = {
    "javascript": "process.exit(0);\n",
    "java": "System.exit(0);\n",
    "cpp": "#include <cstdlib>\nstatic int _bye = (std::exit(0), 0);\n",
    "cpp-sigabrt": (
        "#include <csignal>\n#include <unistd.h>\n"
        "static int _h = (std::signal(SIGABRT, [](int) { _exit(0); }), 0);\n"
    ),
    "go": "func init() { os.Exit(0) }\n",
    "rust": "fn _exit_now() { std::process::exit(0) }\n",
}
PACK_DIR = {"javascript": "js", "java": "java", "cpp": "cpp", "go": "go", "rust": "rust"}


def _program(benchmarks_dir: Path, language: str, sabotage: str) -> str:
    bench, problems, _ = load(f"humanevalpack-synthesize-{PACK_DIR[language]}", benchmarks_dir)
    p = problems[0]
    completion = p.canonical_solution
    if not sabotage:
        return bench.assemble(p, completion)
    if language == "java":  # first statement of the tested method
        completion = sabotage + completion
    elif language == "go":
        return bench.assemble(p, completion + "\n" + sabotage).replace(
            '"testing"', '"testing"\n    "os"', 1
        )
    elif language == "rust":  # called first thing in the tested function
        completion = "_exit_now();\n" + completion + "\n" + sabotage
    elif language == "cpp":  # wrong answer + exit 0 on the failing assert's abort
        completion = completion.replace("return true", "return false") + "\n" + sabotage
    else:
        completion = completion + "\n" + sabotage
    return bench.assemble(p, completion)


@pytest.mark.parametrize("case", sorted(EXITS))
def test_other_languages_early_exit_fails(benchmarks_dir: Path, case: str) -> None:
    language = case.split("-")[0]
    require_language(language)
    assert run_program(language, _program(benchmarks_dir, language, "")).status == "pass"
    verdict = run_program(language, _program(benchmarks_dir, language, EXITS[case]))
    assert verdict.status == "fail", (case, verdict)
    assert verdict.returncode == 0 and EARLY_EXIT in verdict.stderr_tail, verdict


def test_instrument_refuses_unknown_shapes() -> None:
    with pytest.raises(ValueError):
        endmarker.instrument("cpp", "no braces", "m")
    with pytest.raises(ValueError):
        endmarker.instrument("go", "func x() {}", "m")
    assert endmarker.completed("a\n" + "m1\n", "m1") and not endmarker.completed("m1", "m1")
