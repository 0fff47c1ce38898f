"""Ingest of CodeSearchNet files in shards: the shards' records, rejects and counts add up to
the unsharded run's exactly (no reject or count repeated in every shard)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from tests.unit.corpus.stage_helpers import records, rejected, run_stage
from wavecoder.corpus import ingest
from wavecoder.pipeline import sum_stats
from wavecoder.store import Shard, StageDir


def _row(i: int, *, split: str = "train") -> dict[str, str]:
    return {
        "repo": f"org/r{i % 3}",
        "path": f"pkg/m{i}.py",
        "func_name": f"f{i}",
        "language": "python",
        "code": f"def f{i}(x):\n    return x + {i}\n",
        "docstring": "",
        "url": f"https://github.com/org/r/blob/main/m{i}.py#L{i}-L{i + 1}",
        "partition": split,
    }


def _corpus(path: Path) -> Path:
    lines = [json.dumps(_row(i)) for i in range(40)]
    lines += [json.dumps(_row(i, split="test")) for i in range(40, 46)]
    lines += ["{not json", json.dumps({"code": 3, "language": "python"}), json.dumps(_row(7))]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_sharded_codesearchnet_ingest_adds_up_to_the_unsharded_run(tmp_path: Path) -> None:
    src = _corpus(tmp_path / "python_train_0.jsonl")
    cfg = ingest.Config(sources=("csn:" + str(src),), splits=("train",))
    whole = run_stage(ingest, tmp_path / "whole", cfg=cfg)
    parts = []
    for index in range(3):
        out = StageDir(tmp_path / "sharded", shard=Shard(index, 3))
        out.path.mkdir(parents=True, exist_ok=True)
        from wavecoder.pipeline import StageContext

        ctx = StageContext(name="ingest", cfg=cfg, out=out, shard=out.shard)
        parts.append(ingest.run(ctx))
    assert sum_stats(parts) == whole
    assert whole["rejected.malformed_row"] == whole["rejected.malformed_json"] == 1
    assert whole["skipped.split.test"] == 6 and whole["rejected.duplicate_id"] == 1
    sharded = tmp_path / "sharded"
    assert sorted(c.id for c in records(sharded)) == sorted(
        c.id for c in records(tmp_path / "whole")
    )
    assert Counter(r.to_dict()["id"] for r in rejected(sharded)) == Counter(
        r.to_dict()["id"] for r in rejected(tmp_path / "whole")
    )
