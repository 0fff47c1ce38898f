"""`wavecoder train` through the installed executable: options in any order, a `save_to_disk`
folder as input, `-q` silences every library's bars and per-step lines, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers.executable import one_line_error, wavecoder
from tests.unit.train.conftest import alpaca_rows

BARS = ("it/s]", "s/it]", "examples/s]", "Loading weights", "{'loss'")


def test_quiet_training_on_a_saved_dataset(tiny_llama: Path, tmp_path: Path) -> None:
    import datasets

    datasets.Dataset.from_list(alpaca_rows(6)).save_to_disk(str(tmp_path / "saved"))
    proc = wavecoder(
        "train",
        "-i",
        tmp_path / "saved",
        "-o",
        tmp_path / "out",
        "--base-model",
        tiny_llama,
        "--recipe",
        "tiny-cpu",
        "max_steps=2",
        "-q",
        "num_train_epochs=1",
    )
    assert proc.returncode == 0, proc.stderr
    assert not [b for b in BARS if b in proc.stderr], proc.stderr[-2000:]
    summary = json.loads(proc.stdout)
    assert summary["global_step"] == 2 and summary["examples"]["out"] == 6


def test_train_mistakes_are_one_line(tiny_llama: Path, tmp_path: Path) -> None:
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in alpaca_rows(2)))
    base = ("train", "-i", data, "-o", tmp_path / "o", "--base-model")
    import torch

    if not torch.cuda.is_available():  # the paper's recipes train in bf16
        proc = wavecoder(*base, tiny_llama, "--recipe", "paper-lora", "max_steps=1")
        assert proc.returncode == 2
        assert "precision=bf16 needs a GPU" in one_line_error(proc)
    proc = wavecoder(
        "train",
        "-i",
        "datadir/train.jsonl",
        "-o",
        tmp_path / "o",
        "--base-model",
        tiny_llama,
        "--prepare-only",
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert "datadir/train.jsonl: no such file or folder" in one_line_error(proc)
    proc = wavecoder(*base, tmp_path / "no-model", "--prepare-only")
    assert proc.returncode == 2
    assert "--base-model" in one_line_error(proc)
