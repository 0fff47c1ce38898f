"""Training settings as data: the ``TrainConfig`` dataclass, YAML recipes and batch arithmetic.

A recipe is a YAML file of ``TrainConfig`` fields: a bundled name (``recipes/NAME.yaml``, e.g.
``paper-deepseek-6.7b``) or a path. ``key=value`` overrides apply on top (``lora.r=16``), unknown
keys fail (``wavecoder.config.build``). The global batch is the recipe's unit: gradient
accumulation is derived from it, the per-device batch and the number of processes, so the same
recipe keeps the paper's 512 on 8 GPUs or on 1. This module does not touch torch.
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
    data = apply_overrides(recipe_data(recipe), overrides)
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
