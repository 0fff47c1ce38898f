"""Per-language facts for function extraction with tree-sitter.

One `LanguageSpec` per language CodeSearchNet covers (Go, Java, JavaScript, PHP, Python, Ruby):
which file extensions hold it, which grammar node types are functions, which are class-like
containers that qualify method names, which node types are comments and how doc comments sit
(Python: a docstring inside the body; the others: a comment right above the definition). The
grammars come from the per-language PyPI wheels (tree-sitter-python, -go, ...), which work
offline; they are imported only when a language is first parsed.

Not here: walking trees (`wavecoder.corpus.parse`), reading files (`wavecoder.corpus.trees`).
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from wavecoder.records import Language, normalize_language

if TYPE_CHECKING:
    import tree_sitter

DocStyle = Literal["docstring", "comment"]


@dataclass(frozen=True)
class LanguageSpec:
    """What extraction needs to know about one language's grammar."""

    name: Language
    extensions: tuple[str, ...]
    module: str  # the grammar wheel's import name
    entry: str  # the function in it that returns the language pointer
    functions: frozenset[str]  # named function/method nodes (name in the `name` field)
    expressions: frozenset[str] = frozenset()  # anonymous functions, named by their binding
    containers: frozenset[str] = frozenset()  # class-like nodes whose name qualifies methods
    comments: frozenset[str] = frozenset({"comment"})
    doc: DocStyle = "comment"
    # Comment openers accepted as doc comments ("" accepts any comment).
    doc_prefixes: tuple[str, ...] = ("",)
    # Nodes between a function expression and the statement a doc comment sits above.
    wrappers: frozenset[str] = frozenset()
    constructors: frozenset[str] = frozenset()


SPECS: dict[Language, LanguageSpec] = {
    "python": LanguageSpec(
        name="python",
        extensions=(".py",),
        module="tree_sitter_python",
        entry="language",
        functions=frozenset({"function_definition"}),
        containers=frozenset({"class_definition"}),
        doc="docstring",
        constructors=frozenset({"__init__", "__new__"}),
    ),
    "go": LanguageSpec(
        name="go",
        extensions=(".go",),
        module="tree_sitter_go",
        entry="language",
        functions=frozenset({"function_declaration", "method_declaration"}),
        doc_prefixes=("//", "/*"),
    ),
    "java": LanguageSpec(
        name="java",
        extensions=(".java",),
        module="tree_sitter_java",
        entry="language",
        functions=frozenset({"method_declaration", "constructor_declaration"}),
        containers=frozenset(
            {"class_declaration", "interface_declaration", "enum_declaration", "record_declaration"}
        ),
        comments=frozenset({"line_comment", "block_comment"}),
        doc_prefixes=("/**",),
    ),
    "javascript": LanguageSpec(
        name="javascript",
        extensions=(".js", ".mjs", ".cjs", ".jsx"),
        module="tree_sitter_javascript",
        entry="language",
        functions=frozenset(
            {"function_declaration", "generator_function_declaration", "method_definition"}
        ),
        expressions=frozenset({"function_expression", "arrow_function", "generator_function"}),
        containers=frozenset({"class_declaration", "class"}),
        doc_prefixes=("/**", "//"),
        wrappers=frozenset(
            {
                "variable_declarator",
                "lexical_declaration",
                "variable_declaration",
                "export_statement",
                "pair",
                "assignment_expression",
                "expression_statement",
                "field_definition",
            }
        ),
        constructors=frozenset({"constructor"}),
    ),
    "php": LanguageSpec(
        name="php",
        extensions=(".php",),
        module="tree_sitter_php",
        entry="language_php",
        functions=frozenset({"function_definition", "method_declaration"}),
        containers=frozenset(
            {"class_declaration", "trait_declaration", "interface_declaration", "enum_declaration"}
        ),
        doc_prefixes=("/**",),
        constructors=frozenset({"__construct"}),
    ),
    "ruby": LanguageSpec(
        name="ruby",
        extensions=(".rb",),
        module="tree_sitter_ruby",
        entry="language",
        functions=frozenset({"method", "singleton_method"}),
        containers=frozenset({"class", "module"}),
        doc_prefixes=("#", "=begin"),
        constructors=frozenset({"initialize"}),
    ),
}

EXTENSIONS: dict[str, Language] = {ext: s.name for s in SPECS.values() for ext in s.extensions}


def spec_for(language: str) -> LanguageSpec:
    """The spec of `language` (any alias `normalize_language` accepts)."""
    lang = normalize_language(language)
    if lang not in SPECS:
        known = ", ".join(SPECS)
        raise ValueError(f"no tree-sitter extraction for {lang!r}; supported: {known}")
    return SPECS[lang]


def language_of_path(name: str) -> Language | None:
    """The language a file name's extension says, or None."""
    dot = name.rfind(".")
    return EXTENSIONS.get(name[dot:].lower()) if dot >= 0 else None


@functools.cache
def grammar(language: Language) -> tree_sitter.Language:
    """The tree-sitter Language of a grammar wheel, loaded once per process."""
    import tree_sitter

    spec = spec_for(language)
    try:
        module = importlib.import_module(spec.module)
    except ModuleNotFoundError as exc:
        wheel = spec.module.replace("_", "-")
        raise RuntimeError(
            f"parsing {language} needs the grammar wheel {wheel!r} (pip install {wheel})"
        ) from exc
    return tree_sitter.Language(getattr(module, spec.entry)())


@functools.cache
def parser(language: Language) -> tree_sitter.Parser:
    """A parser for `language`, one per process (parsers are not shared across threads)."""
    import tree_sitter

    return tree_sitter.Parser(grammar(language))
