"""``wavecoder decontaminate``: benchmark decontamination of any instruction file.

    wavecoder decontaminate -i DATA... -o OUTDIR [--benchmarks NAME...] [--reference FILE]
                            [--data DIR] [--action drop|flag] [--levels L...] [--report-only]
                            [--no-cache] [key=value ...]

DATA is what `wavecoder train` reads (Alpaca, messages or prompt/completion records in .jsonl,
.json or .parquet; `wavecoder.train.data`). OUTDIR gets `data.jsonl` (the kept records, in their
own format), `rejected.jsonl`, `matches.jsonl`, `report.json` and, with the embedding level,
`leakage.json` + `leakage.png`; `--report-only` writes only the leakage report. The reference
embeddings are cached between runs (`decontaminate_cache`; `--no-cache` bypasses). The same code
runs as the pipeline stage (`wavecoder.instruct.decontaminate`). Errors the user can fix print
one line and exit 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from wavecoder.config import ConfigError, apply_overrides, build, load_yaml, to_data
from wavecoder.instruct.decontaminate_core import LEVELS, Config, Item, find_matches
from wavecoder.instruct.decontaminate_refs import REFERENCE_SETS

EPILOG = f"""\
reference sets: {", ".join(REFERENCE_SETS)} (default: all)
levels: exact (normalised substring), ngram (identifier-normalised token n-grams), embedding
  (nearest reference by cosine; MiniLM by default, embedder.backend=hashing needs no model)
overrides: any field of the decontaminate section, e.g. ngram_threshold=0.8 ngram_n=13
  embedding_threshold=0.9 embedder.backend=sentence-transformers embedder.model=thenlper/gte-large

example:
  wavecoder decontaminate -i data.jsonl -o out/decon --data ../shared/data/benchmarks
  wavecoder decontaminate -i data.jsonl -o out/leak --benchmarks humaneval mbpp --report-only
"""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.description = (
        "Find instruction instances that copy a benchmark solution (exact, n-gram and "
        "embedding levels); drop or flag them; report the leakage per benchmark."
    )
    parser.epilog = EPILOG
    parser.add_argument("-i", "--input", nargs="+", required=True, metavar="DATA")
    parser.add_argument("-o", "--output", required=True, type=Path, metavar="OUTDIR")
    parser.add_argument("--benchmarks", nargs="+", metavar="NAME", help="reference sets")
    parser.add_argument(
        "--reference", action="append", default=[], metavar="FILE", help="a reference file"
    )
    parser.add_argument("--data", metavar="DIR", help="benchmark data folder")
    parser.add_argument("--action", choices=("drop", "flag"), help="default: drop")
    parser.add_argument("--levels", nargs="+", choices=LEVELS, metavar="LEVEL")
    parser.add_argument(
        "--report-only", action="store_true", help="write only leakage.json and leakage.png"
    )
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="embed the references again instead of reading them from the cache (and cache "
        "nothing); the cache is <cache dir>/decontaminate/embeddings",
    )
    parser.add_argument("--config", type=Path, help="take the decontaminate section of this YAML")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only the summary")
    parser.add_argument("overrides", nargs="*", metavar="key=value")


def resolve_config(args: argparse.Namespace) -> Config:
    data: dict[str, Any] = {}
    if args.config:
        data = load_yaml(args.config).get("decontaminate") or {}
    flags = {
        "benchmarks": args.benchmarks,
        "reference_files": args.reference or None,
        "data": args.data,
        "action": args.action,
        "levels": args.levels,
    }
    data.update({k: v for k, v in flags.items() if v is not None})
    if args.report_only:
        data["levels"] = ["embedding"]
    if args.no_cache:
        data["cache"] = False
    keyed = [f"decontaminate.{o}" for o in args.overrides]
    data = apply_overrides({"decontaminate": data}, keyed)["decontaminate"]
    try:
        return build(Config, data, where="decontaminate")
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


def record_items(records: Sequence[Any]) -> list[Item]:
    """An `Item` per training record: its whole text is scanned, its response embedded."""
    ids = [str(r.meta.get("id") or r.where) for r in records]
    if len(set(ids)) != len(ids):  # ids must name one record each: fall back to file:line
        ids = [r.where for r in records]
    items = []
    for rid, rec in zip(ids, records, strict=True):
        f = rec.fields
        if rec.format == "alpaca":
            parts, code = [f["instruction"], f["input"], f["output"]], f["output"]
        elif rec.format == "messages":
            parts, code = [m["content"] for m in f["messages"]], f["messages"][-1]["content"]
        else:
            parts, code = [f["prompt"], f["completion"]], f["completion"]
        items.append(Item(rid, "\n".join(p for p in parts if p), code))
    return items


def main(args: argparse.Namespace) -> int:
    from wavecoder.train.data import DataError, read_inputs

    try:
        cfg = resolve_config(args)
        records, sources = read_inputs(args.input)
        items = record_items(records)
        from wavecoder.instruct.decontaminate import references

        refs = references(cfg)
    except (ConfigError, DataError, FileNotFoundError, ValueError, KeyError) as exc:
        print(f"wavecoder decontaminate: error: {exc}", file=sys.stderr)
        return 2
    args.output.mkdir(parents=True, exist_ok=True)
    scan = find_matches(items, refs, cfg)
    if args.report_only:
        return _report_only(args.output, refs, items, scan)
    return _decontaminate(args, cfg, records, items, refs, scan, sources)


def _report_only(out: Path, refs: Any, items: list[Item], scan: Any) -> int:
    from wavecoder.instruct.decontaminate import write_leakage

    report = write_leakage(out, refs, items, scan)
    print(f"leakage ({report['embedder']}, {len(items)} instances):")
    for name, b in report["benchmarks"].items():
        print(f"  {name:<22} mean {b['mean']:.3f}  median {b['median']:.3f}  max {b['max']:.3f}")
    print(f"-> {out / 'leakage.json'}, {out / 'leakage.png'}")
    return 0


def _decontaminate(
    args: argparse.Namespace,
    cfg: Config,
    records: Sequence[Any],
    items: list[Item],
    refs: Any,
    scan: Any,
    sources: Any,
) -> int:
    from wavecoder.instruct.decontaminate import rejections, write_outputs
    from wavecoder.store import write_json_atomic, write_jsonl_atomic

    rejected = rejections(items, scan.matches, stage="decontaminate")
    dropped = {r.id for r in rejected} if cfg.action == "drop" else set()
    kept = [
        {**rec.fields, **rec.meta}
        for it, rec in zip(items, records, strict=True)
        if it.id not in dropped
    ]
    out: Path = args.output
    write_jsonl_atomic(out / "data.jsonl", kept)
    write_jsonl_atomic(out / "rejected.jsonl", (r.to_dict() for r in rejected if r.id in dropped))
    summary = write_outputs(out, cfg, items, refs, scan)
    write_json_atomic(out / "sources.json", [s.__dict__ for s in sources])
    texts = {it.id: it.text for it in items}
    if not args.quiet:
        for m in scan.matches:
            print(f"  {m.item_id}: {m.describe(texts[m.item_id])}")
    print(json.dumps({**summary, "kept": len(kept), "action": cfg.action}, indent=2))
    print(f"-> {out}  (settings: {json.dumps(to_data(cfg)['levels'])})")
    return 0


def run_cli(argv: list[str] | None = None) -> int:
    """Standalone entry (``python -m wavecoder.instruct.decontaminate_cli``)."""
    parser = argparse.ArgumentParser(prog="wavecoder decontaminate")
    configure(parser)
    return main(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(run_cli())
