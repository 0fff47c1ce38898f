"""What the `verify` stage runs: which code an instance offers, and code + tests as one program.

Pure text handling. `code_under_test(ex)` says which code of an instance is checked and in which
language (the solution of generate / repair / translate, translate's in its target language; the
buggy input of repair too) or why none is. `program(language, code, tests)` joins the code and
the tests into the one test program the evaluation runners take, in the conventions the test
prompt asks for (`verify_tests.CONVENTIONS`), assembled as HumanEvalPack's programs are
(`wavecoder.evals.benchmarks.humanevalpack`: its headers, includes and Go helper imports):

- python: the light header (no numpy), the code with its `if __name__ == "__main__":` block
  turned off (a demo there would run), then the tests;
- javascript: the code with ES `export` keywords removed (the runner runs CommonJS), the tests;
- java: every `import` first; a bare method goes into `class Solution`, a top-level `public`
  type loses `public` (Main.java holds one public class: the tests' `Main`);
- go: one `package main` and one import block merged from code and tests (plus `testing` and the
  helper packages the code uses), then the code and the tests (`func TestXxx`);
- cpp: the standard includes the code lacks, `<cassert>`, `using namespace std;`, the code with
  a `main` of its own renamed (the tests bring `main`), the tests without a last `return 0;`
  (the end marker is written before main's closing brace);
- rust: the code, then the tests' `#[cfg(test)]` module.

`checks_something` refuses tests that check nothing (no assert, no test function): with the
end-of-test marker such a program would pass. Not here: running (`verify_exec`), asking a model
for tests (`verify_tests`).
"""

from __future__ import annotations

import re

from wavecoder.evals.benchmarks.humanevalpack import CPP_INCLUDES, GO_HELPERS, PYTHON_HEADER
from wavecoder.evals.runners import RUNNER_LANGUAGES
from wavecoder.records import Example

NOINPUT = "<noinput>"
PY_HEADER = "".join(line + "\n" for line in PYTHON_HEADER.splitlines() if "numpy" not in line)

_PY_MAIN = re.compile(r"""^if\s+__name__\s*==\s*['"]__main__['"]\s*:""", re.M)
_JS_EXPORT = re.compile(r"^export\s+(?:default\s+)?", re.M)
_JAVA_IMPORT = re.compile(r"^[ \t]*import\s+(?:static\s+)?[\w.]+(?:\.\*)?\s*;[ \t]*$", re.M)
_JAVA_PACKAGE = re.compile(r"^[ \t]*package\s+[\w.]+\s*;[ \t]*$", re.M)
_JAVA_TYPE = re.compile(
    r"^(?:public\s+)?(?:(?:abstract|final|sealed|strictfp)\s+)*(?:class|interface|enum|record)\s",
    re.M,
)
_JAVA_PUBLIC_TYPE = re.compile(r"^public\s+(?=(?:(?:abstract|final|sealed|strictfp)\s+)*"
                               r"(?:class|interface|enum|record)\s)", re.M)  # fmt: skip
_GO_PACKAGE = re.compile(r"^package\s+\w+[ \t]*$", re.M)
_GO_IMPORT_BLOCK = re.compile(r"^import\s*\(\s*\n(.*?)^\)[ \t]*$", re.M | re.S)
_GO_IMPORT_ONE = re.compile(r"^import\s+((?:[\w.]+\s+)?\"[^\"]+\")[ \t]*$", re.M)
_CPP_MAIN = re.compile(r"\bint\s+main\s*\(")
_CPP_LAST_RETURN = re.compile(r"\breturn\s+0\s*;\s*}\s*$")

# What a test program must contain to check anything, per language.
_CHECKS: dict[str, tuple[str, ...]] = {
    "python": (r"\bassert\b",),
    "javascript": (r"\bassert\b",),
    "java": (r"\bthrow\s+new\s+\w*(?:Error|Exception)\b", r"\bclass\s+Main\b"),
    "go": (r"\bfunc\s+Test\w*\s*\(", r"\bt\.(?:Fatal|Fatalf|Error|Errorf|Fail|FailNow)\b"),
    "cpp": (r"\bassert\s*\(", r"\bint\s+main\s*\("),
    "rust": (r"#\[test\]", r"\bassert(?:_eq|_ne)?!"),
}


def solution_language(ex: Example) -> str:
    """The language the solution is written in: translate's target, else the code's."""
    return ex.target_language if ex.task == "translate" and ex.target_language else ex.language


def skip_reason(ex: Example) -> str:
    """Why an instance has no code to run ("" when it has)."""
    if ex.task == "summarize":
        return "not_code: a summary's solution is prose"
    language = solution_language(ex)
    if language not in RUNNER_LANGUAGES:
        return (
            f"language: no sandbox runner for {language} (runners: {', '.join(RUNNER_LANGUAGES)})"
        )
    if not ex.solution.strip():
        return "no_code: the solution is empty"
    if ex.task == "repair" and not buggy_code(ex).strip():
        return "no_code: the repair instance has no buggy input"
    return ""


def buggy_code(ex: Example) -> str:
    """The code a repair instance asks to fix: its input as exported, else the injected bug."""
    info = ex.information.strip()
    if info and info.lower() != NOINPUT:
        return ex.information
    return ex.meta.get("buggy_code", "")


def checks_something(language: str, tests: str) -> bool:
    return all(re.search(p, tests) for p in _CHECKS.get(language, (r"\S",)))


def program(language: str, code: str, tests: str) -> str:
    """Code and tests as one program for `wavecoder.evals.runners` (module docstring)."""
    build = _BUILD.get(language)
    if build is None:
        raise ValueError(f"no test program for language {language!r}")
    return build(code.strip("\n"), tests.strip("\n"))


def _python(code: str, tests: str) -> str:
    from wavecoder.evals.sanitize import hoist_future

    code = _PY_MAIN.sub("if False:  # the solution's own main block does not run", code)
    return hoist_future(f"{PY_HEADER}\n{code}\n\n\n{tests}\n")


def _javascript(code: str, tests: str) -> str:
    return f"{_JS_EXPORT.sub('', code)}\n\n{tests}\n"


def _java(code: str, tests: str) -> str:
    imports = ["import java.util.*;"]
    for text in (code, tests):
        imports += [m.group(0).strip() for m in _JAVA_IMPORT.finditer(text)]
    code, tests = (_JAVA_PACKAGE.sub("", _JAVA_IMPORT.sub("", t)) for t in (code, tests))
    if _JAVA_TYPE.search(code):
        code = _JAVA_PUBLIC_TYPE.sub("", code)
    else:
        code = "class Solution {\n" + code + "\n}"
    return "\n".join(dict.fromkeys(imports)) + f"\n\n{code.strip()}\n\n{tests.strip()}\n"


def _go(code: str, tests: str) -> str:
    specs: list[str] = ['"testing"']
    bodies = []
    for text in (code, tests):
        for found in _GO_IMPORT_BLOCK.finditer(text):
            specs += [s.strip() for s in found.group(1).splitlines() if s.strip()]
        specs += [m.group(1).strip() for m in _GO_IMPORT_ONE.finditer(text)]
        text = _GO_IMPORT_ONE.sub("", _GO_IMPORT_BLOCK.sub("", _GO_PACKAGE.sub("", text)))
        bodies.append(text.strip())
    body = "\n\n".join(bodies)
    uncommented = "\n".join(x for x in body.split("\n") if not x.lstrip().startswith("//"))
    named = {s.split()[-1].strip('"') for s in specs}
    specs += [f'"{p}"' for p in GO_HELPERS if p not in named and p.split("/")[-1] + "." in
              uncommented]  # fmt: skip
    block = "".join(f"\t{s}\n" for s in dict.fromkeys(specs))
    return f"package main\n\nimport (\n{block})\n\n{body}\n"


def _cpp(code: str, tests: str) -> str:
    head = "".join(s + "\n" for s in (*CPP_INCLUDES, "#include<cassert>") if s not in code)
    code = _CPP_MAIN.sub("int wavecoder_solution_main(", code)
    # the end marker goes before main's closing brace: a last `return 0;` would skip it
    tests = _CPP_LAST_RETURN.sub("}", tests)
    return f"{head}using namespace std;\n\n{code}\n\n{tests}\n"


def _rust(code: str, tests: str) -> str:
    return f"{code}\n\n{tests}\n"


_BUILD = {
    "python": _python,
    "javascript": _javascript,
    "java": _java,
    "go": _go,
    "cpp": _cpp,
    "rust": _rust,
}
