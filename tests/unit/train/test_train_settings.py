"""Recipes carry the paper's numbers; the global batch survives any device count."""

from __future__ import annotations

import pytest

from wavecoder.config import ConfigError
from wavecoder.train.methods import target_modules
from wavecoder.train.settings import batch_plan, load_config, recipe_names


def test_paper_deepseek_recipe_matches_the_reference() -> None:
    cfg = load_config("paper-deepseek-6.7b", [])
    assert (cfg.method, cfg.epochs, cfg.global_batch_size, cfg.learning_rate) == (
        "full",
        3,
        512,
        5e-5,
    )
    assert (cfg.optim, cfg.lr_scheduler, cfg.warmup_steps) == ("adafactor", "linear", 15)
    assert cfg.precision == "bf16" and cfg.gradient_checkpointing and cfg.max_length == 2048
    assert cfg.fsdp == "full_shard auto_wrap" and cfg.template == "alpaca"


def test_starcoder_codellama_and_lora_recipes() -> None:
    sc = load_config("paper-starcoder-codellama", [])
    assert (sc.global_batch_size, sc.learning_rate, sc.epochs) == (256, 2e-5, 3)
    lora = load_config("paper-lora", [])
    assert (lora.method, lora.lora.r, lora.learning_rate, lora.epochs) == ("lora", 8, 1e-4, 3)
    assert load_config("qlora", []).method == "qlora"
    assert {"paper-deepseek-6.7b", "paper-lora", "tiny-cpu"} <= set(recipe_names())


@pytest.mark.parametrize(("world", "accum"), [(1, 128), (2, 64), (8, 16), (16, 8)])
def test_gradient_accumulation_keeps_the_global_batch(world: int, accum: int) -> None:
    plan = batch_plan(load_config("paper-deepseek-6.7b", []), world)
    assert plan.accumulation == accum and plan.global_batch == 512


def test_uneven_device_counts_round_up_and_report_it() -> None:
    plan = batch_plan(load_config("paper-deepseek-6.7b", []), 6)
    assert plan.accumulation == 22 and plan.global_batch == 528


def test_overrides_and_their_errors(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cfg = load_config("paper-lora", ["lora.r=16", "packing=true", "lora.target_modules=[q_proj]"])
    assert cfg.lora.r == 16 and cfg.packing and cfg.lora.target_modules == ("q_proj",)
    with pytest.raises(ConfigError, match="unknown config key"):
        load_config("paper-lora", ["lr=1"])
    with pytest.raises(ConfigError, match="'sgd' is not one of|method"):
        load_config(None, ["method=sgd"])
    with pytest.raises(ConfigError, match="unknown recipe 'nope'"):
        load_config("nope", [])
    with pytest.raises(ConfigError, match="max_length must be positive"):
        load_config(None, ["max_length=0"])
    path = tmp_path / "mine.yaml"
    path.write_text("method: lora\nlearning_rate: 3.0e-4\n")
    assert load_config(str(path), []).learning_rate == 3e-4


def test_lora_target_modules_per_architecture() -> None:
    assert "gate_proj" in target_modules("llama")
    assert target_modules("gpt_bigcode") == ["c_attn", "c_proj", "c_fc"]
    assert target_modules("some_new_arch") == "all-linear"
    assert target_modules("llama", ("q_proj",)) == ["q_proj"]


def test_shipped_accelerate_configs_load() -> None:
    from pathlib import Path

    from accelerate.commands.config.config_args import load_config_from_file

    folder = Path(__file__).resolve().parents[3] / "configs" / "accelerate"
    kinds = {
        p.stem: str(load_config_from_file(str(p)).distributed_type) for p in folder.glob("*.yaml")
    }
    assert kinds["fsdp"].endswith("FSDP") and kinds["deepspeed_zero3"].endswith("DEEPSPEED")


def test_trl_names_are_aliases_where_they_mean_the_same() -> None:
    from wavecoder.train.settings import load_config

    cfg = load_config(
        "tiny-cpu",
        [
            "num_train_epochs=2",
            "per_device_train_batch_size=3",
            "lora_r=4",
            "lr_scheduler_type=cosine",
        ],
    )
    assert (cfg.epochs, cfg.per_device_batch_size, cfg.lora.r, cfg.lr_scheduler) == (
        2.0,
        3,
        4,
        "cosine",
    )


def test_trl_names_that_differ_here_say_what_to_set() -> None:
    from wavecoder.train.settings import load_config, resolve_aliases

    with pytest.raises(ConfigError, match="gradient_accumulation_steps: .*global_batch_size"):
        load_config(None, ["gradient_accumulation_steps=8"])
    with pytest.raises(ConfigError, match="train.settings.num_train_epochs and .*epochs"):
        resolve_aliases({"num_train_epochs": 1, "epochs": 2}, "train.settings")


def test_the_train_stage_takes_trl_names_in_settings() -> None:
    from wavecoder.train.stage import Config

    cfg = Config(
        data=("d.jsonl",), base_model="m", settings={"num_train_epochs": 1, "lora_alpha": 8}
    )
    assert cfg.train_config().epochs == 1.0 and cfg.train_config().lora.alpha == 8
