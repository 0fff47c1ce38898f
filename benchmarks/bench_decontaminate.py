"""Benchmark: decontaminating 100,000 instructions against every reference set, next to a plain
Python substring scan.

Instructions: documented and undocumented functions of the running Python's standard library
(clean code) under rotating instruction templates, with `--planted` benchmark solutions mixed in
(a third verbatim, a third with every name renamed, a third re-indented and re-quoted). The
references: every set of `wavecoder.instruct.decontaminate_refs` (3,112 solutions with the
shared data folder). Measured in the same process:

  ours      build the n-gram index once, then the exact and n-gram levels in numpy batches
  baseline  the plain scan people write (Magicoder, SelfCodeAlign): for every instruction and
            every reference, `reference in instruction` on the same normalised strings
  embedding optionally the embedding level too (`--embedder hashing|minilm`, on the first
            `--embed-n` instructions), with the reference-embedding cache cold, then warm

Time is wall-clock without tracing; peak memory is tracemalloc's peak (Python and numpy
allocations) in a second, traced run of each method. Prints the seconds, instructions/s, the
ratio, recall on the planted copies, the false-positive rate on the clean rest, and whether the
exact level found the same pairs as the plain scan. The baseline runs on `--baseline-n`
instructions (all by default) and is scaled to N when it runs on fewer (marked "scaled").

    python benchmarks/bench_decontaminate.py [--n 100000] [--quick] [--data DIR]
"""

from __future__ import annotations

import argparse
import ast
import random
import re
import sysconfig
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from wavecoder.corpus.embedders import Backend
from wavecoder.instruct.decontaminate_core import Config, Item, find_matches, first_match
from wavecoder.instruct.decontaminate_refs import REFERENCE_SETS, Reference, load_references
from wavecoder.instruct.decontaminate_text import comment_family, exact_key

TEMPLATES = (
    "Write a Python function that does the following.",
    "Explain what this code does.",
    "Fix the bug in the function below.",
    "Translate this function to idiomatic Python 3.",
    "Add type hints to this function.",
    "Write unit tests for this function.",
    "Summarise this function in one sentence.",
    "Refactor this function for readability.",
)
EMBEDDERS: tuple[Backend, ...] = ("hashing", "minilm")
DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "benchmarks"


def stdlib_functions() -> list[str]:
    root = Path(sysconfig.get_paths()["stdlib"])
    out: list[str] = []
    for path in sorted(root.rglob("*.py")):
        if any(part in ("test", "tests", "idle_test", "site-packages") for part in path.parts):
            continue
        source = path.read_text(encoding="utf-8", errors="replace")
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                code = ast.get_source_segment(source, node) or ""
                if 50 <= len(code) <= 3000:
                    out.append(code)
    return out


def rename(code: str) -> str:
    names = sorted(set(re.findall(r"\b([a-z_][a-z0-9_]*)\s*=[^=]", code)))
    for i, name in enumerate(names):
        code = re.sub(rf"\b{name}\b", f"v{i}", code)
    return code


def reformat(code: str) -> str:
    lines = [" " * ((len(x) - len(x.lstrip())) // 2) + x.lstrip() for x in code.splitlines()]
    return "# solution\n" + "\n".join(lines).replace("'", '"') + "\n"


def make_items(n: int, refs: list[Reference], planted: int, seed: int = 0) -> list[Item]:
    rng = random.Random(seed)
    funcs = stdlib_functions()
    rng.shuffle(funcs)
    items = []
    for i in range(n - planted):
        code = funcs[i % len(funcs)]
        items.append(Item(f"clean-{i}", f"{TEMPLATES[i % len(TEMPLATES)]}\n{code}", code))
    python = [r for r in refs if r.language == "python" and len(r.body) > 80]
    for j in range(planted):
        r = rng.choice(python)
        code = (r.solution, rename(r.solution), reformat(r.solution))[j % 3]
        kind = ("verbatim", "renamed", "reformatted")[j % 3]
        items.insert(
            rng.randrange(len(items)), Item(f"planted-{kind}-{j}", f"Solve.\n{code}", code)
        )
    return items


def plain_scan(items: list[Item], refs: list[Reference], min_chars: int) -> set[tuple[str, int]]:
    """Every (item, reference) pair where the normalised body is a substring: two loops."""
    keys = [
        (i, exact_key(r.body, r.language), comment_family(r.language)) for i, r in enumerate(refs)
    ]
    keys = [k for k in keys if len(k[1]) >= min_chars]
    lang = {"hash": "python", "slash": "cpp", "php": "php"}
    found = set()
    for it in items:
        texts = {f: exact_key(it.text, lang[f]) for f in ("hash", "slash")}  # type: ignore[arg-type]
        for i, key, fam in keys:
            if key in texts[fam]:
                found.add((it.id, i))
    return found


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def peak_mib(fn: Callable[[], Any]) -> float:
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--quick", action="store_true", help="5,000 instructions")
    ap.add_argument("--baseline-n", type=int, default=0, help="0: all N")
    ap.add_argument("--planted", type=int, default=300)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--embedder", choices=("none", *EMBEDDERS), default="none")
    ap.add_argument("--embed-n", type=int, default=0, help="instructions for the embedding level")
    ap.add_argument("--embed-only", action="store_true", help="only the embedding level")
    ap.add_argument("--no-memory", action="store_true", help="skip the traced runs")
    args = ap.parse_args()
    n = 5_000 if args.quick else args.n
    t_refs, refs = timed(lambda: load_references(REFERENCE_SETS, data=args.data))
    items = make_items(n, refs, min(args.planted, n // 10))
    cfg = Config(levels=("exact", "ngram"))
    print(f"{len(items):,} instructions x {len(refs):,} references ({t_refs:.1f} s to load)")
    if args.embed_only:
        return embedding_cost(items[: args.embed_n] if args.embed_n else items, refs, args.embedder)

    t_ours, scan = timed(lambda: find_matches(items, refs, cfg))
    base_items = items[: args.baseline_n] if args.baseline_n else items
    t_base, base_pairs = timed(lambda: plain_scan(base_items, refs, cfg.exact_min_chars))
    scale = len(items) / len(base_items)
    report(items, refs, scan.matches, base_pairs, base_items)
    print(f"\n{'method':<34} {'seconds':>9} {'instr/s':>10} {'peak MiB':>9}")
    m_ours = m_base = float("nan")
    if not args.no_memory:
        m_ours = peak_mib(lambda: find_matches(items, refs, cfg))
        m_base = peak_mib(lambda: plain_scan(base_items[:2000], refs, cfg.exact_min_chars))
    mark = f" (scaled from {len(base_items):,})" if scale > 1 else ""
    rate = len(items) / t_ours
    print(f"{'ours: index + exact + ngram':<34} {t_ours:9.1f} {rate:10,.0f} {m_ours:9.0f}")
    print(
        f"{'plain substring scan (exact only)':<34} {t_base * scale:9.1f} "
        f"{len(base_items) / t_base:10,.0f} {m_base:9.0f}{mark}"
    )
    print(f"ratio: ours is {t_base * scale / t_ours:.1f}x faster than the plain scan")
    if args.embedder != "none":
        embedding_cost(items[: args.embed_n] if args.embed_n else items, refs, args.embedder)


def embedding_cost(items: list[Item], refs: list[Reference], backend: Backend) -> None:
    """The embedding level end to end, and the reference embeddings alone, with the reference
    cache cold (an empty cache folder) and then warm (the entry the cold run wrote)."""
    import os
    import tempfile

    from wavecoder.corpus.embedders import EmbedderConfig, load_embedder
    from wavecoder.instruct.decontaminate_cache import reference_vectors

    ecfg = Config(levels=("embedding",), embedder=EmbedderConfig(backend=backend, normalize=True))
    ref_texts, item_texts = [r.solution for r in refs], [it.code_text for it in items]
    print(f"\nembedding level ({backend}), {len(items):,} instructions x {len(refs):,} references")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["WAVECODER_CACHE_DIR"] = tmp
        t_cold, cold = timed(lambda: find_matches(items, refs, ecfg))
        t_warm, warm = timed(lambda: find_matches(items, refs, ecfg))
        emb = load_embedder(ecfg.embedder)
        t_rwarm, _ = timed(lambda: reference_vectors(emb, ecfg.embedder, ref_texts, item_texts))
        size = sum(f.stat().st_size for f in Path(tmp).rglob("*.npz")) / 2**20
    emb = load_embedder(ecfg.embedder)
    t_rcold, _ = timed(
        lambda: reference_vectors(emb, ecfg.embedder, ref_texts, item_texts, cache=False)
    )
    same = "the same" if cold.matches == warm.matches else "DIFFERENT"
    caught = {m.item_id for m in cold.matches}
    fp = sum(1 for i in caught if i.startswith("clean"))
    planted = sum(i.startswith("planted") for i in caught)
    print(f"{'':<40} {'cold s':>8} {'warm s':>8} {'ratio':>7}")
    print(
        f"{'whole level (load, refs, instances)':<40} {t_cold:8.1f} {t_warm:8.1f} "
        f"{t_cold / t_warm:6.1f}x"
    )
    ref_part = "reference vectors" + (" + fit" if emb.needs_fit else "")
    print(f"{ref_part:<40} {t_rcold:8.2f} {t_rwarm:8.2f} {t_rcold / t_rwarm:6.0f}x")
    print(
        f"cache entry {size:.1f} MiB; warm matches {same} as cold; "
        f"{len(items) / t_warm:,.0f} instr/s warm; planted caught {planted}, false positives {fp}"
    )


def report(
    items: list[Item],
    refs: list[Reference],
    matches: list[Any],
    base_pairs: set[tuple[str, int]],
    base_items: list[Item],
) -> None:
    decided = first_match(matches)
    clean = [it for it in items if it.id.startswith("clean")]
    planted = [it for it in items if it.id.startswith("planted")]
    fp = [i for i in decided if i.startswith("clean")]
    for kind in ("verbatim", "renamed", "reformatted"):
        group = [it.id for it in planted if f"-{kind}-" in it.id]
        hit = sum(1 for i in group if i in decided)
        levels = sorted({decided[i].level for i in group if i in decided})
        print(f"planted {kind:<12} caught {hit}/{len(group)} (levels {', '.join(levels)})")
    print(f"false-positive rate on {len(clean):,} clean instructions: {len(fp) / len(clean):.5f}")
    index = {(r.benchmark, r.problem_id): i for i, r in enumerate(refs)}
    ids = {it.id for it in base_items}
    ours = {
        (m.item_id, index[(m.benchmark, m.problem_id)])
        for m in matches
        if m.level == "exact" and m.item_id in ids
    }
    same = "the same" if ours == base_pairs else "DIFFERENT"
    print(
        f"exact level vs plain scan: {len(ours):,} vs {len(base_pairs):,} pairs, {same} "
        f"(missed {len(base_pairs - ours)}, extra {len(ours - base_pairs)})"
    )


if __name__ == "__main__":
    main()
