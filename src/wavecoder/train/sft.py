"""Supervised fine-tuning: build a TRL ``SFTTrainer`` from a recipe and run it (composed).

``train(job)`` reads the data (``data.py``), tokenizes it with the prompt masked (``encode.py``),
loads the model for the method (``methods.py``), derives gradient accumulation from the global
batch and the number of processes, and hands TRL a pre-tokenized dataset of ``input_ids`` +
``labels``: TRL then only pads (or packs, best-fit decreasing with per-sequence position ids so
attention and labels stay within each example) and trains. A rerun into the same ``OUTDIR``
resumes from the last checkpoint if the settings and data are unchanged and refuses otherwise;
a rerun of a finished run (its ``training_summary.json`` names the same settings and data, and
its saved outputs exist) does nothing and says so (``--restart`` trains again).
Multi-GPU and multi-node runs go through ``accelerate launch`` with a config from
``configs/accelerate/``.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wavecoder.config import ConfigError, diff_keys, to_data
from wavecoder.records import Rejected
from wavecoder.store import write_json_atomic
from wavecoder.train import outputs
from wavecoder.train.data import Source, read_inputs
from wavecoder.train.encode import EncodedSet, encode_records
from wavecoder.train.methods import load_model, resolve_precision
from wavecoder.train.settings import BatchPlan, Precision, TrainConfig, batch_plan


@dataclass(frozen=True)
class TrainJob:
    inputs: tuple[str, ...]
    out: Path
    base_model: str
    cfg: TrainConfig
    recipe: str | None = None
    quiet: bool = False
    restart: bool = False  # discard existing checkpoints instead of resuming


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def load_tokenizer(base_model: str) -> Any:
    """The base model's tokenizer; without a pad token, EOS pads (labels mask padding anyway)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base_model)
    if tokenizer.eos_token_id is None:
        raise ConfigError(f"{base_model}: the tokenizer defines no EOS token")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _identity(job: TrainJob, sources: list[Source]) -> dict[str, Any]:
    return {
        "base_model": job.base_model,
        "recipe": job.recipe,
        "data": [{"name": s.name, "sha256": s.sha256, "records": s.records} for s in sources],
        "config": to_data(job.cfg),
    }


def finished_run(job: TrainJob, identity: dict[str, Any]) -> dict[str, Any] | None:
    """The summary of the run `job.out` already finished with this identity (None: train).

    Resuming a finished run would make the trainer take one more step (a new checkpoint,
    different weights); a finished run is a result, not a place to resume from.
    """
    path = job.out / "training_summary.json"
    if job.restart or not path.exists():
        return None
    import json

    summary = json.loads(path.read_text(encoding="utf-8"))
    changed = diff_keys({k: summary.get(k) for k in identity}, identity)
    if changed:
        raise ConfigError(
            f"{job.out} holds a finished run of other settings (changed: {', '.join(changed)}); "
            "use another -o, or --restart to train again"
        )
    if not all(Path(p).exists() for p in summary.get("saved", {}).values()):
        return None  # its outputs are gone: train (resuming from the last checkpoint)
    return {**summary, "already_done": True}


def prepare_outdir(job: TrainJob, identity: dict[str, Any]) -> str | None:
    """Record the run's identity; return the checkpoint to resume from (None: start fresh)."""
    from transformers.trainer_utils import get_last_checkpoint

    ckpts = job.out / "checkpoints"
    saved = job.out / "train_config.json"
    if job.restart and is_main_process():
        shutil.rmtree(ckpts, ignore_errors=True)
    last = get_last_checkpoint(str(ckpts)) if ckpts.is_dir() else None
    if last is not None and saved.exists():
        import json

        old = json.loads(saved.read_text(encoding="utf-8"))
        changed = diff_keys(old, identity)
        if changed:
            raise ConfigError(
                f"{job.out} holds checkpoints of a different run (changed: {', '.join(changed)}); "
                "use another -o, or --restart to discard them"
            )
    if is_main_process():
        write_json_atomic(saved, identity)
    return last


def sft_args(job: TrainJob, plan: BatchPlan, precision: Precision) -> Any:
    from trl import SFTConfig

    cfg = job.cfg
    distributed_fsdp = os.environ.get("ACCELERATE_USE_FSDP", "").lower() == "true"
    deepspeed = os.environ.get("ACCELERATE_USE_DEEPSPEED", "").lower() == "true"
    fsdp = cfg.fsdp if plan.world_size > 1 and not (distributed_fsdp or deepspeed) else ""
    return SFTConfig(
        output_dir=str(job.out / "checkpoints"),
        num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps,
        per_device_train_batch_size=plan.per_device,
        gradient_accumulation_steps=plan.accumulation,
        learning_rate=cfg.learning_rate,
        weight_decay=cfg.weight_decay,
        optim=cfg.optim,
        lr_scheduler_type=cfg.lr_scheduler,
        warmup_steps=cfg.warmup_steps,
        max_grad_norm=cfg.max_grad_norm,
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        **_checkpointing_args(SFTConfig, cfg.gradient_checkpointing),
        dataloader_pin_memory=_has_cuda(),
        fsdp=fsdp or None,
        save_strategy="steps",
        save_steps=cfg.save_steps,
        save_total_limit=cfg.save_total_limit,
        logging_steps=cfg.logging_steps,
        seed=cfg.seed,
        report_to=outputs.report_targets(cfg.report_to, job.out) or "none",
        disable_tqdm=job.quiet,
        max_length=cfg.max_length,
        packing=cfg.packing,
        packing_strategy="bfd",
    )


def _checkpointing_args(config_cls: Any, enabled: bool) -> dict[str, Any]:
    """transformers 5 renamed gradient_checkpointing to activation_checkpointing: use either."""
    from dataclasses import fields

    names = {f.name for f in fields(config_cls)}
    prefix = "activation" if "activation_checkpointing" in names else "gradient"
    return {
        f"{prefix}_checkpointing": enabled,
        f"{prefix}_checkpointing_kwargs": {"use_reentrant": False},
    }


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def build_dataset(encoded: EncodedSet) -> Any:
    from datasets import Dataset

    return Dataset.from_dict(
        {
            "input_ids": [e.input_ids for e in encoded.examples],
            "labels": [e.labels for e in encoded.examples],
        }
    )


def write_rejected(out: Path, encoded: EncodedSet) -> None:
    if not is_main_process():
        return
    path = out / "rejected.jsonl"
    lines = [Rejected(id=w, stage="train", reason=r).to_json() for w, r in encoded.rejected]
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def build_trainer(job: TrainJob, encoded: EncodedSet, tokenizer: Any, plan: BatchPlan) -> Any:
    """The configured SFTTrainer (model loaded, PEFT applied by TRL, JSON logs attached)."""
    from trl import SFTTrainer

    precision = resolve_precision(job.cfg.precision)
    model, peft_config = load_model(job.base_model, job.cfg, precision)
    return SFTTrainer(
        model=model,
        args=sft_args(job, plan, precision),
        train_dataset=build_dataset(encoded),
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=[outputs.json_log_callback(job.out / "logs.jsonl")],
    )


def train(job: TrainJob) -> dict[str, Any]:
    """Run one fine-tuning job end to end; returns the training summary (also written to disk)."""
    started = time.time()
    job.out.mkdir(parents=True, exist_ok=True)
    records, sources = read_inputs(job.inputs)
    identity = _identity(job, sources)
    done = finished_run(job, identity)
    if done is not None:
        return done
    tokenizer = load_tokenizer(job.base_model)
    encoded = encode_records(
        records, tokenizer, template=job.cfg.template, max_length=job.cfg.max_length
    )
    if not encoded.examples:
        raise ConfigError("no example left to train on after encoding (see rejected.jsonl)")
    write_rejected(job.out, encoded)
    resume_from = prepare_outdir(job, identity)
    plan = batch_plan(job.cfg, world_size())
    trainer = build_trainer(job, encoded, tokenizer, plan)
    result = trainer.train(resume_from_checkpoint=resume_from)
    saved = outputs.save_outputs(
        trainer,
        tokenizer,
        out=job.out,
        base_model=job.base_model,
        mode="adapter" if job.cfg.save == "auto" else job.cfg.save,
        is_peft=job.cfg.method != "full",
    )
    summary = {
        **identity,
        "examples": encoded.counts,
        "batch": to_data(plan),
        "resumed_from": resume_from,
        "global_step": trainer.state.global_step,
        "epochs_done": trainer.state.epoch,
        "final_loss": outputs.final_loss(trainer.state.log_history),
        "train_loss": result.training_loss,
        "saved": saved,
        "seconds": round(time.time() - started, 1),
        "versions": outputs.versions(),
    }
    if trainer.is_world_process_zero():
        outputs.write_summary(job.out, summary)
    return summary
