"""A scripted teacher for the local OpenAI test server: answers generator and judge prompts.

`TeacherResponder()` is a `responder` for `tests.helpers.openai_server.OpenAIServer`. It reads
the prompt the pipeline sent (task, language, input code, the judge's rule ids), and writes a
well-formed case (JSON when the request asks for JSON, else `key: value` lines) or a verdict
(every rule yes, except a deterministic ~1 in 4 examples where one rule says no). Replies depend
only on the prompt, never on arrival order, so two runs give the same dataset. `calls` counts
prompts by kind. Test double only; never part of the package.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from typing import Any

from tests.helpers.openai_server import Reply

_GEN = re.compile(r"You are asked to write one code (\w+) instance")
_RULE = re.compile(r"^\s+\d+\. \[([a-z_0-9]+)\] [A-Z]", re.M)


def _h(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


def _input_block(prompt: str) -> str:
    tail = prompt.rsplit("\nInput:\n", 1)[-1]
    return tail.split("\nOutput:", 1)[0]


def _code(block: str) -> tuple[str, str]:
    m = re.search(r"```(\w*)\n(.*?)\n```", block, re.S)
    return (m.group(1), m.group(2)) if m else ("python", block)


class TeacherResponder:
    def __init__(self, *, reject_every: int = 4) -> None:
        self.reject_every = reject_every
        self.calls: Counter[str] = Counter()

    def __call__(self, body: dict[str, Any]) -> Reply:
        messages = body.get("messages") or []
        first_user = next(m["content"] for m in messages if m["role"] == "user")
        as_json = "response_format" in body
        if "You are checking one code" in first_user:
            self.calls["judge"] += 1
            return Reply.text(self.verdict(first_user, as_json))
        m = _GEN.search(first_user)
        self.calls["generate"] += 1
        return Reply.text(self.case(m.group(1) if m else "generation", first_user, as_json))

    def case(self, kind: str, prompt: str, as_json: bool) -> str:
        block = _input_block(prompt)
        lang, code = _code(block)
        target = re.search(r"Target language: (\w+)", block)
        name = lang.capitalize() or "Python"
        if kind == "translation" and target:
            tname = target.group(1)
            case = {
                "task_name": "Translate a function",
                "instruction": f"Translate the following {name} function into {tname}.",
                "information": code,
                "solution": f"// {tname} version\nfunction translated() {{ return 1; }}",
            }
        elif kind == "summarization":
            case = {
                "task_name": "Document a function",
                "instruction": f"Write concise documentation for the following {name} function.",
                "information": code,
                "solution": "Computes a value from its arguments and returns it.",
            }
        elif kind == "repair":
            case = {
                "task_name": "Fix a bug",
                "instruction": f"Find and fix the bug in this {name} function.",
                "information": code,
                "solution": code + "\n# fixed",
            }
        else:
            case = {
                "task_name": "Implement a function",
                "instruction": f"Write a {name} function that does what the given code does.",
                "information": "<noinput>",
                "solution": code,
            }
        if as_json:
            return json.dumps(case)
        return (
            f"task_name: {case['task_name']}\ninstruction: {case['instruction']}\n"
            f"information: {case['information']}\nsolution:\n{case['solution']}"
        )

    def verdict(self, prompt: str, as_json: bool) -> str:
        head = prompt.split("The overall answer is yes only if", 1)[0]
        rules = _RULE.findall(head)
        bad = self.reject_every and _h(_input_block(prompt)) % self.reject_every == 0
        answers = [("no" if bad and i == len(rules) - 1 else "yes") for i in range(len(rules))]
        overall = "no" if "no" in answers else "yes"
        if as_json:
            items = [
                {"rule": r, "answer": a, "reason": f"checked {r}"} for r, a in zip(rules, answers)
            ]
            return json.dumps({"rules": items, "overall": overall, "reasons": "checked"})
        lines = [f"  {i}. [{r}] <answer: {a}, checked {r}>" for i, (r, a) in
                 enumerate(zip(rules, answers), 1)]  # fmt: skip
        return "\n".join(
            ["- step 1:", *lines, f"- Overall answer: {overall}", "- reasons: checked"]
        )


# --- the `verify` stage's test writer ----------------------------------------------------------

_UNDER_TEST = re.compile(r"Code under test:\n```(\w+)\n(.*?)\n```", re.S)
_NAME = re.compile(r"(?:def|function|func)\s+(\w+)|(?:static\s+)?\w+\s+(\w+)\s*\(")
_JAVA_MAIN = "public class Main {{\n  public static void main(String[] args) {{\n    if ({cond}) "
_JAVA_END = 'throw new AssertionError("wrong");\n  }\n}'
_JS = "const assert = require('assert');\n"
#: Tests for the snippets of tests/unit/instruct/conftest.py (and `add`), by language and name.
KNOWN_TESTS: dict[tuple[str, str], str] = {
    ("python", "add"): "assert add(2, 3) == 5\nassert add(-1, 1) == 0",
    ("python", "clamp"): "assert clamp(5, 0, 3) == 3\nassert clamp(-1, 0, 3) == 0\n"
    "assert clamp(2, 0, 3) == 2",
    ("python", "total"): "assert total([1, 2, 3]) == 6\nassert total([]) == 0",
    ("python", "is_even"): "assert is_even(4)\nassert not is_even(3)",
    ("python", "first"): "assert first([7, 8], 0) == 7\nassert first([], 5) == 5",
    ("javascript", "add"): _JS + "assert.strictEqual(add(2, 3), 5);",
    ("javascript", "last"): _JS + "assert.strictEqual(last([1, 2]), 2);\n"
    "assert.strictEqual(last([]), null);",
    ("go", "Max"): "func TestMax(t *testing.T) {\n\tif Max(2, 3) != 3 || Max(3, 2) != 3 {\n"
    '\t\tt.Fatalf("Max")\n\t}\n}',
    ("go", "Sum"): "func TestSum(t *testing.T) {\n\tif Sum([]int{1, 2, 3}) != 6 {\n"
    '\t\tt.Fatalf("Sum")\n\t}\n}',
    ("java", "max"): _JAVA_MAIN.format(cond="Solution.max(2, 3) != 3") + _JAVA_END,
    ("java", "isEmpty"): _JAVA_MAIN.format(cond='!new Solution().isEmpty("")') + _JAVA_END,
}


_FAILING = {
    "python": "assert 0 == 1",
    "javascript": "assert.strictEqual(0, 1);",
    "go": 'func TestWrong(t *testing.T) {\n\tt.Fatalf("wrong")\n}',
}


class TestWriterResponder:
    """Answers the `verify` stage's test prompts with `KNOWN_TESTS` for the code's first
    function (a reply without code for any other: the stage skips it as "no tests"); for the
    names in `wrong` (Python, JavaScript, Go), tests no code passes (one more check that
    fails). Every other prompt goes to `fallback` (the scripted teacher). `calls` counts test
    prompts."""

    __test__ = False  # not a pytest class

    def __init__(self, fallback: Any = None) -> None:
        self.fallback = fallback
        self.calls = 0
        self.wrong: set[str] = set()

    def __call__(self, body: dict[str, Any]) -> Reply:
        messages = body.get("messages") or []
        user = next((m["content"] for m in messages if m["role"] == "user"), "")
        if "You are writing unit tests" not in user:
            return self.fallback(body)
        self.calls += 1
        m = _UNDER_TEST.search(user)
        if m is None:
            return Reply.text("I cannot see the code.")
        name = _NAME.search(m.group(2))
        key = (m.group(1), next((g for g in name.groups() if g), "") if name else "")
        tests = KNOWN_TESTS.get(key)
        if tests and key[1] in self.wrong and key[0] in _FAILING:
            tests += "\n" + _FAILING[key[0]]
        return Reply.text(f"```{key[0]}\n{tests}\n```" if tests else "I cannot test this.")
