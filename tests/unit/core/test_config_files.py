"""The shipped experiment configs load with every stage's Config (no unknown or mistyped key)."""

from __future__ import annotations

from pathlib import Path

import pytest

from wavecoder.pipeline import STAGES, load_run_config

CONFIGS = sorted((Path(__file__).resolve().parents[3] / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_config_loads(path: Path) -> None:
    rc = load_run_config(path)
    assert set(rc.sections) == {s.name for s in STAGES}
    assert rc.seed == 42


def test_paper_config_keeps_the_paper_settings() -> None:
    rc = load_run_config(Path(CONFIGS[0]).parent / "paper.yaml")
    filt, emb = rc.sections["filter"], rc.sections["embed"]
    assert (filt.min_chars, filt.max_chars) == (50, 800)
    assert emb.embedder.model == "sentence-transformers/all-roberta-large-v1"
    assert rc.sections["dedup"].threshold == 0.85
