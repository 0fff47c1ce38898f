"""Put one real bug into working code, for the code repair task (pure; tree-sitter based).

The paper's repair task feeds the teacher "incorrect" code without saying how it becomes
incorrect; we inject one bug of five kinds a human makes, at a syntax-tree node chosen from the
run seed and the code id, in every language the corpus reads (python, go, java, javascript,
php, ruby):

    operator_swap        a binary operator replaced by a plausible other (+/-, ==/!=, &&/||, </>)
    off_by_one           an integer literal one higher, or a strict bound made inclusive (< to <=)
    wrong_variable       one use of a variable replaced by another variable of the same function
    inverted_condition   an `if` condition negated
    wrong_return         a returned value replaced by null (or a returned boolean flipped)

The buggy code must differ from the original and still parse without errors; a site that breaks
the parse is skipped. The original code is the reference fix. Not here: whether the bug is
caught by tests (the judge checks the fix against the reference).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, get_args

from wavecoder.instruct.task import unit_fraction

if TYPE_CHECKING:
    import tree_sitter

BugKind = Literal[
    "operator_swap", "off_by_one", "wrong_variable", "inverted_condition", "wrong_return"
]
BUG_KINDS: tuple[BugKind, ...] = get_args(BugKind)

_SWAP = {"+": "-", "-": "+", "*": "/", "==": "!=", "!=": "==", "===": "!==", "!==": "===",
         "&&": "||", "||": "&&", "and": "or", "or": "and", "<": ">", ">": "<", "<=": ">=",
         ">=": "<="}  # fmt: skip
_BOUND = {"<": "<=", ">": ">=", "<=": "<", ">=": ">"}
_BINARY = {"binary_operator", "comparison_operator", "boolean_operator", "binary_expression",
           "binary"}  # fmt: skip
_INTEGER = {"integer", "int_literal", "decimal_integer_literal", "number"}
_IF = {"if_statement", "elif_clause", "if", "unless", "elsif"}
_RETURN = {"return_statement", "return"}
_NULL = {"python": "None", "go": "nil", "ruby": "nil", "java": "null", "javascript": "null",
         "php": "null"}  # fmt: skip
_FLIP = {"True": "False", "False": "True", "true": "false", "false": "true"}
_PREFIX = {"php": b"<?php\n"}  # the PHP grammar reads a function only inside <?php


@dataclass(frozen=True)
class Bug:
    kind: BugKind
    line: int  # 1-based line of the change in the code
    detail: str  # what changed, e.g. "`i < n` -> `i <= n`"
    buggy_code: str

    def meta(self) -> dict[str, str]:
        return {"bug_kind": self.kind, "bug_line": str(self.line), "bug_detail": self.detail,
                "buggy_code": self.buggy_code}  # fmt: skip


@dataclass(frozen=True)
class _Site:
    kind: BugKind
    start: int  # byte offsets in the code (without any prefix)
    end: int
    replacement: bytes


def _parse(data: bytes, language: str) -> tree_sitter.Tree:
    from wavecoder.corpus.parse import parse

    return parse(_PREFIX.get(language, b"") + data, language)


def _walk(node: tree_sitter.Node) -> Iterator[tree_sitter.Node]:
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(n.children))


def _text(node: tree_sitter.Node) -> str:
    return (node.text or b"").decode("utf-8", "replace")


def sites(code: str, language: str) -> list[_Site]:
    """Every place a bug can go, in source order (kinds interleaved)."""
    data = code.encode("utf-8")
    shift = len(_PREFIX.get(language, b""))
    tree = _parse(data, language)
    found: list[_Site] = []
    names = _variables(tree.root_node, language, shift, data)
    for node in _walk(tree.root_node):
        for kind, s, e, new in _node_sites(node, language, names):
            if s >= shift:
                found.append(_Site(kind, s - shift, e - shift, new.encode("utf-8")))
    return found


def _node_sites(
    node: tree_sitter.Node, language: str, names: Sequence[str]
) -> Iterator[tuple[BugKind, int, int, str]]:
    if node.type in _BINARY:
        for op in node.children:
            if op.is_named:
                continue
            text = _text(op)
            if text in _SWAP:
                yield "operator_swap", op.start_byte, op.end_byte, _SWAP[text]
            if text in _BOUND:
                yield "off_by_one", op.start_byte, op.end_byte, _BOUND[text]
    elif node.type in _INTEGER and _text(node).isdigit():
        yield "off_by_one", node.start_byte, node.end_byte, str(int(_text(node)) + 1)
    elif node.type in _IF:
        cond = node.child_by_field_name("condition")
        if cond is not None:
            yield "inverted_condition", cond.start_byte, cond.end_byte, _negate(cond, language)
    elif node.type in _RETURN:
        value = next((c for c in node.children if c.is_named and c.type != "comment"), None)
        if value is not None:
            text = _text(value)
            new = _FLIP.get(text, _NULL[language])
            if new != text:
                yield "wrong_return", value.start_byte, value.end_byte, new
    elif _is_variable(node, language) and len(names) > 1:
        text = _text(node)
        if text in names:
            other = [n for n in names if n != text]
            pick = other[int(unit_fraction("var", node.start_byte, text) * len(other))]
            yield "wrong_variable", node.start_byte, node.end_byte, pick


def _negate(cond: tree_sitter.Node, language: str) -> str:
    text = _text(cond)
    if language == "python":
        return f"not ({text})"
    if cond.type == "parenthesized_expression":  # java, javascript, php: keep the outer parens
        return f"(!{text})"
    return f"!({text})"


def _is_variable(node: tree_sitter.Node, language: str) -> bool:
    kind = "variable_name" if language == "php" else "identifier"
    if node.type != kind:
        return False
    after = node.next_sibling
    parent = node.parent
    # not a callee, not a name being defined (function, parameter lists are excluded by line)
    if after is not None and _text(after) == "(":
        return False
    return parent is None or parent.type not in ("call", "call_expression", "method_invocation")


def _variables(root: tree_sitter.Node, language: str, shift: int, data: bytes) -> list[str]:
    """Variables used at least twice after the signature line (the candidates to swap)."""
    first_line_end = data.find(b"\n") + shift if b"\n" in data else len(data) + shift
    counts: dict[str, int] = {}
    for node in _walk(root):
        if node.start_byte > first_line_end and _is_variable(node, language):
            counts[_text(node)] = counts.get(_text(node), 0) + 1
    return sorted(n for n, c in counts.items() if c >= 2 and n not in ("self", "this", "$this"))


def inject_bug(
    code: str,
    language: str,
    *,
    seed: int,
    key: str,
    kinds: Sequence[BugKind] = BUG_KINDS,
) -> Bug | None:
    """One bug in `code`, chosen from (seed, key); None if no site of `kinds` keeps it parsing."""
    data = code.encode("utf-8")
    first_line_end = data.find(b"\n") if b"\n" in data else len(data)
    by_kind: dict[BugKind, list[_Site]] = {}
    for site in sites(code, language):
        if site.kind == "wrong_variable" and site.start <= first_line_end:
            continue  # the signature: renaming a parameter is not a bug
        by_kind.setdefault(site.kind, []).append(site)
    order = [k for k in BUG_KINDS if k in kinds and k in by_kind]
    if not order:
        return None
    first = int(unit_fraction("bug-kind", seed, key) * len(order))
    for kind in order[first:] + order[:first]:
        candidates = by_kind[kind]
        start = int(unit_fraction("bug-site", seed, key, kind) * len(candidates))
        for site in candidates[start:] + candidates[:start]:
            bug = _apply(data, language, site)
            if bug is not None:
                return bug
    return None


def _apply(data: bytes, language: str, site: _Site) -> Bug | None:
    buggy = data[: site.start] + site.replacement + data[site.end :]
    if buggy == data or _parse(buggy, language).root_node.has_error:
        return None
    old = data[site.start : site.end].decode("utf-8", "replace")
    new = site.replacement.decode("utf-8")
    line = data[: site.start].count(b"\n") + 1
    return Bug(site.kind, line, f"`{old}` -> `{new}`", buggy.decode("utf-8"))
