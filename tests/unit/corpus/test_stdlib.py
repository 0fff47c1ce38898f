"""The embedded default corpus: the running interpreter's standard library."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from tests.unit.corpus.stage_helpers import records, run_stage
from wavecoder.corpus import ingest, stdlib


def test_stdlib_ingest_matches_an_ast_count(tmp_path: Path) -> None:
    stats = run_stage(ingest, tmp_path / "out", cfg=ingest.Config(sources=("stdlib",)))
    codes = records(tmp_path / "out")
    root = stdlib.stdlib_root()
    assert codes and all(c.docstring and c.license == "PSF-2.0" for c in codes)
    assert not any(c.path.startswith(("test/", "idlelib/idle_test/")) for c in codes)
    # the same documented functions, found by the `ast` module in the files ingest parsed
    paths = sorted({c.path for c in codes})
    expected = 0
    for rel in paths:
        tree = ast.parse((root.path / rel).read_text(encoding="utf-8"))
        expected += _documented(tree)
    assert len(codes) == expected
    assert stats["functions"] == stats["out"] + stats["rejected.no_docstring"]
    json.dumps(stats)  # stats are plain JSON


def _documented(node: ast.AST) -> int:
    found = 0
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
            found += bool(ast.get_docstring(child))
        else:
            found += _documented(child)
    return found


def test_named_package_is_added(tmp_path: Path) -> None:
    root = stdlib.package_root("pathspec")
    assert root.path.is_dir() and root.repo.startswith("pathspec-")
    assert root.license  # from the package metadata


def test_unknown_package_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="not installed"):
        stdlib.package_root("no_such_package_wavecoder")
