"""Stage `filter`: keep the raw code the paper keeps (length window, Code Alpaca blacklist) and,
optionally, CodeSearchNet's quality rules. The rules live in `wavecoder.corpus.filters`.

Reads `ingest`'s records, writes the survivors to `records` (unchanged, except the documented
docstring cut when `docstring_first_paragraph` is on) and every dropped record to `rejected`
with its reason and the field that failed; the stats count each reason.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from wavecoder.corpus.filters import (
    CODE_ALPACA_BLACKLIST,
    Field,
    FilterSpec,
    apply_rules,
    build_rules,
)
from wavecoder.progress import track
from wavecoder.records import Code, Rejected

VERSION = 1
INPUTS: tuple[str, ...] = ("ingest",)


@dataclass(frozen=True)
class Config:
    min_chars: int = 50  # the paper's length window, on `code`, in characters
    max_chars: int = 800
    blacklist: tuple[str, ...] = CODE_ALPACA_BLACKLIST  # whole words, case-insensitive
    blacklist_field: Field = "code"
    # CodeSearchNet's quality rules (off by default: the paper names only the two above)
    docstring_first_paragraph: bool = False
    min_docstring_tokens: int = 0  # CodeSearchNet: 3
    min_code_lines: int = 0  # CodeSearchNet: 3
    drop_tests: bool = False
    drop_special: bool = False  # constructors and standard special methods
    # SPDX ids to keep, e.g. [MIT, Apache-2.0, BSD-3-Clause]; empty: every licence. A record of
    # unknown licence is kept only when the list names NOASSERTION.
    licenses: tuple[str, ...] = ()


def run(ctx: Any) -> dict[str, int | float | str]:
    cfg: Config = ctx.cfg
    if cfg.min_chars > cfg.max_chars:
        raise ValueError(f"filter: min_chars {cfg.min_chars} > max_chars {cfg.max_chars}")
    spec = FilterSpec(**{k: getattr(cfg, k) for k in FilterSpec.__dataclass_fields__})
    rules = build_rules(spec)
    counts: Counter[str] = Counter()
    rejected: list[Rejected] = []

    def kept() -> Any:
        source = ctx.inputs["ingest"]
        total = source.count_records("records")
        for code in track(source.read_records("records", Code), total=total, desc="filter"):
            if ctx.shard is not None and not ctx.shard.owns(code.id):
                continue
            counts["in"] += 1
            code, rule, detail = apply_rules(
                code, rules, first_paragraph_only=cfg.docstring_first_paragraph
            )
            if rule is None:
                yield code
                continue
            counts[f"rejected.{rule.reason}"] += 1
            rejected.append(Rejected(code.id, "filter", rule.reason, detail))

    out = ctx.out.write_records("records", kept())
    ctx.out.write_rejected(rejected)
    return {"in": counts.pop("in", 0), "out": out, **dict(sorted(counts.items()))}
