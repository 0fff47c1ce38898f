"""The Alpaca template renders the paper's text; the eval prompt prefixes the training text."""

from __future__ import annotations

import pytest

from wavecoder.train import formatting as fmt


def test_no_input_variant_matches_the_alpaca_text() -> None:
    expected = (
        "Below is an instruction that describes a task. Write a response that appropriately "
        "completes the request.\n\n### Instruction:\nAdd two numbers.\n\n### Response:\n"
    )
    assert fmt.alpaca_prompt("Add two numbers.") == expected
    assert fmt.alpaca_prompt("Add two numbers.", "  \n") == expected


def test_with_input_variant_matches_the_alpaca_text() -> None:
    expected = (
        "Below is an instruction that describes a task, paired with an input that provides further "
        "context. Write a response that appropriately completes the request.\n\n"
        "### Instruction:\nFix the bug.\n\n### Input:\ndef f(): retrun 1\n\n### Response:\n"
    )
    assert fmt.alpaca_prompt("Fix the bug.", "def f(): retrun 1") == expected


@pytest.mark.parametrize("inp", ["", "x = 1"])
def test_eval_prompt_is_an_exact_prefix_of_the_training_text(inp: str) -> None:
    text = fmt.alpaca_text("Do it.", inp, "def f():\n    return 1", "</s>")
    prompt = fmt.alpaca_prompt("Do it.", inp)
    assert text.startswith(prompt)
    assert text[len(prompt) :] == "def f():\n    return 1</s>"
    assert prompt.endswith("### Response:\n")


def test_alpaca_messages_put_the_input_in_the_user_turn() -> None:
    msgs = fmt.alpaca_messages("Explain.", "print(1)", "It prints 1.")
    assert msgs == [
        {"role": "user", "content": "Explain.\n\nprint(1)"},
        {"role": "assistant", "content": "It prints 1."},
    ]
    assert fmt.alpaca_messages("Explain.", "", "x")[0]["content"] == "Explain."


def test_magicoder_prompt_ends_with_the_response_header() -> None:
    p = fmt.magicoder_prompt("Write a solution.")
    assert "@@ Instruction\nWrite a solution.\n\n@@ Response\n" in p


class _Template:
    """A stand-in tokenizer that renders like a simple chat template."""

    def __init__(self, consistent: bool = True) -> None:
        self.consistent = consistent

    def apply_chat_template(self, conversation, tokenize=False, add_generation_prompt=False):  # type: ignore[no-untyped-def]
        text = "".join(f"<{m['role']}>{m['content']}</t>" for m in conversation)
        if add_generation_prompt:
            text += "<assistant>" if self.consistent else "<bot>"
        return text


def test_chat_split_returns_the_generation_prompt_and_the_reply() -> None:
    msgs = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]
    prompt, completion = fmt.chat_split(_Template(), msgs)
    assert prompt == "<user>hi</t><assistant>"
    assert completion == "yo</t>"


def test_chat_split_refuses_inconsistent_templates_and_non_assistant_endings() -> None:
    msgs = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]
    with pytest.raises(fmt.TemplateError, match="renders the prompt differently"):
        fmt.chat_split(_Template(consistent=False), msgs)
    with pytest.raises(fmt.TemplateError, match="end with an assistant"):
        fmt.chat_split(_Template(), msgs[:1])
