"""CodeSearchNet: both schemas, the same `code` as the tree path, bad lines, the hub layout."""

from __future__ import annotations

import ast
import gzip
import json
from pathlib import Path

import pytest

from tests.unit.corpus.stage_helpers import jsonl, records, rejected, run_stage
from wavecoder.config import ConfigError
from wavecoder.corpus import codesearchnet as csn
from wavecoder.corpus import ingest

FIXTURE = Path(__file__).parents[2] / "fixtures" / "corpus" / "tree"


def match_from_span(blob: str, start: tuple[int, int], end: tuple[int, int]) -> str:
    """CodeSearchNet's function_parser `match_from_span` (0-based rows, columns)."""
    lines = blob.split("\n")
    (r0, c0), (r1, c1) = start, end
    if r0 == r1:
        return lines[r0][c0:c1]
    return "\n".join([lines[r0][c0:], *lines[r0 + 1 : r1], lines[r1][:c1]])


def csn_rows_from_ast(rel: str) -> list[dict[str, object]]:
    """CodeSearchNet-style rows for the functions of a Python fixture, located by `ast` (an
    oracle independent of tree-sitter)."""
    blob = (FIXTURE / rel).read_text()
    rows = []
    for node in ast.walk(ast.parse(blob)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name != "helper":
            assert node.end_lineno is not None and node.end_col_offset is not None
            code = match_from_span(
                blob, (node.lineno - 1, node.col_offset), (node.end_lineno - 1, node.end_col_offset)
            )
            rows.append(
                {
                    "repo": "acme/widgets",
                    "path": rel,
                    "func_name": node.name,
                    "original_string": code,
                    "language": "python",
                    "code": code,
                    "code_tokens": [],
                    "docstring": ast.get_docstring(node) or "",
                    "docstring_tokens": [],
                    "partition": "train",
                    "url": f"https://github.com/acme/widgets/blob/x/{rel}"
                    f"#L{node.lineno}-L{node.end_lineno}",
                }
            )
    return rows


def test_same_code_through_csn_and_tree_paths(tmp_path: Path) -> None:
    rows = csn_rows_from_ast("lib/shapes.py")
    ruby = {
        "repo": "acme/widgets",
        "path": "lib/greeter.rb",
        "func_name": "Greeter.hello",
        "language": "ruby",
        "code": 'def hello(name)\n    "Hello, #{name}"\n  end',
        "docstring": "Says hello to +name+.",
        "partition": "test",
        "url": "https://github.com/acme/widgets/blob/x/lib/greeter.rb#L4-L6",
    }
    jsonl(tmp_path / "rows.jsonl", [*rows, ruby])
    run_stage(ingest, tmp_path / "csn", paths=[tmp_path / "rows.jsonl"])
    run_stage(ingest, tmp_path / "tree", cfg=ingest.Config(workers=1), paths=[FIXTURE])
    tree = {(c.path, c.span): c for c in records(tmp_path / "tree")}
    from_csn = records(tmp_path / "csn")
    assert len(from_csn) == len(rows) + 1
    for code in from_csn:
        twin = tree[(code.path, code.span)]
        assert code.code == twin.code
        assert code.code_hash == twin.code_hash
        assert code.docstring == twin.docstring
        assert code.source == "codesearchnet" and twin.source == "tree"


def test_malformed_lines_are_counted_with_file_and_line(tmp_path: Path) -> None:
    good = {"code": "def f():\n    return 1", "language": "python", "partition": "train"}
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(
        (
            json.dumps(good)
            + "\n{not json\n"
            + json.dumps({"language": "python"})
            + "\n"
            + json.dumps({**good, "language": "cobol"})
            + "\n[1, 2]\n\n"
        ).encode()
        + b'{"code": "\xff\xfe", "language": "python"}\n'
        + (
            json.dumps({**good, "code": "def g():\n    return 2", "partition": "valid"}) + "\n"
        ).encode()
    )
    stats = run_stage(ingest, tmp_path / "out", paths=[path])
    assert stats["out"] == 2  # the train and the valid row
    details = {r.reason: r.detail for r in rejected(tmp_path / "out")}
    assert details["malformed_json"].startswith(f"{path}:2: invalid JSON")
    assert details["malformed_row"].startswith(f"{path}:")
    assert details["unsupported_language"].startswith(f"{path}:4:")
    assert details["invalid_utf8"].startswith(f"{path}:7:")
    assert stats["rejected.malformed_json"] == 1
    assert stats["rejected.malformed_row"] == 2  # missing code; not an object


def test_strict_stops_at_the_first_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"code": "x = 1", "language": "python"}\n{oops\n')
    with pytest.raises(ConfigError, match=r"bad.jsonl:2: invalid JSON"):
        run_stage(ingest, tmp_path / "out", cfg=ingest.Config(strict=True), paths=[path])


def test_gzip_file_and_split_selection(tmp_path: Path) -> None:
    rows = [
        {"code": f"def f{i}():\n    return {i}", "language": "python", "partition": split}
        for i, split in enumerate(["train", "valid", "test"])
    ]
    path = tmp_path / "python_train_0.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in rows)
    stats = run_stage(ingest, tmp_path / "out", cfg=ingest.Config(splits=("train",)), paths=[path])
    assert [c.code for c in records(tmp_path / "out")] == ["def f0():\n    return 0"]
    assert stats["skipped.split.valid"] == 1 and stats["skipped.split.test"] == 1


def write_hub_folder(root: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    def table(lang: str, n: int, split: str) -> pa.Table:
        return pa.table(
            {
                "repository_name": [f"acme/{lang}"] * n,
                "func_path_in_repository": [f"src/{split}/{i}.{lang}" for i in range(n)],
                "func_name": [f"f{i}" for i in range(n)],
                "whole_func_string": [f"func f{i}() {{ return {i} }}" for i in range(n)],
                "language": [lang] * n,
                "func_code_string": [f"func f{i}() {{ return {i} }}" for i in range(n)],
                "func_code_tokens": [["func"]] * n,
                "func_documentation_string": [f"F{i} returns {i}." for i in range(n)],
                "func_documentation_tokens": [["F"]] * n,
                "split_name": [split] * n,
                "func_code_url": [
                    f"https://github.com/acme/x/blob/s/f.go#L{i + 1}-L{i + 3}" for i in range(n)
                ],
            }
        )

    for config, lang in (("go", "go"), ("all", "go")):
        for split, n in (("train", 3), ("validation", 2)):
            folder = root / config / split
            folder.mkdir(parents=True)
            pq.write_table(table(lang, n, split), folder / "0000.parquet")


def test_hub_layout_folder(tmp_path: Path) -> None:
    write_hub_folder(tmp_path / "hub")
    stats = run_stage(ingest, tmp_path / "out", paths=[tmp_path / "hub"])
    codes = records(tmp_path / "out")
    assert len(codes) == 5  # `all` only, never `all` and `go` both
    assert codes[0].func_name == "f0" and codes[0].span == (1, 3)
    assert codes[0].docstring == "F0 returns 0." and codes[0].language == "go"
    assert stats["rows"] == 5
    run_stage(
        ingest, tmp_path / "tr", cfg=ingest.Config(splits=("train",)), paths=[tmp_path / "hub"]
    )
    assert len(records(tmp_path / "tr")) == 3


def test_hub_download_path_offline_from_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`hf://` goes through huggingface_hub.snapshot_download; offline it resolves the
    revision from the local cache laid out as the hub client writes it."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub-cache" / "datasets--code-search-net--code_search_net"
    write_hub_folder(repo / "snapshots" / commit)
    (repo / "refs" / "refs" / "convert").mkdir(parents=True)
    (repo / "refs" / "refs" / "convert" / "parquet").write_text(commit)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    import huggingface_hub.constants as hfc

    monkeypatch.setattr(hfc, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hfc, "HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    cfg = ingest.Config(languages=("go",))
    run_stage(
        ingest, tmp_path / "out", cfg=cfg, paths=[Path("hf://code-search-net/code_search_net")]
    )
    assert len(records(tmp_path / "out")) == 5  # the `go` config, both splits
    assert csn.hub_patterns(["go"], ["train", "valid"]) == [
        "go/train/*.parquet",
        "go/validation/*.parquet",
    ]


def test_missing_source_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        run_stage(ingest, tmp_path / "out", paths=[tmp_path / "nope.jsonl"])
