"""The demo config on a few stdlib packages, and what its corpus stages wrote, for comparing runs
(sharded against unsharded, Ray against local)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from wavecoder import pipeline as pl
from wavecoder.store import RunStore

REPO = Path(__file__).resolve().parents[3]
# A few stdlib packages, a small projection and coreset keep the demo to a second or two a run.
SMALL = (
    'ingest.exclude=["/*", "!/email/", "!/json/", "!/logging/"]',
    "embed.embedder.dim=16",
    "embed.embedder.n_features=4096",
    "select.budget=20",
)
STAGES = ("ingest", "filter", "dedup", "embed", "select")


def demo_config(run_dir: Path) -> pl.RunConfig:
    return pl.load_run_config(REPO / "configs" / "tiny.yaml", [*SMALL, f"run_dir={run_dir}"])


def demo_outputs(run_dir: Path, stages: tuple[str, ...] = STAGES) -> dict[str, object]:
    """Each stage's records and rejected records (sorted: shard parts come in any split) and
    the vectors by id; select's picks keep their order (select runs unsharded)."""
    store = RunStore(run_dir)
    out: dict[str, object] = {}
    for stage in stages:
        sd = store.stage(stage)
        for name in ("records", "rejected"):
            rows = [json.dumps(obj, sort_keys=True) for p in sd.parts(name) for obj in rows_of(p)]
            out[f"{stage}.{name}"] = sorted(rows)
    if "embed" in stages:
        from wavecoder.corpus.embed import load_embeddings

        ids, vecs = load_embeddings(store.stage("embed"))
        order = np.argsort(ids)
        out["embed.vectors"] = (sorted(ids), np.asarray(vecs)[order].round(6).tolist())
    if "select" in stages:
        out["select.picks"] = (run_dir / "select" / "records.jsonl").read_bytes()
    return out


def rows_of(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
