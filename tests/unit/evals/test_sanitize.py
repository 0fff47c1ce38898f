"""Instruction-model replies become whole programs (evalplus's sanitizer rules), in every language.

Pure tests check what the sanitizer keeps and drops; the sandboxed ones score realistic replies
(prose around fenced code, docstring rewritten or left out, helpers, a `main` or test code
appended) for the first problem of HumanEval and of every HumanEvalPack language, through each
instruction prompt format, and require a pass where the old string split failed.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.openai_server import OpenAIServer, Reply
from tests.unit.evals.conftest import require_language
from wavecoder.evals.benchmarks import BENCHMARKS, load
from wavecoder.evals.prompts import to_completion
from wavecoder.evals.sanitize import code_blocks, sanitize
from wavecoder.evals.score import ScoreOptions, score_completions
from wavecoder.evals.types import Problem

PREFIX = (
    "from typing import List\n\n\ndef has_close_elements(numbers: List[float], threshold: float)"
    ' -> bool:\n    """ Check if in given list of numbers, are any two numbers closer."""\n'
)
BODY = (
    "    for i, a in enumerate(numbers):\n        for b in numbers[i + 1:]:\n"
    "            if close(a, b, threshold):\n                return True\n    return False\n"
)
HELPER = "def close(a: float, b: float, t: float) -> bool:\n    return abs(a - b) < t\n"


def _defs(program: str) -> list[str]:
    return [type(n).__name__ + ":" + getattr(n, "name", "") for n in ast.parse(program).body]


def test_rewritten_function_with_docstring_keeps_it_whole() -> None:
    """The issue's case: the old split at the prompt's last line (`\"\"\"`) broke this reply."""
    reply = (
        "Sure! Here is the function:\n\n```python\nfrom typing import List\n\n"
        "def has_close_elements(numbers: List[float], threshold: float) -> bool:\n"
        '    """Check if any two numbers are closer than threshold."""\n' + BODY + "\n" + HELPER
        + "\nif __name__ == '__main__':\n    print(has_close_elements([1.0, 2.0], 0.5))\n```\n"
        "It compares every pair."
    )  # fmt: skip
    program = sanitize(reply, "python", entry_point="has_close_elements", prefix=PREFIX)
    assert _defs(program) == ["ImportFrom:", "FunctionDef:has_close_elements", "FunctionDef:close"]
    assert "Check if any two numbers are closer than threshold." in program
    assert "__main__" not in program and "It compares" not in program


def test_function_without_docstring_or_imports_gets_the_prompts_imports() -> None:
    reply = "```py\ndef has_close_elements(numbers: List[float], threshold: float) -> bool:\n"
    reply += BODY + "\n" + HELPER + "```"
    program = sanitize(reply, "python", entry_point="has_close_elements", prefix=PREFIX)
    assert program.startswith("from typing import List\n")
    assert _defs(program)[1:] == ["FunctionDef:has_close_elements", "FunctionDef:close"]


def test_several_blocks_tests_and_unreachable_code_are_dropped() -> None:
    reply = (
        "First a helper:\n```python\n" + HELPER + "```\nThen the function:\n```python\n"
        "import math\n\ndef has_close_elements(numbers, threshold):\n" + BODY + "```\n"
        "Usage:\n```python\nassert has_close_elements([1.0, 2.8], 0.3) is False\n"
        "print('ok')\n\ndef unused():\n    return 1\n```\nOutput:\n```text\nok\n```"
    )  # fmt: skip
    program = sanitize(reply, "python", entry_point="has_close_elements", prefix=PREFIX)
    assert _defs(program) == [
        "ImportFrom:", "Import:", "FunctionDef:close", "FunctionDef:has_close_elements",
    ]  # fmt: skip
    assert "assert" not in program and "print" not in program and "unused" not in program


def test_a_later_definition_replaces_an_earlier_one() -> None:
    reply = "```python\ndef has_close_elements(numbers, threshold):\n    return None\n```\n"
    reply += "A fixed version:\n```python\ndef has_close_elements(numbers, threshold):\n"
    reply += "    return False\n```"
    program = sanitize(reply, "python", entry_point="has_close_elements")
    assert "return None" not in program and program.count("def has_close_elements") == 1


def test_unfenced_reply_with_prose_uses_the_longest_parseable_stretch() -> None:
    reply = "Here you go.\ndef has_close_elements(numbers, threshold):\n" + BODY
    reply += "\n" + HELPER + "\nThis runs in O(n^2) time, which is fine."
    program = sanitize(reply, "python", entry_point="has_close_elements", prefix=PREFIX)
    assert _defs(program)[1:] == ["FunctionDef:has_close_elements", "FunctionDef:close"]


def test_a_bare_body_continues_the_prompt() -> None:
    program = sanitize(BODY, "python", entry_point="has_close_elements", prefix=PREFIX)
    assert program.startswith(PREFIX.split("\n")[0]) and "def has_close_elements" in program
    assert "close(a, b, threshold)" in program  # the body, inside the prompt's function


def test_a_bare_body_followed_by_prose_continues_the_prompt() -> None:
    reply = BODY + "\nThis loops over every pair.\nIt is quadratic."
    program = sanitize(reply, "python", entry_point="has_close_elements", prefix=PREFIX)
    assert "quadratic" not in program and "return False" in program
    assert _defs(program) == ["ImportFrom:", "FunctionDef:has_close_elements"]


def test_future_imports_come_first() -> None:
    reply = "```python\nfrom __future__ import annotations\n\n"
    reply += "def has_close_elements(numbers, threshold):\n    return False\n```"
    program = sanitize(reply, "python", entry_point="has_close_elements", prefix=PREFIX)
    assert program.startswith("from __future__ import annotations\nfrom typing import List")
    ast.parse(program)


def test_renamed_function_is_kept_and_fails_honestly() -> None:
    reply = "```python\ndef hasCloseElements(numbers, threshold):\n    return False\n```"
    program = sanitize(reply, "python", entry_point="has_close_elements", prefix=PREFIX)
    assert "def hasCloseElements" in program  # kept as written: check(has_close_elements) fails


def test_mbpp_roots_are_the_names_the_tests_call() -> None:
    reply = "```python\ndef helper(x):\n    return x * 2\n\ndef double_all(xs):\n"
    reply += "    return [helper(x) for x in xs]\n\nprint(double_all([1]))\n```"
    program = sanitize(reply, "python", test="assert double_all([1, 2]) == [2, 4]")
    assert _defs(program) == ["FunctionDef:helper", "FunctionDef:double_all"]


def test_code_blocks_pick_the_language() -> None:
    reply = "```bash\npip install x\n```\n```python\nx = 1\n```\n```\ny = 2\n```"
    assert code_blocks(reply, "python") == ["x = 1\n", "y = 2\n"]


def test_nothing_parses_returns_the_code_for_an_honest_syntax_error() -> None:
    assert sanitize("```python\ndef f(:\n```", "python", entry_point="f") == "def f(:\n"


# --- every HumanEvalPack language, scored ------------------------------------------------------

_TAGS = {"python": "python", "javascript": "javascript", "java": "java", "cpp": "cpp",
         "go": "go", "rust": "rust"}  # fmt: skip
_MAIN = {
    "python": "\n\nif __name__ == '__main__':\n    print('demo')\nassert True\n",
    "javascript": "\nconsole.log('demo');\nmodule.exports = {};\n",
    "java": "\npublic class Main {\n    public static void main(String[] args) {\n"
    '        System.out.println("demo");\n    }\n}\n',
    "cpp": '\nint main() {\n    printf("demo");\n    return 0;\n}\n',
    "go": '\nfunc main() {\n    fmt.Println("demo")\n}\n',
    "rust": '\nfn main() {\n    println!("demo");\n}\n\n#[cfg(test)]\nmod tests {\n'
    "    #[test]\n    fn demo() { assert!(true); }\n}\n",
}


def _reply(problem: Problem, *, docstring: bool) -> str:
    """A chat model's answer: prose, the whole function in a fence (its own `main`), prose."""
    lang = problem.language
    head = problem.prompt if docstring else problem.extra["declaration"]
    code = head + problem.canonical_solution
    if lang == "java":
        code = code.replace("class Solution", "public class Solution", 1)
    if lang == "go":
        imports = problem.extra.get("import", "") or ""
        code = 'package main\n\nimport "fmt"\n' + ("" if imports in code else imports) + code
    return (
        f"Here is a complete solution.\n\n```{_TAGS[lang]}\n{code.strip()}\n{_MAIN[lang]}```\n\n"
        "It checks the condition for every element."
    )


@pytest.mark.usefixtures("sandbox_ok")
@pytest.mark.parametrize("language", ["python", "js", "java", "cpp", "go", "rust"])
def test_pack_replies_pass_as_whole_programs(benchmarks_dir: Path, language: str) -> None:
    bench = BENCHMARKS[f"humanevalpack-synthesize-{language}"]
    require_language(bench.language)
    _, problems, _ = load(bench.name, benchmarks_dir)
    problem = problems[0]
    samples = [
        to_completion("chat", bench, problem, _reply(problem, docstring=d), i)
        for i, d in enumerate((True, False))
    ]
    assert all(s.solution and not s.completion for s in samples)
    outcomes = score_completions(bench, [problem], samples, ScoreOptions(timeout_s=60, workers=2))
    assert [o.status for o in outcomes] == ["pass", "pass"], [o.stderr_tail for o in outcomes]


@pytest.mark.usefixtures("sandbox_ok")
def test_mbpp_reply_with_tests_appended_passes(benchmarks_dir: Path) -> None:
    bench, problems, _ = load("mbpp", benchmarks_dir)
    problem = problems[0]
    reply = (
        f"Here is the function:\n```python\n{problem.canonical_solution}\n\n{problem.test}\n"
        "print('all tests passed')\n```\nIt uses sets."
    )
    sample = to_completion("alpaca", bench, problem, reply, 0)
    assert "assert" not in sample.solution and "print" not in sample.solution
    outcomes = score_completions(bench, [problem], [sample], ScoreOptions(workers=1))
    assert outcomes[0].status == "pass", outcomes[0].stderr_tail


def _rewritten(problem: Problem) -> str:
    """The function rewritten with its own docstring, then a doctest `main`, amid prose."""
    own = problem.prompt.replace("Check if in given list", "Return whether in the list")
    assert own != problem.prompt
    return (
        f"Sure, here is {problem.entry_point}:\n```python\n{own}{problem.canonical_solution}\n"
        "\nif __name__ == '__main__':\n    import doctest\n    doctest.testmod()\n```\nDone."
    )


@pytest.mark.usefixtures("sandbox_ok")
@pytest.mark.parametrize("fmt", ["alpaca", "magicoder", "chat", "instruct"])
def test_every_instruct_format_scores_rewritten_functions(
    benchmarks_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    """End to end through `eval generate`: a docstring-carrying rewrite and a body-only reply."""
    from tests.unit.evals.test_generate import _run

    monkeypatch.setenv("WAVECODER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-secret")
    _, problems, _ = load("humaneval", benchmarks_dir)
    first = problems[:2]

    def answer(body: dict[str, Any]) -> Reply:
        if first[0].entry_point in json.dumps(body):
            return Reply.text(_rewritten(first[0]))
        return Reply.text(f"```python\n{first[1].canonical_solution}```")  # a bare body

    out = tmp_path / "out"
    with OpenAIServer() as srv:
        srv.responder = answer
        argv = ["generate", "--benchmark", "humaneval", "--data", str(benchmarks_dir), "-k", "1"]
        argv += ["--model", "m", "--base-url", srv.url, "--limit", "2", "-o", str(out)]
        assert _run([*argv, "--prompt-format", fmt, "--allow-code-execution"]) == 0
    results = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [r["status"] for r in results] == ["pass", "pass"], results


# --- tree-sitter languages, what is kept -------------------------------------------------------

CPP_PREFIX = "#include<stdio.h>\n#include<vector>\nusing namespace std;\nbool f(vector<int> v){\n"


def test_cpp_bare_body_continues_the_prompt_and_main_is_dropped() -> None:
    program = sanitize("```cpp\n    return v.size() > 1;\n}\n```", "cpp", entry_point="f",
                       prefix=CPP_PREFIX)  # fmt: skip
    assert "bool f(vector<int> v){" in program and "return v.size() > 1;" in program
    whole = "```c++\n#include <vector>\nbool f(std::vector<int> v) { return true; }\n"
    whole += "int main() { return f({}); }\n```"
    program = sanitize(whole, "cpp", entry_point="f", prefix=CPP_PREFIX)
    assert "main" not in program and "using namespace std;" in program  # the prompt's, added


def test_java_bare_method_is_wrapped_and_public_dropped() -> None:
    method = "```java\npublic boolean f(List<Integer> v) {\n    return true;\n}\n```"
    program = sanitize(method, "java", entry_point="f", prefix="import java.util.*;\n")
    assert "class Solution {" in program and program.startswith("import java.util.*;")
    program = sanitize("```java\npublic class Solution { boolean f() { return true; } }\n```",
                       "java", entry_point="f")  # fmt: skip
    assert program.strip() == "class Solution { boolean f() { return true; } }"


def test_go_keeps_only_the_imports_the_kept_code_uses() -> None:
    reply = '```go\npackage main\n\nimport (\n    "fmt"\n    "unicode"\n    "strings"\n)\n\n'
    reply += "func F(s string) bool {\n    return unicode.IsUpper(rune(strings.ToUpper(s)[0]))\n}\n"
    reply += 'func TestF(t *testing.T) {}\nfunc main() {\n    fmt.Println(F("a"))\n}\n```'
    program = sanitize(reply, "go", entry_point="F")
    assert '"unicode"' in program and "fmt" not in program and "package" not in program
    assert '"strings"' not in program  # a helper package the harness imports itself
    assert "TestF" not in program and "func main" not in program


def test_rust_uses_prompt_imports_only_without_its_own() -> None:
    prefix = "fn main(){}\n\nuse std::collections::HashMap;\n\nfn f() -> i32{\n"
    bare = sanitize("```rust\nfn f() -> i32 { 1 }\n```", "rust", entry_point="f", prefix=prefix)
    assert bare.startswith("use std::collections::HashMap;")
    own = "```rust\nuse std::collections::HashSet;\nfn f() -> i32 { 1 }\n```"
    program = sanitize(own, "rust", entry_point="f", prefix=prefix)
    assert "HashMap" not in program and "HashSet" in program


def test_javascript_drops_calls_and_exports_keeps_helpers() -> None:
    reply = "```js\nconst f = (x) => g(x);\nfunction g(x) { return x; }\nfunction unused() {}\n"
    reply += "console.log(f(1));\nmodule.exports = f;\n```"
    program = sanitize(reply, "javascript", entry_point="f")
    assert "function g" in program and "console" not in program and "unused" not in program


def test_methods_called_through_an_interface_or_out_of_line_are_kept() -> None:
    go = "```go\ntype byLen []string\nfunc (s byLen) Len() int { return len(s) }\n"
    go += "func F(v []string) bool { sort.Sort(byLen(v)); return true }\n```"
    assert "func (s byLen) Len()" in sanitize(go, "go", entry_point="F")
    cpp = "```cpp\nstruct A { int g(); };\nint A::g() { return 1; }\n"
    cpp += "int f() { A a; return a.g(); }\n```"
    assert "int A::g()" in sanitize(cpp, "cpp", entry_point="f")


@pytest.mark.parametrize(
    ("language", "code", "entry"),
    [
        ("cpp", "#include <vector>\nusing namespace std;\nbool f(vector<int> v) {\n"
                "    return v.size() > 1;\n}", "f"),
        ("javascript", "const f = (x) => {\n  return x + 1;\n};", "f"),
        ("java", "import java.util.*;\nclass Solution {\n    public int f(int x) { return x; }\n}",
         "f"),
        ("rust", "fn f(x: i32) -> i32 {\n    x + 1\n}", "f"),
        ("go", "func F(x int) int {\n    return x + 1\n}", "F"),
    ],
)  # fmt: skip
def test_unfenced_code_amid_prose(language: str, code: str, entry: str) -> None:
    reply = f"Here you go:\n{code}\nThe function does what was asked. Hope this helps!"
    assert sanitize(reply, language, entry_point=entry).split() == code.split()


def test_bare_body_then_main_still_continues_the_prompt() -> None:
    prefix = "#include<vector>\nusing namespace std;\nbool f(vector<int> v){\n"
    body = "    for (int x : v) {\n        if (x > 1) return true;\n    }\n    return false;\n}\n"
    program = sanitize(body + "\nint main() {\n    return 0;\n}\n", "cpp", entry_point="f",
                       prefix=prefix)  # fmt: skip
    assert "bool f(vector<int> v){" in program and "main" not in program
    python = sanitize("    return x + 1\n\ndef main():\n    print(f(1))\n\nmain()\n", "python",
                      entry_point="f", prefix='def f(x):\n    """doc"""\n')  # fmt: skip
    assert python == 'def f(x):\n    """doc"""\n    return x + 1\n'
