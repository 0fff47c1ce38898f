"""Bug injection in every corpus language: the buggy code differs, still parses, and says where."""

from __future__ import annotations

import pytest

from wavecoder.corpus.parse import parse
from wavecoder.instruct.bugs import BUG_KINDS, inject_bug

PROGRAMS = {
    "python": "def f(a, b):\n    c = a + b\n    if c > 1:\n        return c + 1\n    return a\n",
    "go": "func f(a int, b int) int {\n\tc := a + b\n\tif c > 1 {\n\t\treturn c + 1\n\t}\n"
    "\treturn a\n}",
    "java": "public int f(int a, int b) {\n  int c = a + b;\n  if (c > 1) { return c + 1; }\n"
    "  return a;\n}",
    "javascript": "function f(a, b) {\n  const c = a + b;\n  if (c > 1) { return c + 1; }\n"
    "  return a;\n}",
    "php": "function f($a, $b) {\n  $c = $a + $b;\n  if ($c > 1) { return $c + 1; }\n"
    "  return $a;\n}",
    "ruby": "def f(a, b)\n  c = a + b\n  if c > 1\n    return c + 1\n  end\n  a\nend",
}


def _parses(code: str, language: str) -> bool:
    prefix = "<?php\n" if language == "php" else ""
    return not parse(prefix + code, language).root_node.has_error


@pytest.mark.parametrize("language", sorted(PROGRAMS))
@pytest.mark.parametrize("kind", BUG_KINDS)
def test_each_kind_in_each_language(language: str, kind: str) -> None:
    code = PROGRAMS[language]
    bug = inject_bug(code, language, seed=7, key="k", kinds=[kind])  # type: ignore[list-item]
    assert bug is not None and bug.kind == kind
    assert bug.buggy_code != code and _parses(bug.buggy_code, language)
    _, new = bug.detail.strip("`").split("` -> `")
    changed = bug.buggy_code.splitlines()[bug.line - 1]
    assert new in changed and code.splitlines()[bug.line - 1] != changed
    assert bug.meta()["bug_kind"] == kind and bug.meta()["buggy_code"] == bug.buggy_code


def test_the_choice_is_seeded() -> None:
    code = PROGRAMS["python"]
    picks = {inject_bug(code, "python", seed=s, key="k") for s in range(30)}
    assert len({b.kind for b in picks if b}) >= 3
    assert inject_bug(code, "python", seed=3, key="k") == inject_bug(
        code, "python", seed=3, key="k"
    )


def test_code_without_a_site_gets_no_bug() -> None:
    assert inject_bug("def f():\n    pass\n", "python", seed=1, key="k") is None


def test_a_parameter_is_never_the_wrong_variable() -> None:
    for s in range(40):
        bug = inject_bug(PROGRAMS["go"], "go", seed=s, key="x", kinds=["wrong_variable"])
        assert bug is not None and bug.line > 1
