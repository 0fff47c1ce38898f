"""Unit tests for an instance: the ones it carries, else asked of a model (pure parts).

An instance carries tests in `meta["tests"]` (code in the solution's language, written in the
conventions below); otherwise the `verify` stage asks its own model (`verify.llm`) with the
prompt file `prompts/verify-tests.txt`: the instruction, for repair the buggy input (the tests
must fail on it), for translate the source code (the tests check the same behaviour), the code
under test, and the language's test conventions (`CONVENTIONS`, which `verify_programs.program`
assembles). The reply's fenced blocks in the language (`wavecoder.evals.sanitize.code_blocks`),
joined, are the tests; a reply without a fence is taken as code. Not here: sending the
request (the stage), running (`verify_exec`).
"""

from __future__ import annotations

from string import Template

from wavecoder.evals.sanitize import code_blocks
from wavecoder.instruct.roles import RoleConfig, request
from wavecoder.instruct.task import fence, prompt_text
from wavecoder.instruct.verify_programs import NOINPUT, buggy_code, solution_language
from wavecoder.llm.base import Request
from wavecoder.records import Example, stable_hash

PROMPT = "verify-tests.txt"
SYSTEM = "You are a careful software engineer who writes precise unit tests."

CONVENTIONS: dict[str, str] = {
    "python": "Plain `assert` statements at the top level (no test framework, no "
    "`if __name__` guard, no `print`).",
    "javascript": "CommonJS: `const assert = require('assert');` then `assert.strictEqual` / "
    "`assert.deepStrictEqual` calls at the top level (no test framework, nothing on stderr).",
    "java": "A `public class Main` whose `public static void main(String[] args)` calls the code "
    "and throws `new AssertionError(...)` when a check fails (the JVM runs without -ea, so "
    "`assert` statements do nothing). A method that is not inside a class is placed in "
    "`class Solution`: call it as `Solution.name(...)` if static, else `new Solution().name(...)`.",
    "go": "`func TestXxx(t *testing.T)` functions that call `t.Fatalf` on a wrong result; no "
    "package clause (the tests join the code in `package main`), import only what they use.",
    "cpp": "An `int main()` that checks with `assert(...)` from `<cassert>` and has no `return` "
    "statement; include the headers the tests use.",
    "rust": "A `#[cfg(test)] mod tests { use super::*; ... }` module of `#[test]` functions "
    "that check with `assert_eq!` / `assert!`.",
}


def carried(ex: Example) -> str:
    """The tests an instance brings with it ("" when none)."""
    return ex.meta.get("tests", "").strip()


def context(ex: Example) -> str:
    """What else the test writer needs: the bug to catch, the code a translation follows."""
    if ex.task == "repair":
        code = buggy_code(ex)
        return (
            "The code under test is the fix of this buggy code; the tests must FAIL on the "
            f"buggy code and pass on a correct fix:\n{fence(code, ex.language)}\n"
        )
    if ex.task == "translate" and ex.information.strip() not in ("", NOINPUT):
        return (
            f"The code under test translates this {ex.language} code; the tests check that it "
            f"behaves the same:\n{fence(ex.information, ex.language)}\n"
        )
    return ""


def render(ex: Example) -> str:
    language = solution_language(ex)
    return Template(prompt_text(PROMPT)).substitute(
        language=language,
        instruction=ex.instruction.strip(),
        context=context(ex),
        code=fence(ex.solution, language),
        conventions=CONVENTIONS[language],
        fence=language,
    )


def tests_request(ex: Example, cfg: RoleConfig) -> Request:
    key = stable_hash("verify-tests", ex.id)
    return request(key, [("system", SYSTEM), ("user", render(ex))], cfg, fmt="text")


def parse_tests(reply: str, language: str) -> str:
    """The test code in a reply: its fenced blocks in `language` (or untagged), joined; the
    whole reply when it has no fence at all."""
    blocks = code_blocks(reply, language)
    if blocks:
        return "\n\n".join(b.strip("\n") for b in blocks).strip()
    return "" if "```" in reply else reply.strip()
