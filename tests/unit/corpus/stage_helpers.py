"""Run a corpus stage on folders the test owns (no pipeline, no CLI)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from wavecoder.pipeline import StageContext
from wavecoder.records import Code, Rejected
from wavecoder.store import Shard, StageDir


def run_stage(
    module: Any,
    out: Path,
    *,
    cfg: Any = None,
    paths: list[Path] | None = None,
    inputs: dict[str, Path] | None = None,
    shard: Shard | None = None,
) -> dict[str, Any]:
    ctx = StageContext(
        name=module.__name__.rsplit(".", 1)[-1],
        cfg=cfg or module.Config(),
        out=StageDir(out),
        paths=list(paths or []),
        shard=shard,
        inputs={k: StageDir(v) for k, v in (inputs or {}).items()},
    )
    out.mkdir(parents=True, exist_ok=True)
    stats: dict[str, Any] = module.run(ctx)
    return stats


def records(folder: Path) -> list[Code]:
    return list(StageDir(folder).read_records("records", Code))


def rejected(folder: Path) -> list[Rejected]:
    return list(StageDir(folder).read_rejected())


def write_codes(folder: Path, codes: list[Code]) -> Path:
    StageDir(folder).write_records("records", codes)
    return folder


def jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path
