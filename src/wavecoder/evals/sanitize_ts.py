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

import functools
import importlib
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import tree_sitter


@dataclass(frozen=True)
class _Spec:
    module: str
    imports: frozenset[str]  # always kept, first, without duplicates
    definitions: frozenset[str]  # kept when reachable; a later one of the same name wins
    drop: frozenset[str] = frozenset()  # names the benchmark's test code supplies itself
    attach: frozenset[str] = frozenset()  # items that belong to the next item (attributes)
    prompt_imports: frozenset[str] = field(default_factory=frozenset)


_SPECS: dict[str, _Spec] = {
    "cpp": _Spec(
        "tree_sitter_cpp",
        imports=frozenset({"preproc_include", "using_declaration", "preproc_def"}),
        definitions=frozenset(
            {
                "function_definition",
                "declaration",
                "struct_specifier",
                "class_specifier",
                "enum_specifier",
                "union_specifier",
                "template_declaration",
                "namespace_definition",
                "type_definition",
                "alias_declaration",
                "preproc_function_def",
            }
        ),
        drop=frozenset({"main"}),
        prompt_imports=frozenset({"preproc_include", "using_declaration"}),
    ),
    "rust": _Spec(
        "tree_sitter_rust",
        imports=frozenset({"use_declaration", "extern_crate_declaration", "inner_attribute_item"}),
        definitions=frozenset(
            {
                "function_item",
                "struct_item",
                "enum_item",
                "impl_item",
                "trait_item",
                "const_item",
                "static_item",
                "type_item",
                "mod_item",
                "macro_definition",
                "union_item",
            }
        ),
        drop=frozenset({"main", "tests"}),
        attach=frozenset({"attribute_item"}),
        prompt_imports=frozenset({"use_declaration"}),
    ),
    "java": _Spec(
        "tree_sitter_java",
        imports=frozenset({"import_declaration"}),
        definitions=frozenset(
            {"class_declaration", "interface_declaration", "enum_declaration", "record_declaration"}
        ),
        drop=frozenset({"Main"}),
        prompt_imports=frozenset({"import_declaration"}),
    ),
    "javascript": _Spec(
        "tree_sitter_javascript",
        imports=frozenset(),  # an ES `import` cannot run in the harness's CommonJS script
        definitions=frozenset(
            {
                "function_declaration",
                "generator_function_declaration",
                "lexical_declaration",
                "variable_declaration",
                "class_declaration",
            }
        ),
    ),
    "go": _Spec(
        "tree_sitter_go",
        imports=frozenset(),  # Go imports: see _go_imports
        definitions=frozenset(
            {
                "function_declaration",
                "method_declaration",
                "type_declaration",
                "const_declaration",
                "var_declaration",
            }
        ),
        drop=frozenset({"main"}),
    ),
}
# A reply holding one of these is a program of its own, never a continuation of the prompt.
_FUNCTIONS = frozenset(
    {"function_definition", "function_item", "function_declaration", "method_declaration",
     "class_declaration", "template_declaration", "generator_function_declaration"}
)  # fmt: skip
_GO_TEST = re.compile(r"^(Test|Benchmark|Example|Fuzz)[A-Z_0-9]")


@functools.cache
def _parser(language: str) -> tree_sitter.Parser:
    import tree_sitter

    module = importlib.import_module(_SPECS[language].module)
    return tree_sitter.Parser(tree_sitter.Language(module.language()))


@dataclass(frozen=True)
class _Item:
    kind: str  # "import" or "definition"
    text: str
    name: str | None
    uses: frozenset[str]
    node_type: str


def sanitize_tree(blocks: list[str], language: str, *, entry_point: str, prefix: str) -> str:
    if language not in _SPECS:
        raise ValueError(f"no reply sanitizer for language {language!r}")
    code = "\n".join(b.strip("\n") for b in blocks)
    if language == "java" and _bare_method(code):
        code = "class Solution {\n" + code + "\n}\n"
    items = _items(code, language)
    own = _defines(items, entry_point, language) or any(i.node_type in _FUNCTIONS for i in items)
    if entry_point and prefix and not own:
        continued = _items(prefix + blocks[0], language)  # a bare body continues the prompt
        if _defines(continued, entry_point, language):
            items = continued
    program = _select(items, entry_point, language)
    head = _missing_prompt_imports(prefix, items, language)
    if language == "go":
        head += _go_imports(code, program)
    return head + program


def _items(code: str, language: str) -> list[_Item]:
    spec = _SPECS[language]
    data = code.encode("utf-8")
    root = _parser(language).parse(data).root_node
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
    spec = _SPECS[language]
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


def _dropped(item: _Item, spec: _Spec, language: str) -> bool:
    if item.name in spec.drop:
        return True
    return language == "go" and item.name is not None and bool(_GO_TEST.match(item.name))


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
    root = _parser("java").parse(code.encode("utf-8")).root_node
    types = {c.type for c in root.children}
    return "method_declaration" in types and "class_declaration" not in types


def _missing_prompt_imports(prefix: str, items: list[_Item], language: str) -> str:
    spec = _SPECS[language]
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
    root = _parser("go").parse(data).root_node
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
