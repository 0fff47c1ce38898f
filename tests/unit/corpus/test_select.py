"""Stage `select`: Selected records in selection order (the picked rows, not the first rows),
budgets as counts or fractions, per-language budgets, rejected records, the radius plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from wavecoder.corpus import select
from wavecoder.corpus.coreset import first_center, kcenter_greedy
from wavecoder.pipeline import StageContext
from wavecoder.records import Code, Selected
from wavecoder.store import StageDir


def make_inputs(
    tmp: Path, vecs: np.ndarray, langs: list[str], codes: list[Code] | None = None
) -> tuple[list[Code], dict[str, StageDir]]:
    codes = codes or [
        Code.new(language=lang, source="test", path=f"f{i}", code=f"x = {i}")
        for i, lang in enumerate(langs)
    ]
    dedup, emb = StageDir(tmp / "dedup"), StageDir(tmp / "embed")
    dedup.write_records("records", codes)
    emb.path.mkdir(parents=True)
    np.save(emb.path / "embeddings.npy", vecs.astype(np.float32))
    (emb.path / "ids.txt").write_text("".join(c.id + "\n" for c in codes))
    return codes, {"dedup": dedup, "embed": emb}


def run_select(
    tmp: Path,
    inputs: dict[str, StageDir],
    cfg: select.Config,
    *,
    seed: int = 42,
    out: str = "select",
) -> tuple[dict[str, Any], list[Selected], StageDir]:
    sd = StageDir(tmp / out)
    sd.path.mkdir(parents=True, exist_ok=True)
    ctx = StageContext(name="select", cfg=cfg, out=sd, inputs=inputs, seed=seed)
    stats = select.run(ctx)
    return stats, list(sd.read_records("records", Selected)), sd


def test_selects_the_picked_rows_in_order(tmp_path: Path) -> None:
    # The first 30 rows are near-copies of one point: writing "the first k rows" (WaveCoder's
    # script bug) would select almost nothing diverse.
    rng = np.random.default_rng(0)
    vecs = np.concatenate([rng.normal(0, 0.01, (30, 3)), rng.normal(0, 5, (30, 3))])
    codes, inputs = make_inputs(tmp_path, vecs, ["python"] * 60)
    stats, picked, sd = run_select(tmp_path, inputs, select.Config(budget=10), seed=3)
    by_id = sorted(range(60), key=lambda i: codes[i].id)
    first = by_id[first_center(60, 3)]  # the seed's draw, in id order
    expected = kcenter_greedy(vecs, 10, first=first)
    assert [p.code_id for p in picked] == [codes[i].id for i in expected.indices]
    assert [p.rank for p in picked] == list(range(10))
    assert picked[0].code_id == codes[first].id
    np.testing.assert_allclose([p.radius for p in picked], expected.radii, rtol=1e-6)
    assert sum(codes.index(next(c for c in codes if c.id == p.code_id)) < 30 for p in picked) <= 2
    assert stats["in"] == 60 and stats["out"] == 10 and stats["rejected.not_selected"] == 50
    rejected = list(sd.read_rejected())
    assert len(rejected) == 50 and {r.reason for r in rejected} == {"not_selected"}
    assert {r.id for r in rejected} | {p.code_id for p in picked} == {c.id for c in codes}
    assert all("nearest pick" in r.detail for r in rejected)
    assert (sd.path / "radius.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sd.read_json("selection")["budgets"] == {"all": 10}


def test_fraction_budget_and_seed(tmp_path: Path) -> None:
    vecs = np.random.default_rng(1).standard_normal((40, 4))
    _, inputs = make_inputs(tmp_path, vecs, ["go"] * 40)
    _, a, _ = run_select(tmp_path, inputs, select.Config(budget=0.25, plot=False), seed=1)
    _, b, _ = run_select(
        tmp_path, inputs, select.Config(budget=0.25, plot=False), seed=2, out="other"
    )
    assert len(a) == 10 and len(b) == 10
    assert [p.code_id for p in a] != [p.code_id for p in b]


def test_per_language_budgets_keep_the_mix(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    langs = ["python"] * 20 + ["go"] * 10 + ["java"] * 10
    # java sits far away, so a global selection would over-pick it; per language, each
    # language keeps its share.
    vecs = rng.standard_normal((40, 3)) + np.where(np.array(langs)[:, None] == "java", 50.0, 0.0)
    codes, inputs = make_inputs(tmp_path, vecs, langs)
    lang_of = {c.id: c.language for c in codes}
    stats, picked, _sd = run_select(tmp_path, inputs, select.Config(budget=8, per_language=True))
    counts = {g: sum(lang_of[p.code_id] == g for p in picked) for g in ("python", "go", "java")}
    assert counts == {"python": 4, "go": 2, "java": 2}
    assert stats["out.python"] == 4
    radii = [p.radius for p in picked]
    assert radii == sorted(radii, reverse=True)  # merged by decreasing radius
    _, picked, _ = run_select(
        tmp_path, inputs, select.Config(budget=8, language_budgets={"golang": 5}), out="override"
    )
    counts = {g: sum(lang_of[p.code_id] == g for p in picked) for g in ("python", "go", "java")}
    assert counts == {"go": 5, "python": 2, "java": 1}


def test_torch_backend_through_the_stage(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    vecs = np.random.default_rng(3).standard_normal((80, 6))
    _, inputs = make_inputs(tmp_path, vecs, ["ruby"] * 80)
    _, a, _ = run_select(tmp_path, inputs, select.Config(budget=20, plot=False))
    _, b, _ = run_select(
        tmp_path,
        inputs,
        select.Config(budget=20, backend="torch", device="cpu", plot=False),
        out="torch",
    )
    assert [p.code_id for p in a] == [p.code_id for p in b]


def test_resolve_budget() -> None:
    assert select.resolve_budget(0.1, 1000) == 100
    assert select.resolve_budget(0.0001, 10) == 1  # a fraction of a non-empty set picks one
    assert select.resolve_budget(5000, 100) == 100
    assert select.resolve_budget(0.5, 0) == 0
    with pytest.raises(ValueError, match="whole"):
        select.resolve_budget(2.5, 100)
    with pytest.raises(ValueError, match="positive"):
        select.resolve_budget(0, 100)


def test_split_budget_largest_remainder() -> None:
    shares = select.split_budget(10, {"a": 5, "b": 3, "c": 3})
    assert sum(shares.values()) == 10 and shares == {"a": 4, "b": 3, "c": 3}
    assert select.split_budget(3, {"x": 1, "y": 1, "z": 1}) == {"x": 1, "y": 1, "z": 1}
    assert select.split_budget(0, {"x": 4}) == {"x": 0}


def test_bad_language_budgets() -> None:
    counts = {"python": 10, "go": 5}
    with pytest.raises(ValueError, match="no java snippets"):
        select.plan_budgets(select.Config(budget=4, language_budgets={"java": 2}), counts)
    with pytest.raises(ValueError, match="more than the total"):
        select.plan_budgets(select.Config(budget=4, language_budgets={"py": 6}), counts)


def test_language_budget_applies_with_a_single_language(tmp_path: Path) -> None:
    vecs = np.random.default_rng(4).standard_normal((30, 3))
    _, inputs = make_inputs(tmp_path, vecs, ["python"] * 30)
    cfg = select.Config(budget=10, language_budgets={"py": 3}, plot=False)
    _, picked, _ = run_select(tmp_path, inputs, cfg)
    assert len(picked) == 3


def test_the_coreset_does_not_depend_on_the_row_order(tmp_path: Path) -> None:
    """Sharded embed parts arrive in shard order: the picks must not change with it."""
    rng = np.random.default_rng(1)
    vecs = rng.normal(0, 1, (40, 4))
    codes, inputs = make_inputs(tmp_path / "a", vecs, ["python"] * 40)
    _, picked, _ = run_select(tmp_path / "a", inputs, select.Config(budget=8), seed=5)
    order = rng.permutation(40)
    shuffled = [codes[i] for i in order]
    _, inputs2 = make_inputs(tmp_path / "b", vecs[order], ["python"] * 40, codes=shuffled)
    _, picked2, _ = run_select(tmp_path / "b", inputs2, select.Config(budget=8), seed=5)
    assert picked2 == picked
