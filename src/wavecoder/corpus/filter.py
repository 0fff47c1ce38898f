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

    def __post_init__(self) -> None:  # checked when the config loads, before any stage runs
        if self.min_chars < 0 or self.max_chars < 1:
            raise ValueError(f"need min_chars >= 0 and max_chars >= 1, got {self.min_chars}, "
                             f"{self.max_chars}")  # fmt: skip
        if self.min_chars > self.max_chars:
            raise ValueError(f"min_chars {self.min_chars} > max_chars {self.max_chars}: no code "
                             f"would pass the length window")  # fmt: skip
        if self.min_docstring_tokens < 0 or self.min_code_lines < 0:
            raise ValueError("min_docstring_tokens and min_code_lines must be >= 0")


def run(ctx: Any) -> dict[str, int | float | str]:
    cfg: Config = ctx.cfg
    spec = FilterSpec(**{k: getattr(cfg, k) for k in FilterSpec.__dataclass_fields__})
    rules = build_rules(spec)
    counts: Counter[str] = Counter()
    rejected: list[Rejected] = []

    def kept() -> Any:
        source = ctx.inputs["ingest"]
        total = source.count_records("records")
        # a sharded run reads only its shard's records (the store's contract); no filtering here
        for code in track(source.read_records("records", Code), total=total, desc="filter"):
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
