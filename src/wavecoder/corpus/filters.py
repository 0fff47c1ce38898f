"""The raw-code filter rules, as pure functions over `Code` records.

The paper's rules (WaveCoder part A):
* `length`: `code` must be 50-800 characters (reasons `too_short` / `too_long`).
* `blacklist`: Code Alpaca's 18-word list, matched as whole words, case-insensitively (Code
  Alpaca's `\\b...\\b` regex), on `code` (reason `blacklist`). "go to" matches across any run
  of whitespace.

CodeSearchNet's quality rules, off unless asked for:
* `docstring_first_paragraph`: cut `docstring` to its first paragraph (up to the first blank
  line or the first `@tag` line of a Javadoc/JSDoc block) - a documented change of the record.
* `min_docstring_tokens`: at least N tokens in `docstring` (CodeSearchNet's tokenizer regex),
  counted after the cut (reason `short_docstring`).
* `min_code_lines`: at least N lines of `code` (reason `too_few_lines`).
* `drop_tests`: no function whose own name contains "test" (reason `test_function`).
* `drop_special`: no constructors and no standard special methods (`__str__`, `toString`,
  `hashCode`, PHP magic methods, Ruby `initialize`, ...) (reason `special_method`).

Every rule says which field it reads; the first failing rule, in the order above, names the
reason. Not here: reading and writing records (the `filter` stage).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from wavecoder.records import Code

CODE_ALPACA_BLACKLIST: tuple[str, ...] = (
    "image",
    "images",
    "graph",
    "graphs",
    "picture",
    "pictures",
    "file",
    "files",
    "map",
    "maps",
    "draw",
    "plot",
    "go to",
    "video",
    "audio",
    "music",
    "flowchart",
    "diagram",
)
Field = Literal["code", "docstring", "func_name", "license"]

# CodeSearchNet's DOCSTRING_REGEX_TOKENIZER (function_parser/parsers/language_parser.py).
_DOC_TOKENS = re.compile(
    r"[^\s,'\"`.():\[\]=*;>{\}+-/\\]+|\\+|\.+|\(\)|{\}|\[\]|\(+|\)+|:+|\[+|\]+|{+|\}+|=+|\*+|;+|"
    r">+|\++|-+|/+"
)
_PARAGRAPH_END = re.compile(r"\n\s*\n|\n\s*@\w")
_DUNDER = re.compile(r"^__\w+__$")
# Constructors and standard extension methods, per language (CodeSearchNet's blacklists plus
# each language's constructor name).
SPECIAL_METHODS: dict[str, frozenset[str]] = {
    "java": frozenset(
        {"toString", "hashCode", "equals", "finalize", "notify", "notifyAll", "clone"}
    ),
    "javascript": frozenset({"constructor", "toString", "toLocaleString", "valueOf"}),
    "php": frozenset(
        {
            "__construct",
            "__destruct",
            "__call",
            "__callStatic",
            "__get",
            "__set",
            "__isset",
            "__unset",
            "__sleep",
            "__wakeup",
            "__toString",
            "__invoke",
            "__set_state",
            "__clone",
            "__debugInfo",
            "__serialize",
            "__unserialize",
        }
    ),
    "ruby": frozenset(
        {
            "initialize",
            "to_text",
            "display",
            "dup",
            "clone",
            "equal?",
            "==",
            "<=>",
            "===",
            "<=",
            "<",
            ">",
            ">=",
            "between?",
            "eql?",
            "hash",
            "to_s",
            "inspect",
        }
    ),
    "go": frozenset({"String", "Error", "GoString"}),
}


@dataclass(frozen=True)
class Rule:
    """A named check: `check(record)` returns a detail string when the record fails."""

    reason: str
    field: Field
    check: Callable[[Code], str | None]


def short_name(func_name: str) -> str:
    """`pkg.Class.method` -> `method`; `Foo::Bar.baz` -> `baz`."""
    return re.split(r"[.:#]", func_name)[-1] if func_name else ""


def first_paragraph(docstring: str) -> str:
    match = _PARAGRAPH_END.search(docstring)
    return (docstring[: match.start()] if match else docstring).strip()


def docstring_tokens(docstring: str) -> list[str]:
    return _DOC_TOKENS.findall(docstring)


def length_rules(min_chars: int, max_chars: int) -> list[Rule]:
    def short(c: Code) -> str | None:
        return f"{len(c.code)} chars < {min_chars}" if len(c.code) < min_chars else None

    def long(c: Code) -> str | None:
        return f"{len(c.code)} chars > {max_chars}" if len(c.code) > max_chars else None

    return [Rule("too_short", "code", short), Rule("too_long", "code", long)]


def blacklist_rule(words: Sequence[str], field: Field = "code") -> Rule:
    alternatives = "|".join(r"\s+".join(map(re.escape, w.split())) for w in words)
    pattern = re.compile(rf"\b(?:{alternatives})\b", re.IGNORECASE)

    def check(c: Code) -> str | None:
        match = pattern.search(getattr(c, field))
        return f"contains {match.group(0)!r}" if match else None

    return Rule("blacklist", field, check)


def min_docstring_tokens_rule(n: int) -> Rule:
    def check(c: Code) -> str | None:
        count = len(docstring_tokens(c.docstring))
        return f"{count} tokens < {n}" if count < n else None

    return Rule("short_docstring", "docstring", check)


def min_code_lines_rule(n: int) -> Rule:
    def check(c: Code) -> str | None:
        lines = c.code.count("\n") + 1
        return f"{lines} lines < {n}" if lines < n else None

    return Rule("too_few_lines", "code", check)


def test_function_rule() -> Rule:
    def check(c: Code) -> str | None:
        name = short_name(c.func_name)
        return f"name {name!r} contains 'test'" if "test" in name.lower() else None

    return Rule("test_function", "func_name", check)


def special_method_rule() -> Rule:
    def check(c: Code) -> str | None:
        parts = re.split(r"[.:#]", c.func_name) if c.func_name else [""]
        name = parts[-1]
        special = SPECIAL_METHODS.get(c.language, frozenset())
        java_ctor = c.language == "java" and len(parts) > 1 and parts[-2] == name
        if name in special or java_ctor or (c.language == "python" and _DUNDER.match(name)):
            return f"{name!r} is a constructor or standard special method"
        return None

    return Rule("special_method", "func_name", check)


def license_rule(licenses: Sequence[str]) -> Rule:
    """Keep records whose SPDX licence expression the allow-list satisfies (`filter.licenses`)."""
    from wavecoder.corpus.licenses import UNKNOWN, allowed

    def check(c: Code) -> str | None:
        if allowed(c.license, licenses):
            return None
        return f"{c.license or UNKNOWN} is not in filter.licenses"

    return Rule("license", "license", check)


@dataclass(frozen=True)
class FilterSpec:
    """Which rules run, with their parameters (built from the stage Config)."""

    min_chars: int = 50
    max_chars: int = 800
    blacklist: tuple[str, ...] = CODE_ALPACA_BLACKLIST
    blacklist_field: Field = "code"
    docstring_first_paragraph: bool = False
    min_docstring_tokens: int = 0
    min_code_lines: int = 0
    drop_tests: bool = False
    drop_special: bool = False
    licenses: tuple[str, ...] = ()


def build_rules(spec: FilterSpec) -> list[Rule]:
    rules = [license_rule(spec.licenses)] if spec.licenses else []
    rules += length_rules(spec.min_chars, spec.max_chars)
    if spec.blacklist:
        rules.append(blacklist_rule(spec.blacklist, spec.blacklist_field))
    if spec.min_docstring_tokens > 0:
        rules.append(min_docstring_tokens_rule(spec.min_docstring_tokens))
    if spec.min_code_lines > 0:
        rules.append(min_code_lines_rule(spec.min_code_lines))
    if spec.drop_tests:
        rules.append(test_function_rule())
    if spec.drop_special:
        rules.append(special_method_rule())
    return rules


def apply_rules(
    code: Code, rules: Sequence[Rule], *, first_paragraph_only: bool = False
) -> tuple[Code, Rule | None, str]:
    """(the record, possibly with its docstring cut; the first failing rule or None; detail)."""
    if first_paragraph_only and code.docstring:
        cut = first_paragraph(code.docstring)
        if cut != code.docstring:
            code = replace(code, docstring=cut)
    for rule in rules:
        detail = rule.check(code)
        if detail is not None:
            return code, rule, f"{rule.field}: {detail}"
    return code, None, ""
