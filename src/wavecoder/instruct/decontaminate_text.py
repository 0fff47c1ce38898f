"""Text normalisation for decontamination: the exact-level key and the n-gram level's tokens.

Two views of a piece of code, both pure functions:

* `exact_key(code, language)`: `records.normalize_code` (comments dropped, whitespace collapsed),
  then every whitespace character removed and single quotes turned into double quotes, so a
  re-indented, re-wrapped or re-quoted copy (what black or prettier do) gives the same string.
* `match_tokens(text)`: code tokens with identifiers normalised, so a copy with renamed variables
  and functions gives the same sequence. Keywords of the benchmark languages, common builtins and
  names after a `.` (methods, attributes: a renamer rarely touches them) are kept; every other
  identifier becomes `ID`. String literals become one token holding their content (quote style
  ignored; docstrings are left out: copies reword or drop them), builtins such as `max` are
  kept when called and `ID` as variables, numbers and operators stay as written, comments
  (`#`, `//`, `/* */`) are dropped.

The tokenizer does not know the language of an instruction (instruction files rarely say): it
applies one lossy rule set to both sides, which is all that matching needs (e.g. Python's `//`
operator starts a "comment" on both sides alike). Not here: indexing and scoring
(`decontaminate_index`).
"""

from __future__ import annotations

import re

from wavecoder.records import Language, normalize_code

# Keywords of Python, JavaScript, Java, Go, C++ and Rust, plus builtins solutions lean on; not
# the words Python code also uses as variable names (switch, match, size, string, sum, max, ...):
# a renamer changes those, and a kept name that is renamed breaks every n-gram over it.
_KEPT = """
    False None True and as assert async await break class continue def del elif else except
    finally for from global if import in is lambda nonlocal not or pass raise return try while
    with yield self
    abs bool chr divmod enumerate float frozenset int isinstance len ord print range repr
    reversed sorted tuple zip math sqrt floor ceil
    var let const function this typeof instanceof undefined null true false
    throw catch extends super public private protected static void boolean String Integer
    List ArrayList HashMap Arrays Math System println charAt
    func package defer chan struct interface fmt strings strconv
    unsigned signed sizeof template typename namespace using std include push_back cout endl
    fn mut impl pub crate enum trait Vec Some Ok Err Option Result usize
    i32 i64 u32 u64 f32 f64 unwrap collect
"""
KEPT_NAMES = frozenset(_KEPT.split())
# builtins Python code also uses as names: kept when called, `ID` otherwise
_CALLED = "sum max min list str dict set type format iter next filter map all any bytes round pow"
CALLED = frozenset(f"{_CALLED} hex bin oct input open".split())

_TOKEN_RE = re.compile(
    r'''(?P<str>"""(?:\\.|[^\\])*?"""|\'\'\'(?:\\.|[^\\])*?\'\'\''''
    r"""|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'|`(?:\\.|[^`\\])*`)"""
    r"|(?P<comment>#[^\n]*|//[^\n]*|/\*.*?\*/)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<num>\d+(?:\.\d+)?)"
    r"|(?P<op>==|!=|<=|>=|->|=>|&&|\|\||::|\+=|-=|\*=|/=|\*\*|<<|>>|\S)",
    re.S,
)
_WS_RE = re.compile(r"\s+")


def match_tokens(text: str) -> list[tuple[str, int, int]]:
    """(normalised token, start, end) for every token of `text`, comments left out."""
    out: list[tuple[str, int, int]] = []
    prev = ""
    for m in _TOKEN_RE.finditer(text):
        kind = m.lastgroup
        if kind == "comment":
            continue
        tok = m.group()
        if kind == "str":
            quote = 3 if tok[:3] in ('"""', "'''") else 1
            if quote == 3 and prev == ":":
                continue  # a docstring: copies reword or drop it, the code is the evidence
            tok = "S:" + _WS_RE.sub(" ", tok[quote:-quote]).strip()
        elif kind == "name" and tok not in KEPT_NAMES and prev != ".":
            tok = "ID"
        elif tok == "(" and prev in CALLED and out[-1][0] == "ID":
            out[-1] = (prev, out[-1][1], out[-1][2])  # `max(` is a call, `max = 0` a variable
        out.append((tok, m.start(), m.end()))
        prev = m.group()
    return out


def token_strings(text: str) -> list[str]:
    """The normalised tokens of `match_tokens` without their offsets."""
    return [tok for tok, _, _ in match_tokens(text)]


def exact_key(code: str, language: Language) -> str:
    """The exact-level comparison string: no comments, no whitespace, one quote style."""
    return _WS_RE.sub("", normalize_code(code, language)).replace("'", '"')


def comment_family(language: Language) -> str:
    """Languages whose `exact_key` of a text is the same (same comment syntax)."""
    if language in ("python", "ruby", "shell"):
        return "hash"
    if language == "php":
        return "php"
    return "slash"


FAMILY_LANGUAGE: dict[str, Language] = {"hash": "python", "slash": "cpp", "php": "php"}
