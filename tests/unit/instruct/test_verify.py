"""The execution check of one instance (in the real sandbox), the test programs, the parser of
the test writer's reply, and the judge-against-execution agreement on a constructed set."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest

from tests.helpers.requirements import missing
from wavecoder.instruct.agreement import agreement, lines
from wavecoder.instruct.verify_exec import check
from wavecoder.instruct.verify_programs import checks_something, skip_reason
from wavecoder.instruct.verify_tests import parse_tests, render
from wavecoder.records import Example, Execution, RuleVerdict, Verdict


@pytest.fixture(scope="module")
def sandbox() -> None:
    from wavecoder.evals.sandbox import namespaces_available

    if reason := namespaces_available():
        missing(f"namespaces sandbox unavailable: {reason}")


@pytest.fixture(scope="module", autouse=True)
def _toolchains() -> None:
    """Find the toolchains once, before the per-test environment points WAVECODER_CACHE_DIR at
    a fresh folder (Go's warm build cache and Rust's crates would be rebuilt there)."""
    from wavecoder.evals.toolchains import ToolchainMissing, find

    for language in PROGRAMS:
        with contextlib.suppress(ToolchainMissing):
            find(language)


def _tool(language: str) -> None:
    from wavecoder.evals.toolchains import ToolchainMissing, find

    try:
        find(language)
    except ToolchainMissing as exc:
        missing(str(exc))


def ex(task: Any, language: Any, solution: str, **kw: Any) -> Example:
    fields: dict[str, Any] = {"instruction": "Add two integers.", "information": "<noinput>"}
    fields.update(kw)
    return Example(id=f"{task}-{language}-{abs(hash(solution))}", code_id="c", task=task,
                   language=language, solution=solution, **fields)  # fmt: skip


# a right solution, a wrong one (subtracts), and the tests, per language
PROGRAMS = {
    "python": (
        "def add(a, b):\n    return a + b\n",
        "assert add(2, 3) == 5\nassert add(-1, 1) == 0\n",
    ),
    "javascript": (
        "export function add(a, b) {\n  return a + b;\n}\n",
        "const assert = require('assert');\nassert.strictEqual(add(2, 3), 5);\n",
    ),
    "cpp": (
        "int add(int a, int b) {\n    return a + b;\n}\n",
        "int main() {\n    assert(add(2, 3) == 5);\n    return 0;\n}\n",
    ),
    "go": (
        'package main\n\nimport "fmt"\n\nfunc Add(a, b int) int {\n\t_ = fmt.Sprint(a)\n'
        "\treturn a + b\n}\n",
        'import "testing"\n\nfunc TestAdd(t *testing.T) {\n\tif Add(2, 3) != 5 {\n'
        '\t\tt.Fatalf("Add")\n\t}\n}\n',
    ),
    "java": (
        "public static int add(int a, int b) {\n    return a + b;\n}\n",
        "public class Main {\n    public static void main(String[] args) {\n"
        '        if (Solution.add(2, 3) != 5) throw new AssertionError("add");\n    }\n}\n',
    ),
    "rust": (
        "fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n",
        "#[cfg(test)]\nmod tests {\n    use super::*;\n    #[test]\n"
        "    fn adds() {\n        assert_eq!(add(2, 3), 5);\n    }\n}\n",
    ),
}


@pytest.mark.parametrize("language", sorted(PROGRAMS))
def test_a_right_solution_passes_and_a_wrong_one_fails(sandbox: None, language: str) -> None:
    _tool(language)
    right, tests = PROGRAMS[language]
    good = check(ex("generate", language, right), tests, timeout_s=10, mode="namespaces")
    assert (good.status, good.reason, good.solution and good.solution.step) == ("pass", "", "")
    wrong = right.replace("a + b", "a - b")
    bad = check(ex("generate", language, wrong), tests, timeout_s=10, mode="namespaces")
    assert (bad.status, bad.reason) == ("fail", "fail")
    assert bad.solution is not None and bad.solution.step == "run"
    assert bad.solution.stderr_tail or bad.solution.stdout_tail  # go test reports on stdout


def test_go_and_java_programs_merge_imports_and_wrap_bare_methods() -> None:
    from wavecoder.instruct.verify_programs import program

    go = program("go", PROGRAMS["go"][0], 'import (\n\t"strings"\n\t"testing"\n)\n' +
                 PROGRAMS["go"][1].split("\n", 1)[1])  # fmt: skip
    assert go.startswith("package main\n") and go.count("package ") == 1
    head = go.split(")", 1)[0]
    assert head.count('"testing"') == 1 and '"fmt"' in head and '"strings"' in head
    assert "import" not in go.split(")", 1)[1].split("func TestAdd")[0]
    java = program("java", "import java.util.List;\n" + PROGRAMS["java"][0], PROGRAMS["java"][1])
    assert java.startswith("import java.util.*;\nimport java.util.List;")
    assert "class Solution {" in java and java.count("public class") == 1
    typed = program("java", "public class Adder {\n  static int add(int a, int b) { return a; }\n}",
                    PROGRAMS["java"][1])  # fmt: skip
    assert "\nclass Adder {" in typed and "class Solution" not in typed


def test_code_that_does_not_build_is_a_compile_error(sandbox: None) -> None:
    _tool("cpp")
    broken = check(ex("generate", "cpp", "int add(int a, int b) { return a + }"),
                   PROGRAMS["cpp"][1], timeout_s=10, mode="namespaces")  # fmt: skip
    assert broken.status == "compile_error" and broken.solution is not None
    assert broken.solution.step == "compile" and "error" in broken.solution.stderr_tail
    py = check(ex("generate", "python", "def add(a, b) return a"), PROGRAMS["python"][1],
               timeout_s=10, mode="namespaces")  # fmt: skip
    assert py.status == "compile_error"


def test_an_early_exit_is_no_pass_and_a_loop_times_out(sandbox: None) -> None:
    """The end-of-test marker: exit(0) before the asserts is a failure, not a pass."""
    early = "import os\ndef add(a, b):\n    return a - b\nos._exit(0)\n"
    run = check(ex("generate", "python", early), PROGRAMS["python"][1], timeout_s=10,
                mode="namespaces")  # fmt: skip
    assert run.status == "fail"
    loop = "def add(a, b):\n    while True:\n        pass\n"
    slow = check(ex("generate", "python", loop), PROGRAMS["python"][1], timeout_s=0.5,
                 mode="namespaces")  # fmt: skip
    assert slow.status == "timeout"


BUGGY = "def add(a, b):\n    return a - b\n"


def test_the_repair_check_catches_a_fix_that_does_not_fix(sandbox: None) -> None:
    tests = PROGRAMS["python"][1]
    real = check(ex("repair", "python", PROGRAMS["python"][0], information=BUGGY), tests,
                 timeout_s=10, mode="namespaces")  # fmt: skip
    assert real.status == "pass" and real.buggy is not None and real.buggy.status == "fail"
    # the "fix" is the bug again: the tests cannot tell them apart
    same = check(ex("repair", "python", "def add(a, b):\n    return a + b\n",
                    information="def add(a, b):\n    return b + a\n"), tests,
                 timeout_s=10, mode="namespaces")  # fmt: skip
    assert (same.status, same.reason) == ("fail", "repair_buggy_passes")
    # the "fix" fails the tests: a distinct reason, and the buggy input is not run
    broken = check(ex("repair", "python", "def add(a, b):\n    return a * b\n",
                      information=BUGGY), tests, timeout_s=10, mode="namespaces")  # fmt: skip
    assert (broken.status, broken.reason, broken.buggy) == ("fail", "repair_fix_fail", None)


def test_the_buggy_input_comes_from_the_instance_else_the_injected_bug() -> None:
    from wavecoder.instruct.verify_programs import buggy_code

    e = ex("repair", "python", "x", information="<noinput>", meta={"buggy_code": BUGGY})
    assert buggy_code(e) == BUGGY
    assert buggy_code(ex("repair", "python", "x", information="shown")) == "shown"


def test_what_is_skipped_says_why() -> None:
    assert skip_reason(ex("summarize", "python", "Adds.")).startswith("not_code")
    assert skip_reason(ex("generate", "php", "function f() {}")).startswith("language: ")
    translated = ex("translate", "php", "fn add() {}", target_language="rust")
    assert skip_reason(translated) == ""  # the solution's language is the target's
    assert skip_reason(ex("generate", "python", "  ")).startswith("no_code")


def test_tests_that_check_nothing_are_refused() -> None:
    assert checks_something("python", "assert f(1) == 2")
    assert not checks_something("python", "print(f(1))")
    assert not checks_something("go", "func helper() {}")  # no Test function: passes vacuously
    assert checks_something("go", 'func TestF(t *testing.T) { t.Fatalf("x") }')
    assert not checks_something("rust", "fn main() { assert!(true); }")


def test_the_test_writer_reply_is_parsed_from_its_fences() -> None:
    reply = (
        "Here are tests:\n```python\nassert add(1, 2) == 3\n```\nand\n"
        "```\nassert add(0, 0) == 0\n```"
    )
    assert parse_tests(reply, "python") == "assert add(1, 2) == 3\n\nassert add(0, 0) == 0"
    assert parse_tests("```js\nassert.ok(1)\n```", "python") == ""  # another language only
    assert parse_tests("assert add(1, 2) == 3\n", "python") == "assert add(1, 2) == 3"


def test_the_test_prompt_shows_the_bug_and_the_language_conventions() -> None:
    prompt = render(ex("repair", "python", "def add(a, b):\n    return a + b", information=BUGGY))
    assert "must FAIL on the" in prompt and BUGGY.strip() in prompt
    assert "Plain `assert` statements" in prompt and "```python" in prompt
    source = "def add(a, b): return a + b"
    java = render(ex("translate", "python", "int add(int a, int b) { return a + b; }",
                     target_language="java", information=source))  # fmt: skip
    assert "public class Main" in java and "translates this python code" in java


# --- the judge against execution -------------------------------------------------------------


def verdict(i: int, answers: tuple[str, str]) -> Verdict:
    rules = tuple(RuleVerdict(r, a) for r, a in zip(("correct", "relevant"), answers))  # type: ignore[arg-type]
    return Verdict(f"e{i}", all(a == "yes" for a in answers), rules, overall="yes")


def execution(i: int, status: Any) -> Execution:
    return Execution(f"e{i}", "generate", "python", status)


def test_agreement_on_a_constructed_set() -> None:
    """3 accepted that pass, 1 accepted that fails, 1 rejected that passes, 2 rejected that
    fail (one timeout), and two that execution did not decide."""
    cases = [
        (("yes", "yes"), "pass"),
        (("yes", "yes"), "pass"),
        (("yes", "yes"), "pass"),
        (("yes", "yes"), "fail"),  # the judge accepted failing code: both rules wrong
        (("no", "yes"), "pass"),  # rejected on `correct`, but it passes
        (("no", "yes"), "compile_error"),
        (("yes", "no"), "timeout"),
        (("yes", "yes"), "skipped"),
        (("no", "no"), "error"),
    ]
    pairs = [("generate", verdict(i, a), execution(i, s)) for i, (a, s) in enumerate(cases)]
    report = agreement(pairs)
    assert report["matrix"] == {"accept_pass": 3, "accept_fail": 1, "reject_pass": 1,
                                "reject_fail": 2}  # fmt: skip
    assert report["executed"] == 7 and report["not_executed"] == {"error": 1, "skipped": 1}
    assert report["precision"] == 0.75 and report["recall"] == 0.75
    assert report["accuracy"] == round(5 / 7, 4)
    by_rule = {r["rule"]: r for r in report["rules"]}
    # correct: yes on 1 failing (e3) and the timeout (e6); no on 1 passing (e4)
    assert (by_rule["correct"]["yes_but_fails"], by_rule["correct"]["no_but_passes"]) == (2, 1)
    # relevant: yes on e3, e5 (compile error); never no on passing code
    assert (by_rule["relevant"]["yes_but_fails"], by_rule["relevant"]["no_but_passes"]) == (2, 0)
    assert report["rules"][0]["rule"] == "correct"  # most often wrong first
    text = "\n".join(lines(report))
    assert "| accepted | 3 | 1 |" in text and "| rejected | 1 | 2 |" in text
    assert "Precision of accept against passes: 75.0%" in text and "`correct`" in text


def test_agreement_without_rejected_instances_has_no_recall_of_rejects() -> None:
    pairs = [("generate", verdict(0, ("yes", "yes")), execution(0, "fail"))]
    report = agreement(pairs)
    assert report["precision"] == 0.0 and report["recall"] is None
    assert agreement([])["executed"] == 0 and "No instance" in "\n".join(lines(agreement([])))
