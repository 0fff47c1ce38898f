"""The transformers backend on the tiny random Llama: batching, stop sequences, n, adapters."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from wavecoder.llm import LLMConfig, Request, build_llm
from wavecoder.llm.client import Client
from wavecoder.llm.fingerprint import model_identity
from wavecoder.llm.hf_local import cut_at_stop

pytestmark = pytest.mark.timeout(300)
PROMPTS = ["def add(a, b):", "for i in range(10):", "Write a function", "class Stack:\n    def"]


def make(model: Path, **overrides: Any) -> Client:
    fields: dict[str, Any] = {"backend": "transformers", "model": str(model), "cache": False}
    fields.update(overrides)
    llm = build_llm(LLMConfig(**fields), role="eval")
    assert isinstance(llm, Client)
    return llm


def greedy(prompt: str, key: str = "k", **params: Any) -> Request:
    return Request(key=key, prompt=prompt, max_tokens=params.pop("max_tokens", 16), **params)


def test_cut_at_stop() -> None:
    assert cut_at_stop("abc\ndef\nx", ["\n"]) == ("abc", True)
    assert cut_at_stop("abcdef", ["ef", "cd"]) == ("ab", True)
    assert cut_at_stop("abc", ["z", ""]) == ("abc", False)


def test_batched_greedy_equals_one_by_one(tiny_llama: Path) -> None:
    """Left padding is right: a prompt's greedy output does not depend on its batch mates."""
    requests = [greedy(p, key=f"k{i}") for i, p in enumerate(PROMPTS)]
    with make(tiny_llama, batch_size=4) as llm:
        batched = llm.generate(requests, progress=False)
    with make(tiny_llama, batch_size=1) as llm:
        single = llm.generate(requests, progress=False)
    assert [r.texts for r in batched] == [r.texts for r in single]
    assert [r.key for r in batched] == ["k0", "k1", "k2", "k3"]
    for resp in batched:
        assert resp.status in ("ok", "truncated", "empty") and resp.usage.prompt_tokens > 0
        assert len(resp.finish_reasons) == 1


def test_truncation_is_marked(tiny_llama: Path) -> None:
    with make(tiny_llama) as llm:
        resp = llm.generate([greedy(PROMPTS[0], max_tokens=3)], progress=False)[0]
    # A random model rarely emits EOS within 3 tokens; when it does not, the reply is cut short.
    if resp.usage.completion_tokens == 3:
        assert resp.status == "truncated" and resp.finish_reasons == ("length",)


def test_stop_sequence_cuts_and_stops(tiny_llama: Path) -> None:
    with make(tiny_llama) as llm:
        full = llm.generate([greedy(PROMPTS[0], max_tokens=24)], progress=False)[0].text
        assert len(full) > 6, "the tiny model produced too little text to test stop sequences"
        stop = full[len(full) // 2 : len(full) // 2 + 2]
        resp = llm.generate([greedy(PROMPTS[0], max_tokens=24, stop=(stop,))], progress=False)[0]
    expected = full[: full.index(stop)]
    assert resp.text == expected and stop not in resp.text
    assert resp.finish_reasons == ("stop",)
    assert resp.usage.completion_tokens < 24


def test_n_samples_sampled_and_seeded(tiny_llama: Path) -> None:
    req = Request(key="s", prompt=PROMPTS[1], max_tokens=12, n=4, temperature=1.0, seed=7)
    with make(tiny_llama) as llm:
        first = llm.generate([req], progress=False)[0]
        again = llm.generate([req], progress=False)[0]
        chat = llm.generate([Request.chat("c", ("user", "hi"), max_tokens=5, n=2)], progress=False)
    assert len(first.texts) == 4 and len(set(first.texts)) > 1
    assert first.texts == again.texts  # same seed, same samples
    assert len(chat[0].texts) == 2 and chat[0].texts[0] == chat[0].texts[1]  # greedy n=2


def test_identity_tracks_weights_and_adapter(tiny_llama: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(tiny_llama, copy)
    assert model_identity(str(copy)) == model_identity(str(tiny_llama))  # a copy is the same model
    weights = copy / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF  # "retrained": different tensor bytes at the same path
    weights.write_bytes(bytes(data))
    assert model_identity(str(copy)) != model_identity(str(tiny_llama))


def test_changed_fingerprint_misses_the_cache(tiny_llama: Path, tmp_path: Path) -> None:
    model = tmp_path / "model"
    shutil.copytree(tiny_llama, model)
    cache = {"cache": True, "cache_path": str(tmp_path / "c.sqlite")}
    request = [greedy(PROMPTS[0])]
    with make(model, **cache) as llm:
        assert not llm.generate(request, progress=False)[0].cached
    with make(model, **cache) as llm:
        assert llm.generate(request, progress=False)[0].cached
        assert llm.backend._model is None  # type: ignore[attr-defined]  # never loaded
    _retrain(model)
    with make(model, **cache) as llm:
        assert not llm.generate(request, progress=False)[0].cached


def _retrain(model_dir: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(0.01)
    model.save_pretrained(model_dir)


def test_peft_adapter_is_loaded(tiny_llama: Path, tmp_path: Path) -> None:
    pytest.importorskip("peft")
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(tiny_llama)
    lora = LoraConfig(
        r=4, lora_alpha=64, target_modules=["q_proj", "v_proj"], init_lora_weights=False
    )
    adapter_dir = tmp_path / "adapter"
    get_peft_model(base, lora).save_pretrained(str(adapter_dir))
    requests = [greedy(p, key=f"k{i}", max_tokens=12) for i, p in enumerate(PROMPTS)]
    with make(tiny_llama) as plain, make(tiny_llama, adapter=str(adapter_dir)) as tuned:
        assert plain.identity != tuned.identity and "+adapter:" in tuned.identity
        a = plain.generate(requests, progress=False)
        b = tuned.generate(requests, progress=False)
        assert type(tuned.backend._model).__name__.startswith("Peft")  # type: ignore[attr-defined]
    assert [r.texts for r in a] != [r.texts for r in b]


def test_chat_without_template_is_a_clear_error(tiny_llama: Path, tmp_path: Path) -> None:
    model = tmp_path / "no_template"
    shutil.copytree(tiny_llama, model)
    (model / "chat_template.jinja").unlink(missing_ok=True)
    import json

    config = json.loads((model / "tokenizer_config.json").read_text())
    config.pop("chat_template", None)
    (model / "tokenizer_config.json").write_text(json.dumps(config))
    with make(model) as llm:
        resp = llm.generate([Request.chat("c", ("user", "hi"))], progress=False)[0]
    assert resp.status == "error" and "chat template" in (resp.error or "")
