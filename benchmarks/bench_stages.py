"""Seconds per unit of every corpus stage, through `wavecoder run`, for the cost model in
docs/scale.md.

1. The embedded default corpus (configs/tiny.yaml, `ingest.sources=[stdlib]`): `ingest` of
   source trees (tree-sitter, one worker per core), per file parsed and per function kept.
2. A CodeSearchNet-format `.jsonl.gz` of `--n` functions (the paper's input format), made from
   those stdlib functions: copy c of a function has every letter rotated by c places (digits by
   c mod 10), so lengths, line structure and token counts stay those of real code while no two
   copies share a token 5-gram (dedup keeps them apart; at most 26 copies). It goes through
   `wavecoder run` with `stop_after: select` (ingest, filter 50-800 chars and the blacklist, MinHash
   dedup at 0.85, the hashing embedder at `--dim`, exact k-center greedy with budget `--k`).

Every figure comes from the stages' own `done.json` (`seconds`, the stage's wall clock without
interpreter start-up) and their record counts: seconds per input record and records/s, and for
`select` seconds per (N x k) distance and the bytes of the matrix streamed per second (N x d x 4
per step). With `--minilm M`, also the MiniLM embedder (6 layers, 384-d, on the CPU, bundled
offline) on M of the snippets, model load timed apart. The machine the numbers come from is
printed; on a shared machine they are noisy (rerun with `--repeat`; the best run is printed).

    python benchmarks/bench_stages.py                    # N=100,000, k=1,000, dim 256
    python benchmarks/bench_stages.py --n 20000 --k 200 --minilm 200 --json out.json
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CORPUS_STAGES = ("ingest", "filter", "dedup", "embed", "select")


def wavecoder(*args: str) -> None:
    """The installed executable if it sits beside this interpreter, else `-m wavecoder`."""
    exe = Path(sys.executable).with_name("wavecoder")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "wavecoder"]
    path = os.pathsep.join(p for p in (str(ROOT / "src"), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "PYTHONPATH": path}
    subprocess.run([*cmd, *args, "-q"], check=True, env=env, cwd=ROOT)


def done(stage_dir: Path) -> dict[str, Any]:
    return dict(json.loads((stage_dir / "done.json").read_text()))


def rotation(c: int) -> dict[int, str]:
    low, up, dig = string.ascii_lowercase, string.ascii_uppercase, string.digits
    shifted = low[c:] + low[:c] + up[c:] + up[:c] + dig[c % 10 :] + dig[: c % 10]
    return str.maketrans(low + up + dig, shifted)


def write_codesearchnet(records: Path, n: int, out: Path) -> int:
    """`n` CodeSearchNet JSONL rows from the stdlib functions in `records`; returns the copies."""
    base = [json.loads(line) for line in records.read_text().splitlines() if line.strip()]
    copies = -(-n // len(base))
    if copies > 26:
        raise SystemExit(f"--n {n}: at most {26 * len(base)} (26 rotated copies of the stdlib)")
    with gzip.open(out, "wt", encoding="utf-8") as fh:
        for i in range(n):
            c, row = divmod(i, len(base))
            rec, table = base[row], rotation(c)
            path = f"{rec['path']}.{c}"
            span = rec["span"] or [1, 1]
            fh.write(json.dumps({
                "repo": rec["repo"], "path": path, "func_name": rec["func_name"].translate(table),
                "original_string": rec["code"].translate(table), "language": rec["language"],
                "code": rec["code"].translate(table), "code_tokens": [],
                "docstring": rec["docstring"].translate(table), "docstring_tokens": [],
                "url": f"https://example.org/{path}#L{span[0]}-L{span[1]}", "partition": "train",
            }) + "\n")  # fmt: skip
    return copies


def stdlib_ingest(tmp: Path) -> dict[str, Any]:
    run_dir = tmp / "stdlib"
    wavecoder("run", "configs/tiny.yaml", f"run_dir={run_dir}", "stop_after=ingest")
    return done(run_dir / "ingest")


def corpus_run(tmp: Path, source: Path, args: argparse.Namespace, tag: str) -> dict[str, Any]:
    run_dir = tmp / f"csn-{tag}"
    config = tmp / f"csn-{tag}.yaml"
    config.write_text(
        f"run_dir: {run_dir}\nseed: 42\nstop_after: select\n"
        f"ingest: {{sources: ['csn:{source}']}}\nfilter: {{min_chars: 50, max_chars: 800}}\n"
        f"dedup: {{threshold: 0.85}}\nembed: {{embedder: {{backend: hashing, dim: {args.dim}}}}}\n"
        f"select: {{budget: {args.k}, metric: euclidean}}\n"
    )
    wavecoder("run", str(config))
    return {stage: done(run_dir / stage) for stage in CORPUS_STAGES} | {"run_dir": str(run_dir)}


def ingest_shard(tmp: Path, source: Path, count: int) -> dict[str, Any]:
    """`wavecoder ingest --shard 0/count` on the same file: what one of `count` shards costs."""
    out = tmp / f"ingest-shard-of-{count}"
    wavecoder("ingest", "-i", f"csn:{source}", "-o", str(out), "--shard", f"0/{count}")
    return dict(json.loads((out / f"done.shard-00000-of-{count:05d}.json").read_text()))


def embedder_rates(run_dir: Path, m: int, dim: int) -> dict[str, dict[str, float]]:
    """In process: the hashing embedder's fit and encode apart; MiniLM on `m` snippets."""
    sys.path.insert(0, str(ROOT / "src"))
    from wavecoder.corpus.embedders import EmbedderConfig, load_embedder

    lines = (run_dir / "dedup" / "records.jsonl").read_text().splitlines()
    texts = [json.loads(line)["code"] for line in lines]
    out: dict[str, dict[str, float]] = {}
    cfg = EmbedderConfig(backend="hashing", dim=dim)
    emb = load_embedder(cfg)
    start = time.perf_counter()
    emb.fit(texts[: cfg.fit_sample])
    fitted = time.perf_counter()
    emb.encode(texts)
    out["hashing"] = {"snippets": len(texts), "fit_on": min(len(texts), cfg.fit_sample),
                      "fit_s": fitted - start, "seconds": time.perf_counter() - fitted}  # fmt: skip
    if m:
        start = time.perf_counter()
        emb = load_embedder(EmbedderConfig(backend="minilm", device="cpu"))
        loaded = time.perf_counter()
        emb.encode(texts[:m])
        out["minilm"] = {"snippets": len(texts[:m]), "load_s": loaded - start,
                         "seconds": time.perf_counter() - loaded}  # fmt: skip
    return out


def table(stdlib: dict[str, Any], runs: dict[str, Any], args: argparse.Namespace) -> list[str]:
    rows = [("stage", "unit", "units", "seconds", "ms/unit", "units/s")]

    def add(stage: str, unit: str, units: int, seconds: float) -> None:
        rows.append((stage, unit, f"{units:,}", f"{seconds:.2f}", f"{1e3 * seconds / units:.4f}",
                     f"{units / seconds:,.0f}"))  # fmt: skip

    s = stdlib["stats"]
    add("ingest (tree-sitter)", "file parsed", s["files.parsed"], stdlib["seconds"])
    add("ingest (tree-sitter)", "function kept", s["out"], stdlib["seconds"])
    for stage in CORPUS_STAGES[:-1]:
        info = runs[stage]
        add(f"{stage} (csn)" if stage == "ingest" else stage, "input record", info["stats"]["in"],
            info["seconds"])  # fmt: skip
    sel = runs["select"]
    n, k = sel["stats"]["in"], sel["stats"]["out"]
    add("select (k-center)", "N x k distance", n * k, sel["seconds"])
    lines = ["  ".join(f"{c:>{w}}" for c, w in zip(r, (20, 14, 12, 8, 9, 12), strict=True))
             for r in rows]  # fmt: skip
    gbs = n * args.dim * 4 * k / sel["seconds"] / 1e9
    lines.append(f"select: N={n:,} d={args.dim} k={k:,}: {gbs:.2f} GB/s of the N x d float32 matrix"
                 " streamed (one read per step; load, plot, writes included)")  # fmt: skip
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=100_000, help="CodeSearchNet rows to ingest")
    ap.add_argument("--k", type=int, default=1000, help="select budget")
    ap.add_argument("--dim", type=int, default=256, help="hashing embedder dimension")
    ap.add_argument("--minilm", type=int, default=0, help="also embed this many with MiniLM")
    ap.add_argument("--ingest-shards", type=int, default=8, help="also time shard 0 of this many")
    ap.add_argument("--repeat", type=int, default=1, help="runs of the corpus stages; best kept")
    ap.add_argument("--json", type=Path, help="also write every figure here")
    args = ap.parse_args()
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())  # fmt: skip
    print(f"machine: {os.cpu_count()} cores, {cpu}, load {os.getloadavg()[0]:.1f}, "
          f"python {platform.python_version()}")  # fmt: skip
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        stdlib = stdlib_ingest(tmp)
        source = tmp / "codesearchnet" / "python_train_0.jsonl.gz"
        source.parent.mkdir()
        copies = write_codesearchnet(tmp / "stdlib" / "ingest" / "records.jsonl", args.n, source)
        mb = source.stat().st_size / 1e6
        print(f"CodeSearchNet JSONL: {args.n:,} rows ({copies} rotated copies of "
              f"{stdlib['stats']['out']:,} stdlib functions), {mb:.1f} MB gz")  # fmt: skip
        runs = [corpus_run(tmp, source, args, str(i)) for i in range(args.repeat)]
        best = {s: min((r[s] for r in runs), key=lambda d: d["seconds"]) for s in CORPUS_STAGES}
        for line in table(stdlib, best, args):
            print(line)
        result: dict[str, Any] = {"stdlib_ingest": stdlib, "corpus": best, "n": args.n}
        if args.ingest_shards > 1:
            part = ingest_shard(tmp, source, args.ingest_shards)
            result["ingest_shard"] = part
            whole = best["ingest"]["seconds"]
            print(f"ingest (csn) shard 0/{args.ingest_shards}: {part['seconds']:.2f} s for "
                  f"{part['stats']['out']:,} of {args.n:,} rows kept = "
                  f"{part['seconds'] / whole:.2f} of the unsharded {whole:.2f} s (every shard "
                  "parses every row and keeps the ids it owns)")  # fmt: skip
        rates = embedder_rates(Path(runs[0]["run_dir"]), args.minilm, args.dim)
        result["embedders"] = rates
        h = rates["hashing"]
        print(f"embed (hashing, in process): fit on {h['fit_on']:,} in {h['fit_s']:.1f} s, "
              f"encode {h['snippets']:,} in {h['seconds']:.1f} s = "
              f"{1e3 * h['seconds'] / h['snippets']:.3f} ms each")  # fmt: skip
        if "minilm" in rates:
            m = rates["minilm"]
            print(f"embed (MiniLM-L6, cpu): {m['snippets']} snippets in {m['seconds']:.1f} s = "
                  f"{m['snippets'] / m['seconds']:.1f}/s ({1e3 * m['seconds'] / m['snippets']:.0f} "
                  f"ms each); model load {m['load_s']:.1f} s")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
