"""The `train` stage of the pipeline: config checks at load time, preflight, a real tiny run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from tests.unit.train.conftest import alpaca_rows, write_jsonl
from wavecoder import cli
from wavecoder import pipeline as pl
from wavecoder.config import ConfigError
from wavecoder.train.stage import Config

TRAIN_ONLY = [s for s in pl.STAGES if s.name == "train"]


def test_settings_go_over_the_recipe_key_by_key() -> None:
    cfg = Config(recipe="paper-lora", settings={"lora": {"r": 16}, "learning_rate": 3e-4})
    tc = cfg.train_config()
    assert (tc.method, tc.lora.r, tc.lora.alpha, tc.learning_rate) == ("lora", 16, 16, 3e-4)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"settings": {"learning_rat": 1e-4}}, r"train\.settings\.learning_rat"),
        ({"settings": {"lora": {"rank": 4}}}, r"train\.settings\.lora\.rank"),
        ({"settings": {"max_length": 0}}, r"max_length must be positive"),
        ({"recipe": "no-such-recipe"}, r"unknown recipe 'no-such-recipe'"),
    ],
)
def test_bad_settings_fail_when_the_config_loads(section: dict, message: str) -> None:
    """A typo in train must stop `wavecoder run` before the corpus stages, not after them."""
    with pytest.raises(ConfigError, match=message):
        pl.build_run_config({"train": section})


def test_preflight_names_what_is_missing(tmp_path: Path) -> None:
    rc = pl.build_run_config({"run_dir": str(tmp_path / "run"), "train": {"base_model": "m"}})
    with pytest.raises(pl.PipelineError, match=r"reads 'export'.*train\.data=\[FILE\]"):
        pl.run_pipeline(rc, start="train", stop="train", quiet=True)
    rc = pl.build_run_config({"run_dir": str(tmp_path / "run"), "train": {"data": ["d.jsonl"]}})
    with pytest.raises(ConfigError, match=r"train\.base_model is empty"):
        pl.run_pipeline(rc, start="train", stop="train", quiet=True)
    assert not (tmp_path / "run" / "train").exists(), "nothing may start before preflight"


def test_train_reads_what_export_wrote_unless_data_names_files(
    tmp_path: Path, tiny_llama: Path
) -> None:
    from tests.unit.instruct.export_run import build
    from wavecoder.instruct.export import Config as ExportConfig

    built = build(tmp_path / "run")
    spec = pl.stage_spec("export")
    inputs = {n: built.store.stage(n) for n in pl.load_stage(spec).INPUTS}
    cfg = ExportConfig(formats=("messages", "alpaca"), report=False)
    pl.run_stage(spec, cfg, built.store.stage("export"), inputs=inputs, quiet=True)
    section = {"base_model": str(tiny_llama), "recipe": "tiny-cpu", "settings": {"max_steps": 1}}
    rc = pl.build_run_config({"run_dir": str(tmp_path / "run"), "train": section})
    stats = pl.run_pipeline(rc, start="train", stop="train", quiet=True)["train"]
    assert stats is not None and (stats["in"], stats["out"]) == (4, 4)
    out = tmp_path / "run" / "train"
    summary = json.loads((out / "training_summary.json").read_text())
    (source,) = summary["data"]
    assert source["name"].endswith("export/data/messages.jsonl") and source["records"] == 4
    fp = json.loads((out / "fingerprint.json").read_text())
    assert set(fp["inputs"]) == {"export"}, "a re-export makes the trained model stale"

    named = {**section, "data": [str(write_jsonl(tmp_path / "d.jsonl", alpaca_rows(3)))]}
    train_module = pl.load_stage(pl.stage_spec("train"))
    assert (
        pl.stage_inputs(train_module, pl.build_run_config({"train": named}).sections["train"]) == ()
    )
    assert pl.stage_inputs(train_module, rc.sections["train"]) == ("export",)


def test_pipeline_trains_resumes_and_notices_changed_settings(
    tmp_path: Path, tiny_llama: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_jsonl(tmp_path / "data.jsonl", alpaca_rows(8))
    section = {
        "data": [str(data)],
        "base_model": str(tiny_llama),
        "recipe": "tiny-cpu",
        "settings": {"max_steps": 2},
    }
    rc = pl.build_run_config({"run_dir": str(tmp_path / "run"), "train": section})
    results = pl.run_pipeline(rc, start="train", stop="train", quiet=True)
    stats = results["train"]
    assert stats is not None
    assert (stats["in"], stats["out"], stats["global_step"]) == (8, 8, 2)
    assert math.isfinite(stats["final_loss"])
    out = tmp_path / "run" / "train"
    assert (out / "model" / "config.json").is_file() and (out / "done.json").is_file()
    summary = json.loads((out / "training_summary.json").read_text())
    assert summary["config"]["max_steps"] == 2 and summary["recipe"] == "tiny-cpu"

    assert cli.main(["show", str(tmp_path / "run"), "train"]) == 0
    shown = capsys.readouterr().out
    assert "final_loss" in shown and "global_step: 2" in shown
    assert cli.main(["status", str(tmp_path / "run")]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    (row,) = [r for r in rows if r and r[0] == "train"]
    assert row[:3] == ["train", "done", "0"]

    again = pl.run_pipeline(rc, start="train", stop="train", quiet=True)
    assert again == {"train": None}, "a finished train stage must be skipped"

    changed = pl.build_run_config(
        {"run_dir": str(tmp_path / "run"), "train": {**section, "settings": {"max_steps": 3}}}
    )
    with pytest.raises(pl.StaleStageError, match=r"train\.settings\.max_steps"):
        pl.run_pipeline(changed, start="train", stop="train", quiet=True)
