"""Load the base model for a training method: full fine-tuning, LoRA or QLoRA.

``load_model`` returns the model (quantized for QLoRA) and the PEFT config to hand to SFTTrainer
(None for full fine-tuning); TRL wraps the model with PEFT itself. LoRA targets every attention and
MLP projection of the architecture (``TARGET_MODULES``), falling back to PEFT's ``all-linear``.
QLoRA needs a CUDA GPU and bitsandbytes and says so clearly otherwise. Torch, transformers and peft
are imported inside the functions.
"""

from __future__ import annotations

from typing import Any

from wavecoder.train.settings import Precision, TrainConfig

_LLAMA_LIKE = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
TARGET_MODULES: dict[str, tuple[str, ...]] = {
    # DeepSeek-Coder and CodeLlama are Llama architectures.
    "llama": _LLAMA_LIKE,
    "mistral": _LLAMA_LIKE,
    "mixtral": ("q_proj", "k_proj", "v_proj", "o_proj"),
    "qwen2": _LLAMA_LIKE,
    "qwen3": _LLAMA_LIKE,
    "gemma": _LLAMA_LIKE,
    "gemma2": _LLAMA_LIKE,
    "phi3": ("qkv_proj", "o_proj", "gate_up_proj", "down_proj"),
    "phi": ("q_proj", "k_proj", "v_proj", "dense", "fc1", "fc2"),
    # StarCoder (15B) is gpt_bigcode; StarCoder2 has its own names.
    "gpt_bigcode": ("c_attn", "c_proj", "c_fc"),
    "starcoder2": ("q_proj", "k_proj", "v_proj", "o_proj", "c_fc", "c_proj"),
    "gpt2": ("c_attn", "c_proj", "c_fc"),
    "gpt_neox": ("query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h"),
    "falcon": ("query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h"),
}


class MethodError(RuntimeError):
    """A training method that cannot run here (e.g. QLoRA without a CUDA GPU)."""


def target_modules(model_type: str, configured: tuple[str, ...] = ()) -> list[str] | str:
    """LoRA target modules: the configured ones, else the architecture's, else ``all-linear``."""
    if configured:
        return list(configured)
    return list(TARGET_MODULES.get(model_type, ())) or "all-linear"


def resolve_precision(precision: Precision) -> Precision:
    """``auto``: bf16 on a GPU that supports it, fp16 on an older GPU, fp32 on CPU."""
    if precision != "auto":
        return precision
    import torch

    if not torch.cuda.is_available():
        return "fp32"
    return "bf16" if torch.cuda.is_bf16_supported() else "fp16"


def torch_dtype(precision: Precision) -> Any:
    import torch

    return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision, torch.float32)


def _quantization_config() -> Any:
    import torch

    if not torch.cuda.is_available():
        raise MethodError(
            "method=qlora needs a CUDA GPU (bitsandbytes 4-bit kernels); none is visible here. "
            "Use method=lora on this machine."
        )
    try:
        import bitsandbytes  # noqa: F401
    except ImportError as exc:
        raise MethodError("method=qlora needs bitsandbytes: pip install bitsandbytes") from exc
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.bfloat16,
    )


def load_model(base_model: str, cfg: TrainConfig, precision: Precision) -> tuple[Any, Any]:
    """(model, peft_config or None) for ``cfg.method``."""
    from transformers import AutoModelForCausalLM

    kwargs: dict[str, Any] = {
        "dtype": torch_dtype(precision),
        "attn_implementation": cfg.attn_implementation,
    }
    if cfg.method == "qlora":
        kwargs["quantization_config"] = _quantization_config()
        kwargs["dtype"] = torch_dtype("bf16")
    model = AutoModelForCausalLM.from_pretrained(base_model, **kwargs)
    if cfg.method == "full":
        return model, None
    if cfg.method == "qlora":
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=cfg.gradient_checkpointing
        )
    return model, lora_config(model.config.model_type, cfg)


def lora_config(model_type: str, cfg: TrainConfig) -> Any:
    from peft import LoraConfig

    return LoraConfig(
        r=cfg.lora.r,
        lora_alpha=cfg.lora.alpha,
        lora_dropout=cfg.lora.dropout,
        target_modules=target_modules(model_type, cfg.lora.target_modules),
        bias="none",
        task_type="CAUSAL_LM",
    )
