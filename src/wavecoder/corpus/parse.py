"""Parse a source string and list its functions, with spans and doc comments (pure, no I/O).

The API other stages reuse: ingest extracts the corpus with it, the repair task parses code to
inject bugs, decontamination normalises code. `extract_functions(source, language)` returns every
named function and method that is not nested inside another extracted function, following
CodeSearchNet's conventions so that both ingest paths give the same records:

* `code` is the definition node's exact source span (CodeSearchNet's `match_from_span`): it
  starts at the `def`/`func`/`function`/modifiers column, later lines keep their indentation,
  decorators are not included. A Python docstring is part of `code` (it is inside the body);
  a doc comment in the other languages sits above the definition, so it is not.
* `docstring` is the Python docstring (`inspect.cleandoc`-ed) or the doc comment right above
  the definition (`/** */` Javadoc/JSDoc/PHPDoc, runs of `//` or `#` lines), with delimiters
  stripped. "Right above" is decided on the source text (only whitespace with at most one line
  break in between), not on tree position: grammars place a comment that opens a class body
  under the class node rather than beside the method (Ruby), which sibling links would miss.
* Anonymous JavaScript functions are named by what they are bound to (`const f = () => ..`,
  `obj.f = function ..`, `{f: function ..}`, class fields); inline callbacks are not extracted,
  but the named functions inside them are.

Functions whose subtree holds a tree-sitter ERROR or MISSING node are returned with
`has_error=True`; callers decide (ingest rejects them with the reason `parse_error`).
Not here: reading files, deciding what to keep.
"""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from wavecoder.corpus.languages import LanguageSpec, parser, spec_for
from wavecoder.records import Language

if TYPE_CHECKING:
    import tree_sitter

Kind = Literal["function", "method", "constructor"]
_BODY_REQUIRED = ("go", "java", "php")  # bodyless there means abstract / interface / extern
_MAX_ERROR_LINES = 5


@dataclass(frozen=True)
class Function:
    """One extracted function. `span` is 1-based inclusive lines of `code` in the source."""

    name: str  # qualified: Class.method, Type.Method (Go), binding (JS expressions)
    code: str
    docstring: str
    span: tuple[int, int]
    kind: Kind
    has_error: bool
    byte_range: tuple[int, int]


@dataclass(frozen=True)
class Extraction:
    """All functions of one source text, and where the parser found errors (1-based lines)."""

    language: Language
    functions: tuple[Function, ...]
    error_lines: tuple[int, ...]

    @property
    def has_errors(self) -> bool:
        return bool(self.error_lines)


def parse(source: str | bytes, language: str) -> tree_sitter.Tree:
    """The tree-sitter tree of `source` (UTF-8 if given as str)."""
    data = source.encode("utf-8") if isinstance(source, str) else source
    return parser(spec_for(language).name).parse(data)


def extract_functions(source: str | bytes, language: str) -> Extraction:
    """Every function and method in `source`, in source order (see the module docstring)."""
    data = source.encode("utf-8") if isinstance(source, str) else source
    spec = spec_for(language)
    tree = parser(spec.name).parse(data)
    walker = _Walker(spec, data)
    walker.walk(tree.root_node)
    errors = _error_lines(tree.root_node) if tree.root_node.has_error else ()
    return Extraction(spec.name, tuple(walker.found), errors)


class _Walker:
    """Preorder walk that records comments and stops descending at each extracted function."""

    def __init__(self, spec: LanguageSpec, data: bytes) -> None:
        self.spec = spec
        self.data = data
        self.comments: dict[int, tree_sitter.Node] = {}  # end byte -> comment node
        self.found: list[Function] = []

    def walk(self, root: tree_sitter.Node) -> None:
        spec = self.spec
        stack: list[tuple[tree_sitter.Node, tuple[str, ...]]] = [(root, ())]
        while stack:
            node, quals = stack.pop()
            kind = node.type
            if kind in spec.comments:
                self.comments[node.end_byte] = node
                continue
            if kind in spec.functions or kind in spec.expressions:
                fn = self._function(node, quals)
                if fn is not None:
                    self.found.append(fn)
                    continue
            if kind in spec.containers:
                quals = (*quals, self._text(node.child_by_field_name("name")) or "<anonymous>")
            stack.extend((child, quals) for child in reversed(node.named_children))

    def _text(self, node: tree_sitter.Node | None) -> str:
        if node is None:
            return ""
        return self.data[node.start_byte : node.end_byte].decode("utf-8", errors="replace")

    def _function(self, node: tree_sitter.Node, quals: tuple[str, ...]) -> Function | None:
        spec = self.spec
        if spec.name in _BODY_REQUIRED and node.child_by_field_name("body") is None:
            return None
        name = self._name(node)
        if not name:
            return None  # an inline anonymous function: look inside it instead
        if node.type == "method_declaration" and spec.name == "go":
            quals = (*quals, _go_receiver(self._text(node.child_by_field_name("receiver"))))
        if spec.doc == "docstring":
            docstring = self._python_docstring(node)
        else:
            docstring = self._doc_comment(self._anchor(node))
        return Function(
            name=".".join((*quals, name)),
            code=self._text(node),
            docstring=docstring,
            span=(node.start_point[0] + 1, node.end_point[0] + 1),
            kind=self._kind(node, name, quals),
            has_error=node.has_error,
            byte_range=(node.start_byte, node.end_byte),
        )

    def _name(self, node: tree_sitter.Node) -> str:
        own = self._text(node.child_by_field_name("name"))
        if node.type not in self.spec.expressions:
            return own
        parent = node.parent
        field = {
            "variable_declarator": "name",
            "pair": "key",
            "assignment_expression": "left",
            "field_definition": "property",
        }.get(parent.type if parent else "")
        if parent is not None and field:
            bound = parent.child_by_field_name(field)
            if bound is not None and bound.id != node.id:
                return self._text(bound)
        return own

    def _kind(self, node: tree_sitter.Node, name: str, quals: tuple[str, ...]) -> Kind:
        if name in self.spec.constructors or node.type == "constructor_declaration":
            return "constructor"
        if quals or node.type in ("method_definition", "method_declaration"):
            return "method"
        return "function"

    def _anchor(self, node: tree_sitter.Node) -> tree_sitter.Node:
        """The statement a doc comment sits above (a JS function's declaration, export, ...)."""
        while node.parent is not None and node.parent.type in self.spec.wrappers:
            node = node.parent
        return node

    def _python_docstring(self, node: tree_sitter.Node) -> str:
        body = node.child_by_field_name("body")
        if body is None or not body.named_children:
            return ""
        first = body.named_children[0]
        if first.type != "expression_statement" or not first.named_children:
            return ""
        string = first.named_children[0]
        if string.type != "string":
            return ""
        try:
            value = ast.literal_eval(self._text(string))
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            value = "".join(self._text(c) for c in string.children if c.type == "string_content")
        return inspect.cleandoc(value) if isinstance(value, str) else ""

    def _doc_comment(self, anchor: tree_sitter.Node) -> str:
        parts: list[str] = []
        pos = anchor.start_byte
        while (comment := self._comment_before(pos)) is not None:
            text = self._text(comment)
            line_style = text.startswith(("//", "#")) and not text.startswith("#=")
            if not parts and not text.startswith(self.spec.doc_prefixes):
                break
            if parts and not line_style:
                break
            parts.append(text)
            if not line_style:
                break
            pos = comment.start_byte
        return clean_comment("\n".join(reversed(parts))) if parts else ""

    def _comment_before(self, pos: int) -> tree_sitter.Node | None:
        """The comment ending right before byte `pos` (whitespace and at most one newline
        between), if it starts its own line."""
        data, newlines = self.data, 0
        i = pos
        while i > 0 and data[i - 1] in b" \t\r\n\f":
            i -= 1
            newlines += data[i] == 0x0A
        comment = self.comments.get(i)
        if comment is None or newlines > 1:
            return None
        line_start = data.rfind(b"\n", 0, comment.start_byte) + 1
        if data[line_start : comment.start_byte].strip():
            return None  # a trailing comment of the code on that line
        return comment


_GO_RECEIVER = re.compile(r"\*?\s*([A-Za-z_]\w*)\s*(?:\[[^\]]*\])?\s*\)\s*$")


def _go_receiver(receiver: str) -> str:
    """`(s *Server)` -> `Server`; `(Stack[T])` -> `Stack`."""
    match = _GO_RECEIVER.search(receiver)
    return match.group(1) if match else receiver.strip("() ")


_STAR_PREFIX = re.compile(r"^\s*\*(?!/) ?")
_LINE_PREFIX = re.compile(r"^\s*(?://+|#+) ?")


def clean_comment(text: str) -> str:
    """Doc comment text without its delimiters: `/** * x */`, `// x`, `# x`, `=begin x =end`."""
    text = text.replace("\r\n", "\n").strip()
    if text.startswith("/*"):
        body = text[3:] if text.startswith("/**") else text[2:]
        body = body[:-2] if body.endswith("*/") else body
        lines = [_STAR_PREFIX.sub("", line) for line in body.split("\n")]
    elif text.startswith("=begin"):
        lines = text.split("\n")[1:]
        lines = lines[:-1] if lines and lines[-1].startswith("=end") else lines
    else:
        lines = [_LINE_PREFIX.sub("", line) for line in text.split("\n")]
    return textwrap.dedent("\n".join(line.rstrip() for line in lines)).strip()


def _error_lines(root: tree_sitter.Node) -> tuple[int, ...]:
    """1-based lines of the first few ERROR / MISSING nodes (descending only into errors)."""
    lines: list[int] = []
    stack = [root]
    while stack and len(lines) < _MAX_ERROR_LINES:
        node = stack.pop()
        if node.is_error or node.is_missing:
            lines.append(node.start_point[0] + 1)
            continue
        stack.extend(c for c in reversed(node.children) if c.has_error or c.is_missing)
    return tuple(sorted(set(lines)))
