"""Two toy stages for the runner's tests: `count` writes numbers atomically, `square` appends one
line per number (the shape of an LLM stage) and can be slowed down to be killed mid-way."""

from __future__ import annotations

import time
from dataclasses import dataclass

from wavecoder.pipeline import StageContext, StageSpec
from wavecoder.records import Record, Rejected

VERSION = 1
INPUTS: tuple[str, ...] = ()


@dataclass(frozen=True)
class Number(Record):
    id: str
    value: int


@dataclass(frozen=True)
class Config:
    n: int = 10
    drop_multiples_of: int = 0


def run(ctx: StageContext) -> dict[str, int]:
    keep, drop = [], []
    for i in range(ctx.cfg.n):
        rec = Number(id=f"n{i}", value=i)
        if ctx.shard and not ctx.shard.owns(rec.id):
            continue
        k = ctx.cfg.drop_multiples_of
        if k and i % k == 0:
            drop.append(Rejected(id=rec.id, stage=ctx.name, reason="multiple", detail=str(k)))
        else:
            keep.append(rec)
    ctx.out.write_records("records", keep)
    ctx.out.write_rejected(drop)
    return {"in": len(keep) + len(drop), "out": len(keep), "rejected.multiple": len(drop)}


class square:  # a namespace standing in for a second stage module
    VERSION = 1
    INPUTS = ("count",)

    @dataclass(frozen=True)
    class Config:
        delay_s: float = 0.0

    @staticmethod
    def run(ctx: StageContext) -> dict[str, int]:
        log = ctx.out.append_log("records")
        done = log.done_keys()
        new = 0
        with log:
            for rec in ctx.inputs["count"].read_records("records", Number):
                if rec.id in done:
                    continue
                time.sleep(ctx.cfg.delay_s)
                log.append(Number(id=rec.id, value=rec.value * rec.value))
                new += 1
        return {"out": ctx.out.count_records("records"), "new": new}


TOY_STAGES = (
    StageSpec("count", "tests.unit.core.toy_stages", "numbers"),
    StageSpec("square", "tests.unit.core.toy_stages:square", "squares"),
)
