"""The `train` pipeline stage: fine-tune the base model on the run's instruction data.

A thin shell over `wavecoder.train.sft.train`, so `wavecoder run CONFIG` and `wavecoder train`
train the same way. The stage folder is the training output folder: `checkpoints/` (an
interrupted run resumes from the last one), `model/` or `adapter/`, `training_summary.json`,
`rejected.jsonl` (records that could not be encoded, with the reason), `metrics.jsonl`.

The data is what the run's `export` stage wrote (its `train_file`, the first format exported),
unless `data` names files or hub ids (what `wavecoder train -i` takes): then export is not an
input and need not have run. Settings: a recipe (bundled name or YAML) with
`settings` on top, checked when the config loads so a typo fails before hours of earlier stages.
Multi-GPU: run this stage alone under accelerate (`accelerate launch -m wavecoder run CONFIG
--from train --to train`); the other stages are single-process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from wavecoder.config import ConfigError, build, to_data
from wavecoder.train.settings import TrainConfig, check, recipe_data

VERSION = 1
INPUTS: tuple[str, ...] = ("export",)
SHARDABLE = False
MISSING_INPUT_HINT = "or name the data with train.data=[FILE]"


@dataclass(frozen=True)
class Config:
    """The `train:` section of an experiment YAML."""

    data: tuple[str, ...] = ()  # files, folders or hub ids (owner/name[:split]); () = export's
    base_model: str = ""  # hub id or local directory
    recipe: str = ""  # bundled recipe name (wavecoder train --help lists them) or a YAML path
    settings: dict[str, Any] = field(default_factory=dict)  # TrainConfig fields over the recipe

    def __post_init__(self) -> None:
        self.train_config()  # fail at load time on an unknown recipe or setting

    def train_config(self) -> TrainConfig:
        data = _merge(recipe_data(self.recipe or None), self.settings)
        data.pop("description", None)
        cfg = build(TrainConfig, data, where="train.settings")
        check(cfg)
        return cfg


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def inputs(cfg: Config) -> tuple[str, ...]:
    """Named data replaces the export: a run `--from train` then needs no dataset stages."""
    return () if cfg.data else INPUTS


def preflight(cfg: Config) -> None:
    """What must be set before any stage of the run starts."""
    if not cfg.base_model:
        raise ConfigError(
            "train.base_model is empty: name a hub id or a local model directory, e.g. "
            "train.base_model=deepseek-ai/deepseek-coder-6.7b-base"
        )
    from wavecoder.preflight import check_data, check_model

    check_data(cfg.data, key="train.data")
    check_model(cfg.base_model, key="train.base_model")


def run(ctx: Any) -> dict[str, Any]:
    from wavecoder.train.sft import TrainJob, train

    cfg: Config = ctx.cfg
    preflight(cfg)
    data = cfg.data or (str(_exported(ctx)),)
    job = TrainJob(
        inputs=data,
        out=ctx.out.path,
        base_model=cfg.base_model,
        cfg=cfg.train_config(),
        recipe=cfg.recipe or None,
        quiet=ctx.quiet,
    )
    summary = train(job)
    return stats(summary)


def _exported(ctx: Any) -> Any:
    from wavecoder.instruct.export import train_file

    if "export" not in ctx.inputs:  # a standalone `wavecoder train`-like call without data
        raise ConfigError("train.data is empty and no export stage folder is given")
    return train_file(ctx.inputs["export"])


def stats(summary: dict[str, Any]) -> dict[str, Any]:
    """The run's figures for `wavecoder status`: records in and out, steps, loss, saved paths."""
    counts = summary.get("examples", {})
    out: dict[str, Any] = {"in": counts.get("in", 0), "out": counts.get("out", 0)}
    for key in ("truncated", "tokens", "loss_tokens"):
        if key in counts:
            out[key] = counts[key]
    for key in ("global_step", "final_loss", "seconds"):
        out[key] = summary.get(key)
    out.update({f"saved.{kind}": path for kind, path in to_data(summary.get("saved", {})).items()})
    return out
