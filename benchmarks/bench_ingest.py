"""Benchmark: ingest of the whole Python standard library, against an `ast` baseline.

Runs the `ingest` stage on the embedded default corpus (tree-sitter, worker processes) and, in
the same process, a baseline that extracts the same documented functions with the standard
library's `ast` module (one process, CodeSearchNet-style code spans, no records written). Prints
functions/s and MB/s for both and their ratio. Target: the stdlib in under 30 s on 2 cores.

    python benchmarks/bench_ingest.py [--workers N]
"""

from __future__ import annotations

import argparse
import ast
import sys
import tempfile
import time
from pathlib import Path

from wavecoder.corpus import ingest, stdlib, trees
from wavecoder.pipeline import StageContext
from wavecoder.store import StageDir


def run_ingest(workers: int) -> tuple[float, int, list[str]]:
    with tempfile.TemporaryDirectory() as tmp:
        ctx = StageContext(
            name="ingest",
            cfg=ingest.Config(sources=("stdlib",), workers=workers),
            out=StageDir(Path(tmp)),
            quiet=True,
        )
        start = time.perf_counter()
        stats = ingest.run(ctx)
        seconds = time.perf_counter() - start
        paths = sorted({c.path for c in ctx.out.read_records("records", ingest.Code)})
    return seconds, int(stats["out"]), paths


def span_text(lines: list[str], node: ast.AST) -> str:
    """CodeSearchNet's match_from_span over ast positions."""
    r0, c0 = node.lineno - 1, node.col_offset  # type: ignore[attr-defined]
    r1, c1 = node.end_lineno - 1, node.end_col_offset  # type: ignore[attr-defined]
    if r0 == r1:
        return lines[r0][c0:c1]
    return "\n".join([lines[r0][c0:], *lines[r0 + 1 : r1], lines[r1][:c1]])


def run_ast(root: Path, rels: list[str]) -> tuple[float, int, int]:
    start = time.perf_counter()
    found = size = 0
    for rel in rels:
        text = (root / rel).read_text(encoding="utf-8")
        size += len(text.encode())
        lines = text.split("\n")
        stack: list[ast.AST] = [ast.parse(text)]
        while stack:
            for child in ast.iter_child_nodes(stack.pop()):
                if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                    if ast.get_docstring(child):
                        span_text(lines, child)
                        found += 1
                else:
                    stack.append(child)
    return time.perf_counter() - start, found, size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=0, help="0 = one per core")
    args = parser.parse_args()
    root = stdlib.stdlib_root()
    files = [
        f
        for f in trees.walk_tree(root.path, exclude=root.exclude)
        if isinstance(f, trees.SourceFile)
    ]
    size = sum(f.path.stat().st_size for f in files)
    seconds, count, _ = run_ingest(args.workers)
    base_s, base_count, _size = run_ast(root.path, [f.rel for f in files])
    mb = size / 1e6
    print(f"stdlib {root.repo}: {len(files)} files, {mb:.1f} MB, python {sys.version.split()[0]}")
    print(f"{'method':<28}{'seconds':>9}{'functions':>11}{'func/s':>10}{'MB/s':>8}")
    print(
        f"{'ingest (tree-sitter)':<28}{seconds:>9.2f}{count:>11}{count / seconds:>10.0f}"
        f"{mb / seconds:>8.2f}"
    )
    print(
        f"{'ast baseline (1 process)':<28}{base_s:>9.2f}{base_count:>11}"
        f"{base_count / base_s:>10.0f}{mb / base_s:>8.2f}"
    )
    print(
        f"ratio ingest/ast time: {seconds / base_s:.2f}x; target < 30 s: "
        f"{'met' if seconds < 30 else 'MISSED'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
