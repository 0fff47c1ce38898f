"""`wavecoder.evals.sanitize` for JavaScript, Java, Go, C++ and Rust, with tree-sitter grammars.

The reply's code blocks are parsed together; of their top-level items it keeps the imports
(includes, `using`, `use`, Java imports; Go imports only when the kept code uses them and the
harness does not add them itself), the entry point and the definitions it reaches (Java: the
classes, which hold the entry point; a bare method is wrapped in `class Solution`), and drops
statements, comments, `main`, a Rust `mod tests`, Go `Test*` functions and a Java `Main` class
(the benchmark's test supplies those). A later definition of a name replaces an earlier one.
Top-level Java classes lose `public` (the program is one `Main.java`). The prompt's imports are
added when missing (Rust: only when the reply has no `use` of its own, since a second `use` of a
name does not compile). A reply that defines no function or class is read as the prompt plus a
continuation. Not here: Python (`ast`, in `sanitize`), program assembly (`benchmarks/`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from wavecoder.evals.sanitize_grammars import FUNCTIONS, GO_TEST, SPECS, Spec, parser

if TYPE_CHECKING:
    import tree_sitter


@dataclass(frozen=True)
class _Item:
    kind: str  # "import" or "definition"
    text: str
    name: str | None
    uses: frozenset[str]
    node_type: str


def sanitize_tree(
    blocks: list[str], language: str, *, entry_point: str, prefix: str, body: str = ""
) -> str:
    """The program in `blocks`; `body` is the reply's code read as a continuation of `prefix`
    (default: the first block), used when the blocks define no function or class."""
    if language not in SPECS:
        raise ValueError(f"no reply sanitizer for language {language!r}")
    code = "\n".join(b.strip("\n") for b in blocks)
    if language == "java" and _bare_method(code):
        code = "class Solution {\n" + code + "\n}\n"
    items = _items(code, language)
    spec = SPECS[language]
    own = _defines(items, entry_point, language) or any(
        i.node_type in FUNCTIONS and not _dropped(i, spec, language) for i in items
    )  # a reply with only a `main` after a bare body still continues the prompt
    if entry_point and prefix and not own:
        continued = _items(prefix + (body or blocks[0]), language)  # a bare body continues it
        if _defines(continued, entry_point, language):
            items = continued
    program = _select(items, entry_point, language)
    head = _missing_prompt_imports(prefix, items, language)
    if language == "go":
        head += _go_imports(code, program)
    return head + program


def first_error_line(code: str, language: str) -> int:
    """0 when `code` parses without an error node, else the 1-based line of the first one."""
    node = parser(language).parse(code.encode("utf-8")).root_node
    if not node.has_error:
        return 0 if node.named_child_count else -1
    while True:
        bad = next((c for c in node.children if c.is_error or c.is_missing), None)
        if bad is not None:
            return int(bad.start_point[0]) + 1
        inner = next((c for c in node.children if c.has_error), None)
        if inner is None:
            return int(node.start_point[0]) + 1
        node = inner


def _items(code: str, language: str) -> list[_Item]:
    spec = SPECS[language]
    data = code.encode("utf-8")
    root = parser(language).parse(data).root_node
    items: list[_Item] = []
    pending = b""  # attributes waiting for their item
    for node in root.children:
        text = data[node.start_byte : node.end_byte].rstrip()
        if node.type in spec.attach:
            pending += text + b"\n"
            continue
        if node.type == ";" and items and items[-1].kind == "definition":
            last = items[-1]  # `struct S {...};` parses as the struct, then a lone `;`
            items[-1] = _Item(last.kind, last.text + ";", last.name, last.uses, last.node_type)
            continue
        if node.type in spec.imports or node.type in spec.definitions:
            kind = "import" if node.type in spec.imports else "definition"
            body = _java_unpublic(node, data).rstrip() if language == "java" else text
            uses = frozenset(_identifiers(node))
            name = _name(node, data)
            items.append(_Item(kind, (pending + body).decode("utf-8"), name, uses, node.type))
        pending = b""
    return items


def _select(items: list[_Item], entry_point: str, language: str) -> str:
    spec = SPECS[language]
    keep = [i for i in items if i.kind == "import" or not _dropped(i, spec, language)]
    last = {i.name: n for n, i in enumerate(keep) if i.kind == "definition" and i.name}
    roots = {entry_point} if entry_point in last and language != "java" else set(last)
    for item in keep:  # unnamed items (impl blocks, method sets) stay, with what they use
        if item.kind == "definition" and not item.name:
            roots |= item.uses
    wanted = _reachable(roots & set(last), keep, last)
    imports: list[str] = []
    parts: list[str] = []
    for n, item in enumerate(keep):
        if item.kind == "import":
            if item.text not in imports:
                imports.append(item.text)
        elif not item.name or (n == last[item.name] and item.name in wanted):
            parts.append(item.text)
    head = "".join(t + "\n" for t in imports)
    return head + ("\n" if head and parts else "") + "\n\n".join(parts) + ("\n" if parts else "")


def _reachable(roots: set[str], keep: list[_Item], last: dict[str, int]) -> set[str]:
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen or name not in last:
            continue
        seen.add(name)
        todo.extend(keep[last[name]].uses)
    return seen


def _dropped(item: _Item, spec: Spec, language: str) -> bool:
    if item.name in spec.drop:
        return True
    return language == "go" and item.name is not None and bool(GO_TEST.match(item.name))


def _defines(items: list[_Item], entry_point: str, language: str) -> bool:
    if language == "java":
        return any(
            i.node_type == "class_declaration" and entry_point in i.uses and i.name != "Main"
            for i in items
        )
    return any(i.kind == "definition" and i.name == entry_point for i in items)


def _identifiers(node: tree_sitter.Node) -> set[str]:
    found: set[str] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if n.type.endswith("identifier") and n.text is not None:
            found.add(n.text.decode("utf-8", "replace"))
        stack.extend(n.children)
    return found


def _name(node: tree_sitter.Node, data: bytes) -> str | None:
    """The name a top-level item defines (None: kept whenever the code is: an impl block, a Go
    method (an interface may call it), a C++ out-of-line member `T::f`, a global)."""
    if node.type == "method_declaration":
        return None
    named = node.child_by_field_name("name")
    if named is not None:
        return data[named.start_byte : named.end_byte].decode("utf-8", "replace")
    if node.type == "template_declaration":
        inner = [c for c in node.named_children if c.type != "template_parameter_list"]
        return _name(inner[-1], data) if inner else None
    if node.type in ("lexical_declaration", "variable_declaration", "type_declaration"):
        first = next(
            (c for c in node.named_children if c.type.endswith(("declarator", "spec"))), None
        )
        return _name(first, data) if first is not None else None
    declarator = node.child_by_field_name("declarator")
    while declarator is not None:  # C++: function_declarator / pointer_declarator ... identifier
        if declarator.type == "qualified_identifier":
            return None
        if declarator.type in ("identifier", "field_identifier"):
            return data[declarator.start_byte : declarator.end_byte].decode("utf-8", "replace")
        declarator = declarator.child_by_field_name("declarator")
    return None


def _java_unpublic(node: tree_sitter.Node, data: bytes) -> bytes:
    """A top-level Java type without `public` (only `Main` may be public in Main.java)."""
    text = data[node.start_byte : node.end_byte]
    for child in node.children:
        if child.type == "modifiers":
            for token in child.children:
                if token.type == "public":
                    start, end = (
                        token.start_byte - node.start_byte,
                        token.end_byte - node.start_byte,
                    )
                    return text[:start] + text[end:].lstrip(b" ")
    return text


def _bare_method(code: str) -> bool:
    root = parser("java").parse(code.encode("utf-8")).root_node
    types = {c.type for c in root.children}
    return "method_declaration" in types and "class_declaration" not in types


def _missing_prompt_imports(prefix: str, items: list[_Item], language: str) -> str:
    spec = SPECS[language]
    if not prefix or not spec.prompt_imports:
        return ""
    own = {_squash(i.text) for i in items if i.kind == "import"}
    if language == "rust" and any(i.node_type == "use_declaration" for i in items):
        return ""
    wanted = [i for i in _items(prefix, language) if i.node_type in spec.prompt_imports]
    return "".join(i.text + "\n" for i in wanted if _squash(i.text) not in own)


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _go_imports(code: str, program: str) -> str:
    """The reply's imports the kept code uses, except those the harness adds itself."""
    from wavecoder.evals.benchmarks.humanevalpack import GO_HELPERS

    data = code.encode("utf-8")
    root = parser("go").parse(data).root_node
    specs: list[str] = []
    stack = [c for c in root.children if c.type == "import_declaration"]
    while stack:
        node = stack.pop(0)
        if node.type == "import_spec":
            specs.append(data[node.start_byte : node.end_byte].decode("utf-8", "replace"))
        else:
            stack[:0] = list(node.named_children)
    keep = []
    for spec in specs:
        alias, _, path = spec.rpartition(" ")
        path = path.strip('"`')
        name = alias.strip() or path.split("/")[-1]
        if path in GO_HELPERS or path in ("testing", "github.com/stretchr/testify/assert"):
            continue
        if alias.strip() == "_" or re.search(rf"\b{re.escape(name)}\.", program):
            keep.append(spec)
    return "import (\n" + "".join(f"    {s}\n" for s in keep) + ")\n" if keep else ""
