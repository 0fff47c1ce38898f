from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.core.toy_stages import TOY_STAGES, Number
from wavecoder.config import ConfigError
from wavecoder.pipeline import (
    PipelineError,
    StaleStageError,
    build_run_config,
    run_pipeline,
)
from wavecoder.store import RunStore, Shard


def _rc(tmp_path: Path, **sections: dict) -> object:
    data = {"run_dir": str(tmp_path / "run"), "seed": 1, **sections}
    return build_run_config(data, TOY_STAGES)


def _squares(tmp_path: Path) -> list[int]:
    sd = RunStore(tmp_path / "run").stage("square")
    return sorted(r.value for r in sd.read_records("records", Number))


def test_runs_in_order_then_skips_finished_stages(tmp_path: Path) -> None:
    rc = _rc(tmp_path, count={"n": 5})
    first = run_pipeline(rc, stages=TOY_STAGES)  # type: ignore[arg-type]
    assert first["count"] == {"in": 5, "out": 5, "rejected.multiple": 0}
    assert _squares(tmp_path) == [0, 1, 4, 9, 16]
    again = run_pipeline(rc, stages=TOY_STAGES)  # type: ignore[arg-type]
    assert again == {"count": None, "square": None}
    assert (tmp_path / "run" / "config.yaml").read_text().startswith("run_dir:")


def test_changed_setting_stops_with_the_key_then_force_reruns_downstream(tmp_path: Path) -> None:
    run_pipeline(_rc(tmp_path, count={"n": 4}), stages=TOY_STAGES)  # type: ignore[arg-type]
    changed = _rc(tmp_path, count={"n": 4, "drop_multiples_of": 2})
    with pytest.raises(StaleStageError, match=r"count.drop_multiples_of.*--force count"):
        run_pipeline(changed, stages=TOY_STAGES)  # type: ignore[arg-type]
    out = run_pipeline(changed, force=["count"], stages=TOY_STAGES)  # type: ignore[arg-type]
    assert out["count"]["rejected.multiple"] == 2  # type: ignore[index]
    assert out["square"] is not None  # downstream reran too
    assert _squares(tmp_path) == [1, 9]


def test_unknown_section_and_key_are_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown config key.*cuont"):
        _rc(tmp_path, cuont={})
    with pytest.raises(ConfigError, match="count.m"):
        _rc(tmp_path, count={"m": 3})


def test_sharded_runs_then_unsharded_downstream(tmp_path: Path) -> None:
    rc = _rc(tmp_path, count={"n": 30})
    for i in (0, 2):
        run_pipeline(rc, shard=Shard(i, 3), stop="count", stages=TOY_STAGES)  # type: ignore[arg-type]
    with pytest.raises(PipelineError, match=r"not finished \(shards \[1\] missing\)"):
        run_pipeline(rc, start="square", stages=TOY_STAGES)  # type: ignore[arg-type]
    run_pipeline(rc, shard=Shard(1, 3), stop="count", stages=TOY_STAGES)  # type: ignore[arg-type]
    run_pipeline(rc, start="square", stages=TOY_STAGES)  # type: ignore[arg-type]
    assert _squares(tmp_path) == sorted(i * i for i in range(30))


def test_a_shard_never_joins_a_folder_of_another_layout(tmp_path: Path) -> None:
    rc = _rc(tmp_path, count={"n": 12})
    run_pipeline(rc, shard=Shard(0, 2), stop="count", stages=TOY_STAGES)  # type: ignore[arg-type]
    with pytest.raises(PipelineError, match=r"parts of 2 shards, not 3: run --shard i/2"):
        run_pipeline(rc, shard=Shard(1, 3), stop="count", stages=TOY_STAGES)  # type: ignore[arg-type]
    # forcing with another count starts the folder over rather than mixing counts
    run_pipeline(rc, shard=Shard(1, 3), stop="count", force=["count"], stages=TOY_STAGES)  # type: ignore[arg-type]
    assert RunStore(tmp_path / "run").stage("count").completion() == ("partial", [0, 2])


def test_a_forced_shard_with_new_settings_clears_the_other_shards(tmp_path: Path) -> None:
    rc = _rc(tmp_path, count={"n": 12})
    for i in range(2):
        run_pipeline(rc, shard=Shard(i, 2), stop="count", stages=TOY_STAGES)  # type: ignore[arg-type]
    changed = _rc(tmp_path, count={"n": 12, "drop_multiples_of": 3})
    run_pipeline(changed, shard=Shard(0, 2), stop="count", force=["count"], stages=TOY_STAGES)  # type: ignore[arg-type]
    # shard 1's parts were made with the old settings: gone, not passed off as current
    assert RunStore(tmp_path / "run").stage("count").completion() == ("partial", [1])


def test_a_sharded_run_reuses_a_finished_unsharded_stage(tmp_path: Path) -> None:
    rc = _rc(tmp_path, count={"n": 12})
    run_pipeline(rc, stop="count", stages=TOY_STAGES)  # type: ignore[arg-type]
    out = run_pipeline(rc, shard=Shard(0, 2), stages=TOY_STAGES)  # type: ignore[arg-type]
    assert out["count"] is None  # done as a whole: no shard files beside the plain ones
    run_pipeline(rc, shard=Shard(1, 2), stages=TOY_STAGES)  # type: ignore[arg-type]
    run_pipeline(rc, stages=TOY_STAGES)  # type: ignore[arg-type]
    assert _squares(tmp_path) == sorted(i * i for i in range(12))


def test_status_of_a_sharded_stage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from wavecoder import pipeline
    from wavecoder.show import status_rows

    monkeypatch.setattr(pipeline, "STAGES", TOY_STAGES)
    rc = _rc(tmp_path, count={"n": 12})
    run_pipeline(rc, shard=Shard(0, 2), stop="count", stages=TOY_STAGES)  # type: ignore[arg-type]
    rows = {r[0]: r for r in status_rows(tmp_path / "run")}
    assert rows["count"][1] == "partial (shards 1 missing)"
    run_pipeline(rc, shard=Shard(1, 2), stop="count", stages=TOY_STAGES)  # type: ignore[arg-type]
    row = {r[0]: r for r in status_rows(tmp_path / "run")}["count"]
    assert row[1] == "done" and row[2] == "12" and row[5] != "-" and row[6] != "-"
