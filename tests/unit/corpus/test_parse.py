"""Per-language extraction: names, spans, CodeSearchNet-style `code`, doc comment placement."""

from __future__ import annotations

from pathlib import Path

import pytest

from wavecoder.corpus.parse import clean_comment, extract_functions

TREE = Path(__file__).parents[2] / "fixtures" / "corpus" / "tree"


def functions(rel: str, language: str) -> dict[str, object]:
    ex = extract_functions((TREE / rel).read_bytes(), language)
    assert not ex.has_errors
    return {f.name: f for f in ex.functions}


def test_python_docstrings_and_nesting() -> None:
    fns = functions("lib/shapes.py", "python")
    assert list(fns) == ["circle_area", "Stack.__init__", "Stack.size", "Stack.push", "fetch"]
    area = fns["circle_area"]
    assert area.docstring == "Return the area of a circle.\n\nThe radius must not be negative."
    # CodeSearchNet keeps the Python docstring inside `code`.
    assert area.code.startswith('def circle_area(radius):\n    """Return the area')
    assert area.span == (5, 10) and area.kind == "function"
    size = fns["Stack.size"]
    assert size.docstring == "Number of items on the stack."
    assert size.code.startswith("def size(self):")  # decorator not part of code
    assert size.kind == "method"
    assert fns["Stack.__init__"].kind == "constructor"
    push = fns["Stack.push"]
    assert push.docstring == ""  # a comment is not a docstring
    assert "def helper" in push.code  # nested function stays inside its parent
    assert fns["fetch"].code.startswith("async def fetch(url):")
    assert fns["fetch"].docstring == "Fetch a URL."


def test_python_method_code_keeps_source_indentation() -> None:
    push = functions("lib/shapes.py", "python")["Stack.push"]
    lines = push.code.split("\n")
    assert lines[0] == "def push(self, item):"
    assert lines[1] == "        # a comment, not a docstring"  # as written in the file


def test_ruby_comment_above_method_vs_class_body_comment() -> None:
    fns = functions("lib/greeter.rb", "ruby")
    # The first comment in the class body sits under the class node, not beside the method.
    assert fns["Greeter.hello"].docstring == "Says hello to +name+."
    assert fns["Greeter.bye"].docstring == ""  # blank line between: a class-body remark
    assert fns["Greeter.build"].docstring == "Builds a greeter.\nTwo lines of doc."
    assert fns["Greeter.hello"].code == 'def hello(name)\n    "Hello, #{name}"\n  end'


def test_javascript_jsdoc_on_functions_arrows_methods() -> None:
    fns = functions("web/math.js", "javascript")
    assert set(fns) == {"add", "mul", "Counter.increment", "module.exports.square"}
    assert fns["add"].docstring == "Adds two numbers.\n@param {number} a"
    assert fns["mul"].docstring == "Multiplies two numbers."
    assert fns["mul"].code == "(a, b) => a * b"  # the function node, as CodeSearchNet
    assert fns["Counter.increment"].docstring == "Increments the counter."
    assert fns["module.exports.square"].docstring == "Module helper."


def test_java_javadoc_and_constructor() -> None:
    fns = functions("lib/Util.java", "java")
    assert set(fns) == {"Util.max", "Util.Util"}  # abstract interface method skipped
    assert fns["Util.max"].docstring == "Returns the larger value.\n@param a first"
    assert fns["Util.max"].code.startswith("@Deprecated\n    public static int max")
    assert fns["Util.Util"].docstring == ""  # a // comment is not Javadoc
    assert fns["Util.Util"].kind == "constructor"


def test_php_phpdoc_on_functions_and_methods() -> None:
    fns = functions("web/helpers.php", "php")
    assert fns["format_price"].docstring == "Formats a price."
    assert fns["Cart.add"].docstring == "Adds an item to the cart."
    assert fns["Cart.add"].code.startswith("public function add($item)")


def test_go_doc_comments_on_functions_and_methods() -> None:
    fns = functions("lib/server.go", "go")
    assert fns["Start"].docstring == "Start starts the server.\nIt blocks until the context ends."
    assert fns["Server.Handle"].docstring == "Handle handles one request."
    assert fns["Server.Handle"].kind == "method"
    assert fns["undocumented"].docstring == ""


def test_syntax_errors_are_reported_per_function() -> None:
    ex = extract_functions("def ok():\n    return 1\n\ndef bad(:\n    return 2\n", "python")
    assert ex.has_errors and ex.error_lines
    ok = [f for f in ex.functions if f.name == "ok"]
    assert ok and not ok[0].has_error


def test_trailing_comment_is_not_a_doc_comment() -> None:
    src = "package p\n\nvar x = 1 // trailing\nfunc F() {}\n"
    (fn,) = extract_functions(src, "go").functions
    assert fn.docstring == ""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/**\n * Line one.\n *\n * Line two.\n */", "Line one.\n\nLine two."),
        ("// a\n// b", "a\nb"),
        ("# a\n#   indented", "a\n  indented"),
        ("=begin\nRuby block\n=end", "Ruby block"),
    ],
)
def test_clean_comment(text: str, expected: str) -> None:
    assert clean_comment(text) == expected


def test_unknown_language_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="no tree-sitter extraction"):
        extract_functions("int main() {}", "cpp")
