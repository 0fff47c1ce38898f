"""The local Hugging Face transformers backend: offline runs and evaluating a fine-tuned checkpoint.

Loads a causal LM from a hub id or a local directory (optionally a PEFT adapter directory on
top), on the GPU when there is one, with left padding for batched generation. Requests with the
same decoding settings are batched together (`batch_size` prompts at a time, `n` samples each);
chat requests go through the tokenizer's chat template, completion requests are tokenized as is.
Temperature 0 means greedy decoding. Stop sequences end generation (transformers' `stop_strings`)
and are cut from the text, as an OpenAI server would. The model loads on the first uncached
request, so a fully cached evaluation never loads it. Its cache identity is a fingerprint of the
weights (see `fingerprint.py`). Not here: caching, accounting (see `client.py`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from itertools import groupby
from typing import Any

from wavecoder.llm.base import LLMConfig, LLMError, Request, Response, Status, Usage
from wavecoder.llm.client import Admit, Emit
from wavecoder.llm.fingerprint import model_identity
from wavecoder.llm.parse import error

log = logging.getLogger(__name__)


def _signature(request: Request) -> tuple[Any, ...]:
    """Requests that can share one `generate` call have the same signature."""
    return (request.kind, request.max_tokens, request.temperature, request.top_p, request.n,
            request.stop, request.seed)  # fmt: skip


def cut_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """Text up to the earliest stop sequence, and whether one was found."""
    cuts = [i for i in (text.find(s) for s in stop if s) if i >= 0]
    return (text[: min(cuts)], True) if cuts else (text, False)


def pick_device(requested: str) -> str:
    if requested != "auto":
        return requested
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def pick_dtype(requested: str, device: str) -> Any:
    import torch

    if requested != "auto":
        return getattr(torch, requested)
    if device == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


class HFBackend:
    name = "transformers"

    def __init__(self, cfg: LLMConfig) -> None:
        self.cfg = cfg
        self._identity: str | None = None
        self._model: Any = None
        self._tokenizer: Any = None
        self.device = ""

    @property
    def identity(self) -> str:
        if self._identity is None:
            cfg = self.cfg
            self._identity = model_identity(
                cfg.model, revision=cfg.model_revision, adapter=cfg.adapter
            )
        return self._identity

    def load(self) -> None:
        """Load tokenizer, model and adapter (idempotent)."""
        if self._model is not None:
            return
        from transformers import AutoModelForCausalLM, AutoTokenizer

        cfg = self.cfg
        revision = cfg.model_revision or None
        self.device = pick_device(cfg.device)
        tok = AutoTokenizer.from_pretrained(
            cfg.model, revision=revision, trust_remote_code=cfg.trust_remote_code
        )
        tok.padding_side = "left"
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token
        model: Any = AutoModelForCausalLM.from_pretrained(
            cfg.model,
            revision=revision,
            dtype=pick_dtype(cfg.dtype, self.device),
            trust_remote_code=cfg.trust_remote_code,
        )
        if cfg.adapter:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, cfg.adapter)
        self._model = model.to(self.device).eval()
        self._tokenizer = tok
        log.info("loaded %s on %s (%s)", cfg.model, self.device, self.identity)

    async def run(self, jobs: Sequence[tuple[int, Request]], *, admit: Admit, emit: Emit) -> None:
        ordered = sorted(jobs, key=lambda job: repr(_signature(job[1])))
        for _, group in groupby(ordered, key=lambda job: repr(_signature(job[1]))):
            items = list(group)
            for start in range(0, len(items), self.cfg.batch_size):
                batch = items[start : start + self.cfg.batch_size]
                reserved: list[float] = []
                for _, request in batch:
                    cost = admit(request)
                    if cost is None:
                        break
                    reserved.append(cost)
                admitted = batch[: len(reserved)]
                if admitted:
                    replies = await asyncio.to_thread(self.generate_batch, [r for _, r in admitted])
                    for (index, _), reply, cost in zip(admitted, replies, reserved, strict=True):
                        emit(index, reply, cost)
                if len(admitted) < len(batch):
                    return  # the budget refused a request: send nothing more

    def _render(self, request: Request) -> str:
        if request.prompt is not None:
            return request.prompt
        tok = self._tokenizer
        if not getattr(tok, "chat_template", None):
            raise LLMError(
                f"{self.cfg.model}: chat request but the tokenizer has no chat template; "
                "send completion requests (prompt=...) with the model's own prompt format"
            )
        messages = [{"role": m.role, "content": m.content} for m in request.messages or ()]
        return str(tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))

    def generate_batch(self, requests: Sequence[Request]) -> list[Response]:
        """Generate for requests sharing one signature; errors become "error" responses."""
        try:
            self.load()
            prompts = [self._render(r) for r in requests]
            return self._generate(requests, prompts)
        except (LLMError, ValueError, RuntimeError) as exc:
            log.error("generation failed for a batch of %d: %s", len(requests), exc)
            return [error(r.key, "", f"{type(exc).__name__}: {exc}") for r in requests]

    def _generate(self, requests: Sequence[Request], prompts: list[str]) -> list[Response]:
        import torch

        first, tok = requests[0], self._tokenizer
        enc = tok(
            prompts,
            return_tensors="pt",
            padding=True,
            add_special_tokens=first.prompt is not None,
        ).to(self.device)
        sampled = first.temperature > 0
        per_prompt = first.n if sampled else 1  # greedy samples are identical: decode once
        kwargs: dict[str, Any] = {
            "max_new_tokens": first.max_tokens,
            "num_return_sequences": per_prompt,
            "pad_token_id": tok.pad_token_id,
            "do_sample": sampled,
        }
        if sampled:
            kwargs.update(temperature=first.temperature, top_p=first.top_p, top_k=0)
        else:
            kwargs.update(temperature=None, top_p=None, top_k=None)
        if first.stop:
            kwargs.update(stop_strings=list(first.stop), tokenizer=tok)
        if first.seed is not None:
            torch.manual_seed(first.seed)
        with torch.inference_mode():
            out = self._model.generate(**enc, **kwargs)
        new_tokens = out[:, enc["input_ids"].shape[1] :].tolist()
        prompt_lens = enc["attention_mask"].sum(dim=1).tolist()
        rows = [new_tokens[i * per_prompt : (i + 1) * per_prompt] for i in range(len(requests))]
        return [
            self._response(req, row if sampled else row * req.n, int(prompt_lens[i]))
            for i, (req, row) in enumerate(zip(requests, rows, strict=True))
        ]

    def _response(self, request: Request, samples: list[list[int]], prompt_len: int) -> Response:
        tok = self._tokenizer
        ends = self._end_ids()
        texts, reasons, used = [], [], 0
        for ids in samples:
            end = next((k for k, t in enumerate(ids) if t in ends), None)
            kept = ids if end is None else ids[:end]
            used += len(kept) + (0 if end is None else 1)
            text, stopped = cut_at_stop(tok.decode(kept, skip_special_tokens=True), request.stop)
            hit_limit = end is None and len(ids) >= request.max_tokens and not stopped
            texts.append(text)
            reasons.append("length" if hit_limit else "stop")
        status: Status = "truncated" if "length" in reasons else ("ok" if any(texts) else "empty")
        raw = "\n\x1e".join(texts)  # the decoded samples are the raw output of a local model
        usage = Usage(prompt_len, used)
        return Response(request.key, tuple(texts), tuple(reasons), status, raw, usage)

    def _end_ids(self) -> set[int]:
        """Token ids that end a sample: EOS (tokenizer and generation config) and padding."""
        value = getattr(self._model.generation_config, "eos_token_id", None)
        ids = set(value) if isinstance(value, list) else {value}
        ids |= {self._tokenizer.eos_token_id, self._tokenizer.pad_token_id}
        return {i for i in ids if isinstance(i, int)}

    async def aclose(self) -> None:
        self._model = None
        self._tokenizer = None
