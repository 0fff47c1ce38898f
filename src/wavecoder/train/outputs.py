"""What a training run leaves behind: JSON logs, the saved model or adapter, and the summary.

Layout of ``OUTDIR``::

    train_config.json     resolved settings, base model and inputs (checked again on resume)
    checkpoints/          Trainer checkpoints (resume picks the last one)
    logs.jsonl            one JSON object per Trainer log event (loss, lr, grad norm, step)
    tensorboard/          when tensorboard is installed
    rejected.jsonl        records dropped before training, with the reason
    adapter/              LoRA / QLoRA adapter (+ tokenizer)
    model/                full or merged model (+ tokenizer), loadable by from_pretrained
    training_summary.json data sha256, recipe, steps, final loss, versions

Writing happens on the main process only; this module never logs secrets (W&B is used only
when its own environment variables configure it).
"""

from __future__ import annotations

import importlib.util
import json
import os
import time
from pathlib import Path
from typing import Any

from wavecoder.store import write_json_atomic


def report_targets(requested: tuple[str, ...], out: Path) -> list[str]:
    """Trainer ``report_to``: ``auto`` means TensorBoard and W&B when installed (and configured)."""
    if "auto" not in requested:
        return [r for r in requested if r != "none"]
    found = [r for r in requested if r not in ("auto", "none")]
    if importlib.util.find_spec("tensorboard") or importlib.util.find_spec("tensorboardX"):
        found.append("tensorboard")
    # W&B prompts for a login when unconfigured; use it only when its env says how to run.
    wandb_env = os.environ.get("WANDB_API_KEY") or os.environ.get("WANDB_MODE")
    if importlib.util.find_spec("wandb") and wandb_env:
        found.append("wandb")
    if "tensorboard" in found:
        os.environ.setdefault("TENSORBOARD_LOGGING_DIR", str(out / "tensorboard"))
    return sorted(set(found))


def json_log_callback(path: Path) -> Any:
    """A TrainerCallback appending every log event to ``path`` as one JSON line."""
    from transformers import TrainerCallback

    class JsonLogs(TrainerCallback):  # type: ignore[misc]
        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> None:
            if not state.is_world_process_zero or not logs:
                return
            record = {"step": state.global_step, "epoch": state.epoch, "time": time.time(), **logs}
            with open(path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(record, default=float) + "\n")
                fh.flush()

    return JsonLogs()


def final_loss(log_history: list[dict[str, Any]]) -> float | None:
    """The last logged training loss (per-step ``loss``, else the run's ``train_loss``)."""
    for entry in reversed(log_history):
        if "loss" in entry:
            return float(entry["loss"])
    for entry in reversed(log_history):
        if "train_loss" in entry:
            return float(entry["train_loss"])
    return None


def versions() -> dict[str, str]:
    import peft
    import torch
    import transformers
    import trl

    return {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "trl": trl.__version__,
        "peft": peft.__version__,
        "cuda": str(torch.version.cuda),
        "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
    }


def save_outputs(
    trainer: Any, tokenizer: Any, *, out: Path, base_model: str, mode: str, is_peft: bool
) -> dict[str, str]:
    """Save the adapter and/or the merged model; returns {kind: path}."""
    saved: dict[str, str] = {}
    if not is_peft:
        trainer.save_model(str(out / "model"))
        if trainer.is_world_process_zero():
            tokenizer.save_pretrained(out / "model")
        return {"model": str(out / "model")}
    adapter = out / "adapter"
    trainer.save_model(str(adapter))
    if trainer.is_world_process_zero():
        tokenizer.save_pretrained(adapter)
        saved["adapter"] = str(adapter)
        if mode in ("merged", "both"):
            saved["model"] = str(merge_adapter(base_model, adapter, out / "model", tokenizer))
            if mode == "merged":
                saved.pop("adapter")
    return saved


def merge_adapter(base_model: str, adapter: Path, dest: Path, tokenizer: Any) -> Path:
    """Load the base in bf16/fp32 (never quantized), apply the adapter, merge, save to ``dest``."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    dtype = torch.bfloat16 if torch.cuda.is_available() else torch.float32
    base = AutoModelForCausalLM.from_pretrained(base_model, dtype=dtype)
    merged = PeftModel.from_pretrained(base, str(adapter)).merge_and_unload()
    merged.save_pretrained(dest)
    tokenizer.save_pretrained(dest)
    return dest


def write_summary(out: Path, summary: dict[str, Any]) -> None:
    write_json_atomic(out / "training_summary.json", summary)
