"""Training settings as data: the ``TrainConfig`` dataclass, YAML recipes and batch arithmetic.

A recipe is a YAML file of ``TrainConfig`` fields: a bundled name (``recipes/NAME.yaml``, e.g.
``paper-deepseek-6.7b``) or a path. ``key=value`` overrides apply on top (``lora.r=16``), unknown
keys fail (``wavecoder.config.build``). The global batch is the recipe's unit: gradient
accumulation is derived from it, the per-device batch and the number of processes, so the same
recipe keeps the paper's 512 on 8 GPUs or on 1. TRL's / transformers' argument names are
accepted where they mean the same (``num_train_epochs`` for ``epochs``, ``lora_r`` for
``lora.r``: ``ALIASES``). This module does not touch torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from wavecoder.config import ConfigError, apply_overrides, build, load_yaml
from wavecoder.train.formatting import TemplateName

Method = Literal["full", "lora", "qlora"]
Precision = Literal["auto", "bf16", "fp16", "fp32"]
SaveMode = Literal["auto", "adapter", "merged", "both"]
Attention = Literal["sdpa", "eager", "flash_attention_2", "flash_attention_3"]


@dataclass(frozen=True)
class LoraSettings:
    r: int = 8
    alpha: int = 16
    dropout: float = 0.05
    # Empty: chosen from the model's architecture (``methods.target_modules``).
    target_modules: tuple[str, ...] = ()


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a fine-tuning run except the data and the base model."""

    method: Method = "full"
    template: TemplateName = "alpaca"
    max_length: int = 2048
    packing: bool = False
    epochs: float = 3.0
    max_steps: int = -1  # > 0 overrides epochs (smoke tests, benchmarks)
    global_batch_size: int = 512
    per_device_batch_size: int = 4
    learning_rate: float = 5e-5
    weight_decay: float = 0.0
    optim: str = "adafactor"  # any transformers ``optim`` name
    lr_scheduler: str = "linear"
    warmup_steps: int = 15
    max_grad_norm: float = 1.0
    precision: Precision = "auto"
    gradient_checkpointing: bool = True
    attn_implementation: Attention = "sdpa"
    # FSDP flags for TrainingArguments when several processes run without an accelerate FSDP
    # config (e.g. torchrun); "" for none. The paper's: "full_shard auto_wrap".
    fsdp: str = ""
    save_steps: int = 30
    save_total_limit: int = 17
    logging_steps: int = 1
    seed: int = 42
    save: SaveMode = "auto"  # auto: full -> merged model, (q)lora -> adapter
    report_to: tuple[str, ...] = ("auto",)  # auto: tensorboard / wandb when installed
    lora: LoraSettings = field(default_factory=LoraSettings)


BUNDLED = "wavecoder.train.recipes"

# TRL SFTConfig / transformers TrainingArguments / TRL ModelConfig names -> ours (same meaning).
ALIASES: dict[str, str] = {
    "num_train_epochs": "epochs",
    "per_device_train_batch_size": "per_device_batch_size",
    "lr_scheduler_type": "lr_scheduler",
    "max_seq_length": "max_length",  # TRL before 0.20
    "lora_r": "lora.r",
    "lora_alpha": "lora.alpha",
    "lora_dropout": "lora.dropout",
    "lora_target_modules": "lora.target_modules",
}
# TRL names whose meaning differs here: what to set instead.
NOT_ALIASES: dict[str, str] = {
    "gradient_accumulation_steps": "it follows from global_batch_size, per_device_batch_size "
    "and the number of processes; set global_batch_size",
    "bf16": "set precision=bf16 (or fp16, fp32, auto)",
    "fp16": "set precision=fp16 (or bf16, fp32, auto)",
    "use_peft": "set method=lora or method=qlora",
}


def rename_override(text: str) -> str:
    """`num_train_epochs=1` -> `epochs=1` (a `key=value` override under a TRL name)."""
    key, eq, value = text.partition("=")
    if key in NOT_ALIASES:
        raise ConfigError(f"{key}: {NOT_ALIASES[key]}")
    return f"{ALIASES.get(key, key)}{eq}{value}"


def resolve_aliases(data: dict[str, Any], where: str = "") -> dict[str, Any]:
    """A copy of a settings mapping with TRL's names renamed to ours; a key given under both
    names, or a TRL name that means something else here, is an error naming it."""
    prefix = f"{where}." if where else ""
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in data.items()}
    for trl_name, hint in NOT_ALIASES.items():
        if trl_name in out:
            raise ConfigError(f"{prefix}{trl_name}: {hint}")
    for trl_name, ours in ALIASES.items():
        if trl_name not in out:
            continue
        value = out.pop(trl_name)
        section, _, key = ours.rpartition(".")
        node = out.setdefault(section, {}) if section else out
        if not isinstance(node, dict) or key in node:
            raise ConfigError(
                f"{prefix}{trl_name} and {prefix}{ours} are the same setting: keep one"
            )
        node[key] = value
    return out


def recipe_names() -> list[str]:
    files = resources.files(BUNDLED).iterdir()
    return sorted(f.name[: -len(".yaml")] for f in files if f.name.endswith(".yaml"))


def recipe_data(name_or_path: str | None) -> dict[str, Any]:
    """The raw mapping of a bundled recipe name or a YAML path (``{}`` for none)."""
    if not name_or_path:
        return {}
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        return load_yaml(path)
    bundled = resources.files(BUNDLED).joinpath(f"{name_or_path}.yaml")
    if not bundled.is_file():
        raise ConfigError(
            f"unknown recipe {name_or_path!r}; bundled: {', '.join(recipe_names())} "
            "(or give a path to a YAML file)"
        )
    with resources.as_file(bundled) as p:
        return load_yaml(p)


def load_config(recipe: str | None, overrides: list[str]) -> TrainConfig:
    """A recipe plus dotted overrides, strictly validated."""
    renamed = [rename_override(o) for o in overrides]  # an override beats the recipe's value
    data = apply_overrides(resolve_aliases(recipe_data(recipe)), renamed)
    data.pop("description", None)  # recipes may explain themselves
    cfg = build(TrainConfig, data)
    check(cfg)
    return cfg


def check(cfg: TrainConfig) -> None:
    positive = ("max_length", "global_batch_size", "per_device_batch_size", "logging_steps")
    for name in positive:
        if getattr(cfg, name) <= 0:
            raise ConfigError(f"{name} must be positive, got {getattr(cfg, name)}")
    if cfg.max_steps <= 0 and cfg.epochs <= 0:
        raise ConfigError("set epochs > 0 or max_steps > 0")
    if cfg.lora.r <= 0:
        raise ConfigError(f"lora.r must be positive, got {cfg.lora.r}")


@dataclass(frozen=True)
class BatchPlan:
    per_device: int
    world_size: int
    accumulation: int
    global_batch: int  # what is actually used: per_device * world_size * accumulation


def batch_plan(cfg: TrainConfig, world_size: int) -> BatchPlan:
    """Gradient accumulation that keeps ``cfg.global_batch_size`` on ``world_size`` processes.

    When the global batch is not a multiple of per-device x processes, accumulation rounds up and
    the plan reports the larger global batch actually used (the summary records it).
    """
    if world_size <= 0:
        raise ValueError(f"world_size must be positive, got {world_size}")
    per_device = min(cfg.per_device_batch_size, cfg.global_batch_size)
    accumulation = max(1, math.ceil(cfg.global_batch_size / (per_device * world_size)))
    return BatchPlan(per_device, world_size, accumulation, per_device * world_size * accumulation)
