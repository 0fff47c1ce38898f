"""Real training steps on the tiny Llama (CPU): each format, each CPU method, packing, resume."""

from __future__ import annotations

import itertools
import json
import math
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.unit.train.conftest import alpaca_rows, write_jsonl
from wavecoder.config import ConfigError
from wavecoder.train.cli import run_cli
from wavecoder.train.data import read_inputs
from wavecoder.train.encode import IGNORE_INDEX, encode_records
from wavecoder.train.settings import batch_plan, load_config
from wavecoder.train.sft import TrainJob, build_trainer, load_tokenizer, train


def _job(tmp_path: Path, base: Path, data: Path, *overrides: str, out: str = "out") -> TrainJob:
    cfg = load_config("tiny-cpu", ["max_steps=3", *overrides])
    return TrainJob(
        inputs=(str(data),), out=tmp_path / out, base_model=str(base), cfg=cfg, quiet=True
    )


def _generate(model_dir: Path, prompt: str, adapter: Path | None = None) -> str:
    """Generate through the project's transformers backend (wavecoder.llm.hf_local)."""
    from wavecoder.llm.base import LLMConfig, Request
    from wavecoder.llm.hf_local import HFBackend

    cfg = LLMConfig(backend="transformers", model=str(model_dir), device="cpu",
                    adapter=str(adapter) if adapter else "")  # fmt: skip
    (reply,) = HFBackend(cfg).generate_batch([Request(key="k", prompt=prompt, max_tokens=8)])
    # Random tiny weights may stop at once ("empty"); what matters is a real generate call.
    assert reply.status in ("ok", "truncated", "empty"), reply.error
    assert reply.usage.completion_tokens >= 1
    return reply.texts[0]


def test_full_finetuning_trains_saves_and_reloads(tmp_path: Path, tiny_llama: Path) -> None:
    data = tmp_path / "data.json"
    data.write_text(json.dumps(alpaca_rows(8), indent=1), encoding="utf-8")
    summary = train(_job(tmp_path, tiny_llama, data))
    out = tmp_path / "out"
    assert summary["global_step"] == 3 and math.isfinite(summary["final_loss"])
    assert summary["data"][0]["records"] == 8 and len(summary["data"][0]["sha256"]) == 64
    assert summary["batch"] == {
        "per_device": 2,
        "world_size": 1,
        "accumulation": 2,
        "global_batch": 4,
    }
    on_disk = json.loads((out / "training_summary.json").read_text())
    assert on_disk["final_loss"] == summary["final_loss"] and on_disk["config"]["method"] == "full"
    logs = [json.loads(line) for line in (out / "logs.jsonl").read_text().splitlines()]
    assert [e["step"] for e in logs if "loss" in e] == [1, 2, 3]
    assert isinstance(_generate(out / "model", "### Instruction:\nAdd.\n"), str)


@pytest.mark.parametrize("fmt", ["alpaca", "messages", "prompt_completion"])
def test_lora_trains_on_each_input_format(tmp_path: Path, tiny_llama: Path, fmt: str) -> None:
    rows: list[dict[str, Any]] = alpaca_rows(6)
    if fmt == "messages":
        rows = [
            {"messages": [{"role": "user", "content": r["instruction"]},
                          {"role": "assistant", "content": r["output"]}]}
            for r in rows
        ]  # fmt: skip
    elif fmt == "prompt_completion":
        rows = [{"prompt": r["instruction"] + "\n", "completion": r["output"]} for r in rows]
    data = write_jsonl(tmp_path / "d.jsonl", rows)
    summary = train(_job(tmp_path, tiny_llama, data, "method=lora", "lora.r=4"))
    assert summary["examples"][f"format.{fmt}"] == 6 and summary["global_step"] == 3
    adapter = tmp_path / "out" / "adapter"
    config = json.loads((adapter / "adapter_config.json").read_text())
    assert config["r"] == 4 and "q_proj" in config["target_modules"]
    assert not (tmp_path / "out" / "model").exists()
    assert isinstance(_generate(tiny_llama, "def add(", adapter=adapter), str)


def test_lora_merged_model_matches_the_adapter(tmp_path: Path, tiny_llama: Path) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    data = write_jsonl(tmp_path / "d.jsonl", alpaca_rows(4))
    train(_job(tmp_path, tiny_llama, data, "method=lora", "save=both", "lora.dropout=0.0"))
    out = tmp_path / "out"
    ids = torch.tensor([[1, 40, 41, 42, 43]])
    merged = AutoModelForCausalLM.from_pretrained(out / "model").eval()
    base = AutoModelForCausalLM.from_pretrained(tiny_llama)
    plain = AutoModelForCausalLM.from_pretrained(tiny_llama).eval()
    adapted = PeftModel.from_pretrained(base, str(out / "adapter")).eval()
    with torch.no_grad():
        assert torch.allclose(merged(ids).logits, adapted(ids).logits, atol=1e-4)
        assert not torch.allclose(merged(ids).logits, plain(ids).logits, atol=1e-4)


def _trainer_batch(tmp_path: Path, tiny_llama: Path, packing: bool) -> tuple[Any, Any, Any]:
    data = write_jsonl(tmp_path / "d.jsonl", alpaca_rows(4))
    job = _job(tmp_path, tiny_llama, data, f"packing={str(packing).lower()}",
               "per_device_batch_size=4", "global_batch_size=4")  # fmt: skip
    tokenizer = load_tokenizer(str(tiny_llama))
    encoded = encode_records(read_inputs([data])[0], tokenizer, template="alpaca", max_length=256)
    trainer = build_trainer(job, encoded, tokenizer, batch_plan(job.cfg, 1))
    return trainer, next(iter(trainer.get_train_dataloader())), encoded


def test_trainer_batches_carry_our_labels_without_packing(tmp_path: Path, tiny_llama: Path) -> None:
    _, batch, encoded = _trainer_batch(tmp_path, tiny_llama, packing=False)
    ours = {tuple(e.input_ids): e.labels for e in encoded.examples}
    for ids, labels, mask in zip(batch["input_ids"], batch["labels"], batch["attention_mask"]):
        n = int(mask.sum())
        expected = ours[tuple(ids[:n].tolist())]
        assert labels[:n].tolist() == expected
        assert (labels[n:] == IGNORE_INDEX).all()  # padding carries no loss


def test_packing_keeps_masking_and_per_example_attention(tmp_path: Path, tiny_llama: Path) -> None:
    import torch

    trainer, batch, encoded = _trainer_batch(tmp_path, tiny_llama, packing=True)
    assert batch["input_ids"].shape[0] == 1 and "attention_mask" not in batch
    starts = (batch["position_ids"][0] == 0).nonzero().flatten().tolist()
    assert len(starts) == 4
    bounds = [*starts, batch["input_ids"].shape[1]]
    model = trainer.model.eval()
    packed_sum, unpacked_sum, n_tokens = 0.0, 0.0, 0
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"]).logits[0]
        for a, b in itertools.pairwise(bounds):
            ids, labels = batch["input_ids"][0, a:b], batch["labels"][0, a:b]
            example = next(e for e in encoded.examples if e.input_ids == ids.tolist())
            assert labels.tolist() == example.labels  # the packed labels are ours, prompt masked
            alone = model(input_ids=ids[None]).logits[0]
            loss = torch.nn.functional.cross_entropy
            packed_sum += float(loss(logits[a : b - 1], labels[1:], reduction="sum"))
            unpacked_sum += float(loss(alone[:-1], labels[1:], reduction="sum"))
            n_tokens += int((labels[1:] != IGNORE_INDEX).sum())
    # Attention does not cross example boundaries: packed and one-by-one losses agree.
    assert abs(packed_sum - unpacked_sum) / n_tokens < 1e-4


def test_resume_continues_from_the_last_checkpoint(tmp_path: Path, tiny_llama: Path) -> None:
    data = write_jsonl(tmp_path / "d.jsonl", alpaca_rows(8))
    job = _job(tmp_path, tiny_llama, data, "max_steps=4", "save_steps=2")
    first = train(job)
    out = tmp_path / "out"
    # Simulate a crash after the step-2 checkpoint: later checkpoints and outputs never written.
    shutil.rmtree(out / "checkpoints" / "checkpoint-4")
    shutil.rmtree(out / "model")
    (out / "training_summary.json").unlink()
    second = train(job)
    assert first["resumed_from"] is None
    assert second["resumed_from"].endswith("checkpoint-2") and second["global_step"] == 4
    assert (out / "model").is_dir()
    changed = _job(tmp_path, tiny_llama, data, "max_steps=4", "save_steps=2", "learning_rate=0.5")
    with pytest.raises(ConfigError, match="changed: config.learning_rate"):
        train(changed)


def test_qlora_without_a_gpu_is_a_clear_error(tmp_path: Path, tiny_llama: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present: the CPU error path does not apply")
    data = write_jsonl(tmp_path / "d.jsonl", alpaca_rows(2))
    argv = ["-i", str(data), "-o", str(tmp_path / "o"), "--base-model", str(tiny_llama), "-q",
            "--recipe", "tiny-cpu", "method=qlora"]  # fmt: skip
    assert run_cli(argv) == 2


def test_cli_prepare_only_and_bad_override(tmp_path: Path, tiny_llama: Path, capsys: Any) -> None:
    data = write_jsonl(tmp_path / "d.jsonl", alpaca_rows(3))
    base = ["-i", str(data), "-o", str(tmp_path / "o"), "--base-model", str(tiny_llama)]
    assert run_cli([*base, "--prepare-only", "max_length=32"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["examples"]["in"] == 3 and report["examples"]["truncated"] == 3
    assert run_cli([*base, "lora.rank=8"]) == 2
    assert "unknown config key(s): lora.rank" in capsys.readouterr().err


def test_rerunning_a_finished_run_is_a_no_op_that_says_so(
    tmp_path: Path, tiny_llama: Path, capsys: Any
) -> None:
    data = write_jsonl(tmp_path / "d.jsonl", alpaca_rows(8))
    out = tmp_path / "o"
    argv = ["-i", str(data), "-o", str(out), "--base-model", str(tiny_llama), "-q",
            "--recipe", "tiny-cpu", "max_steps=2", "save_steps=1"]  # fmt: skip
    assert run_cli(argv) == 0
    weights = {p: p.read_bytes() for p in (out / "model").iterdir() if p.is_file()}
    checkpoints = sorted(p.name for p in (out / "checkpoints").iterdir())
    capsys.readouterr()
    assert run_cli(argv) == 0
    err = capsys.readouterr().err
    assert "already holds this finished run (global_step 2); nothing to do" in err
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == checkpoints
    assert {p: p.read_bytes() for p in weights} == weights
    summary = json.loads((out / "training_summary.json").read_text())
    assert summary["global_step"] == 2
    with pytest.raises(ConfigError, match="finished run of other settings.*config.learning_rate"):
        train(_job(tmp_path, tiny_llama, data, "max_steps=2", "learning_rate=0.5", out="o"))


def test_cli_names_a_missing_base_model_in_one_line(tmp_path: Path, capsys: Any) -> None:
    data = write_jsonl(tmp_path / "d.jsonl", alpaca_rows(2))
    argv = ["-i", str(data), "-o", str(tmp_path / "o"), "--base-model", "nosuchmodel"]
    assert run_cli(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("wavecoder train: error: --base-model: nosuchmodel is not in the local")
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "o").exists()
