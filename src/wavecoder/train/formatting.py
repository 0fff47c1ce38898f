"""Prompt templates shared by training and evaluation: the one place that renders them.

The paper fine-tunes with the Stanford Alpaca template (reference §6.4): a with-input variant
and a no-input variant. Its repository trained on ``"...### Response:" + output`` (no newline)
but evaluated with ``"...### Response:\\n"``, so the model saw a context at test time that it
never saw in training. Decision: **the prompt ends with ``"### Response:\\n"`` in both places**.
The training text is ``alpaca_prompt(...) + output + eos``, so the evaluation prompt is an exact
prefix of the training text (tested), and at the token level the trainer
(``wavecoder.train.encode``) keeps the tokenised prompt as an exact prefix of the tokenised
training example.

Also here: the Magicoder-style prompt the WaveCoder authors used for HumanEval, a helper that
turns an Alpaca record into chat messages, and the split of a chat-template rendering into prompt
and completion. Everything is a pure function over strings (the chat helpers take any object with
HF's ``apply_chat_template``); nothing here imports torch or transformers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, Protocol

TemplateName = Literal["alpaca", "chat"]
"""How an Alpaca record becomes text: the paper's Alpaca template or the model's own chat template.
(Chat-messages records always use the chat template; prompt/completion records are verbatim.)"""

ALPACA_PREAMBLE_INPUT = (
    "Below is an instruction that describes a task, paired with an input that provides further "
    "context. Write a response that appropriately completes the request."
)
ALPACA_PREAMBLE_NO_INPUT = (
    "Below is an instruction that describes a task. Write a response that appropriately "
    "completes the request."
)
RESPONSE_HEADER = "### Response:\n"

MAGICODER_SYSTEM = (
    "You are an exceptionally intelligent coding assistant that consistently delivers accurate and "
    "reliable responses to user instructions."
)


def alpaca_prompt(instruction: str, input: str = "") -> str:
    """The Alpaca prompt up to and including ``"### Response:\\n"``.

    An ``input`` that is empty or only whitespace selects the no-input variant (the paper's data
    stores a missing input as ``""``).
    """
    if input.strip():
        return (
            f"{ALPACA_PREAMBLE_INPUT}\n\n### Instruction:\n{instruction}\n\n"
            f"### Input:\n{input}\n\n{RESPONSE_HEADER}"
        )
    return f"{ALPACA_PREAMBLE_NO_INPUT}\n\n### Instruction:\n{instruction}\n\n{RESPONSE_HEADER}"


def alpaca_text(instruction: str, input: str, output: str, eos: str) -> str:
    """The full training text: ``alpaca_prompt(instruction, input) + output + eos``."""
    return alpaca_prompt(instruction, input) + output + eos


def magicoder_prompt(instruction: str) -> str:
    """The Magicoder ``@@ Instruction`` / ``@@ Response`` prompt (WaveCoder's HumanEval README)."""
    return f"{MAGICODER_SYSTEM}\n\n@@ Instruction\n{instruction}\n\n@@ Response\n"


def alpaca_user_message(instruction: str, input: str = "") -> str:
    """An Alpaca instruction (and optional input) as one user turn for a chat template."""
    return f"{instruction}\n\n{input}" if input.strip() else instruction


def alpaca_messages(instruction: str, input: str, output: str) -> list[dict[str, str]]:
    """An Alpaca record as a user/assistant conversation (for ``template="chat"``)."""
    return [
        {"role": "user", "content": alpaca_user_message(instruction, input)},
        {"role": "assistant", "content": output},
    ]


class ChatTokenizer(Protocol):
    """The part of a Hugging Face tokenizer the chat helpers use."""

    def apply_chat_template(self, conversation: Any, **kwargs: Any) -> Any: ...


class TemplateError(ValueError):
    """A chat template renders a prompt that is not a prefix of the full conversation."""


def chat_prompt(tokenizer: ChatTokenizer, messages: Sequence[Mapping[str, str]]) -> str:
    """Render ``messages`` with the model's chat template, ready for the assistant's reply."""
    text = tokenizer.apply_chat_template(
        [dict(m) for m in messages], tokenize=False, add_generation_prompt=True
    )
    return str(text)


def chat_split(tokenizer: ChatTokenizer, messages: Sequence[Mapping[str, str]]) -> tuple[str, str]:
    """Split a conversation ending with an assistant turn into (prompt, completion) text.

    The prompt is what generation would see (all turns but the last, plus the generation prompt);
    the completion is the rest of the full rendering, so it carries whatever end-of-turn marker the
    template writes. Only the last assistant turn becomes the completion: earlier turns are context.
    """
    if not messages or messages[-1].get("role") != "assistant":
        raise TemplateError("a conversation must end with an assistant message")
    prompt = chat_prompt(tokenizer, messages[:-1])
    full = str(tokenizer.apply_chat_template([dict(m) for m in messages], tokenize=False))
    if not full.startswith(prompt):
        raise TemplateError(
            "the chat template renders the prompt differently from the start of the full "
            f"conversation (prompt ends {prompt[-40:]!r}); cannot mask the prompt reliably"
        )
    return prompt, full[len(prompt) :]
