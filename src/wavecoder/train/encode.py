"""Turn training records into token ids and labels: loss on the response and EOS only.

For each record the prompt is rendered (Alpaca template, the model's chat template, or verbatim) and
tokenized exactly as generation will tokenize it (``tokenizer(prompt)``, special tokens included;
chat renderings carry their own BOS, so none is added). The training ids are ``prompt_ids +
completion_ids + [eos]`` with labels ``-100`` on every prompt token, so the evaluation prompt's
tokens are an exact prefix of the training tokens. When the tokenizer would merge tokens across the
prompt/response boundary the response is tokenized on its own (counted as ``boundary_split``).
EOS is appended unless the completion already ends with it (chat templates often write their own).
Sequences longer than ``max_length`` keep their start and are counted as ``truncated``; one whose
response is cut away entirely carries no loss and is rejected (``prompt_too_long``), never dropped
silently. Nothing here builds a model or a trainer.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from wavecoder.train import formatting
from wavecoder.train.data import TrainRecord
from wavecoder.train.formatting import TemplateName

IGNORE_INDEX = -100


@dataclass(frozen=True)
class Encoded:
    input_ids: list[int]
    labels: list[int]


def render(record: TrainRecord, template: TemplateName, tokenizer: Any) -> tuple[str, str, bool]:
    """(prompt, completion, is_chat) text for one record under ``template``.

    Alpaca records follow ``template``; messages always use the model's chat template;
    prompt/completion records are used verbatim.
    """
    f = record.fields
    if record.format == "prompt_completion":
        return f["prompt"], f["completion"], False
    if record.format == "alpaca" and template != "chat":
        return formatting.alpaca_prompt(f["instruction"], f["input"]), f["output"], False
    if record.format == "alpaca":
        messages = formatting.alpaca_messages(f["instruction"], f["input"], f["output"])
    else:
        messages = f["messages"]
    if not getattr(tokenizer, "chat_template", None):
        raise formatting.TemplateError(
            f"{record.where}: the tokenizer has no chat template; use template=alpaca"
        )
    try:
        prompt, completion = formatting.chat_split(tokenizer, messages)
    except formatting.TemplateError as exc:
        raise formatting.TemplateError(f"{record.where}: {exc}") from exc
    return prompt, completion, True


def _ids(tokenizer: Any, text: str, special: bool) -> list[int]:
    return list(tokenizer(text, add_special_tokens=special)["input_ids"])


def tokenize_pair(
    tokenizer: Any, prompt: str, completion: str, *, chat: bool
) -> tuple[list[int], list[int], bool]:
    """(prompt_ids, completion_ids incl. EOS, boundary_split) for one example."""
    special = not chat
    prompt_ids = _ids(tokenizer, prompt, special)
    full = _ids(tokenizer, prompt + completion, special)
    split = full[: len(prompt_ids)] != prompt_ids
    completion_ids = _ids(tokenizer, completion, False) if split else full[len(prompt_ids) :]
    eos = tokenizer.eos_token_id
    if eos is None:
        raise ValueError("the tokenizer has no EOS token; set one before training")
    already = eos in completion_ids if chat else completion_ids[-1:] == [eos]
    if not already:
        completion_ids.append(eos)
    return prompt_ids, completion_ids, split


def encode(
    tokenizer: Any, prompt: str, completion: str, *, chat: bool, max_length: int
) -> tuple[Encoded | None, Counter[str]]:
    """Ids and labels for one example, cut to ``max_length``; None if no response token is left."""
    counts: Counter[str] = Counter()
    prompt_ids, completion_ids, split = tokenize_pair(tokenizer, prompt, completion, chat=chat)
    counts["boundary_split"] += int(split)
    ids = prompt_ids + completion_ids
    labels = [IGNORE_INDEX] * len(prompt_ids) + completion_ids
    if len(ids) > max_length:
        counts["truncated"] += 1
        ids, labels = ids[:max_length], labels[:max_length]
    if all(label == IGNORE_INDEX for label in labels):
        return None, counts
    return Encoded(ids, labels), counts


@dataclass(frozen=True)
class EncodedSet:
    """Encoded examples, the records rejected (``where``, reason) and counts for the summary."""

    examples: list[Encoded]
    rejected: list[tuple[str, str]]
    counts: dict[str, int]


def encode_records(
    records: Iterable[TrainRecord],
    tokenizer: Any,
    *,
    template: TemplateName,
    max_length: int,
) -> EncodedSet:
    examples: list[Encoded] = []
    rejected: list[tuple[str, str]] = []
    counts: Counter[str] = Counter()
    for record in records:
        counts["in"] += 1
        counts[f"format.{record.format}"] += 1
        prompt, completion, chat = render(record, template, tokenizer)
        enc, c = encode(tokenizer, prompt, completion, chat=chat, max_length=max_length)
        counts.update(c)
        if enc is None:
            counts["rejected.prompt_too_long"] += 1
            rejected.append((record.where, "prompt_too_long"))
            continue
        examples.append(enc)
        counts["tokens"] += len(enc.input_ids)
        counts["loss_tokens"] += sum(label != IGNORE_INDEX for label in enc.labels)
    counts["out"] = len(examples)
    return EncodedSet(examples, rejected, dict(counts))
