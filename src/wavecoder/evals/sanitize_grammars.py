"""The tree-sitter grammars `wavecoder.evals.sanitize_ts` reads replies with, and per language
which top-level items are imports, which are definitions, and which names the benchmark's own
test code supplies (dropped from a reply). Grammars come from the per-language PyPI wheels
(tree-sitter-javascript, -java, -go, -cpp, -rust), imported when a language is first used.
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
class Spec:
    module: str
    imports: frozenset[str]  # always kept, first, without duplicates
    definitions: frozenset[str]  # kept when reachable; a later one of the same name wins
    drop: frozenset[str] = frozenset()  # names the benchmark's test code supplies itself
    attach: frozenset[str] = frozenset()  # items that belong to the next item (attributes)
    prompt_imports: frozenset[str] = field(default_factory=frozenset)


SPECS: dict[str, Spec] = {
    "cpp": Spec(
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
    "rust": Spec(
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
    "java": Spec(
        "tree_sitter_java",
        imports=frozenset({"import_declaration"}),
        definitions=frozenset(
            {"class_declaration", "interface_declaration", "enum_declaration", "record_declaration"}
        ),
        drop=frozenset({"Main"}),
        prompt_imports=frozenset({"import_declaration"}),
    ),
    "javascript": Spec(
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
    "go": Spec(
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
FUNCTIONS = frozenset(
    {"function_definition", "function_item", "function_declaration", "method_declaration",
     "class_declaration", "template_declaration", "generator_function_declaration"}
)  # fmt: skip
GO_TEST = re.compile(r"^(Test|Benchmark|Example|Fuzz)[A-Z_0-9]")


@functools.cache
def parser(language: str) -> tree_sitter.Parser:
    import tree_sitter

    module = importlib.import_module(SPECS[language].module)
    return tree_sitter.Parser(tree_sitter.Language(module.language()))
