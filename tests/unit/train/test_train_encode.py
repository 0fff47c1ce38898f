"""Token-by-token checks of the training examples: prompt masked, response and EOS trained."""

from __future__ import annotations

from typing import Any

from wavecoder.train import formatting
from wavecoder.train.data import TrainRecord, parse_record
from wavecoder.train.encode import IGNORE_INDEX, encode, encode_records


def _alpaca(instruction: str, inp: str, output: str) -> TrainRecord:
    return parse_record({"instruction": instruction, "input": inp, "output": output}, "t:1")


def test_prompt_tokens_are_masked_and_response_plus_eos_are_trained(tokenizer: Any) -> None:
    rec = _alpaca("Add one.", "x = 1", "def f(x):\n    return x + 1")
    out = encode_records([rec], tokenizer, template="alpaca", max_length=512)
    (ex,) = out.examples
    # What the evaluator feeds the model: tokenizer(eval prompt), special tokens included.
    eval_ids = tokenizer(formatting.alpaca_prompt("Add one.", "x = 1"))["input_ids"]
    assert ex.input_ids[: len(eval_ids)] == eval_ids
    assert eval_ids[0] == tokenizer.bos_token_id and ex.input_ids.count(tokenizer.bos_token_id) == 1
    for i, (tok, label) in enumerate(zip(ex.input_ids, ex.labels, strict=True)):
        if i < len(eval_ids):
            assert label == IGNORE_INDEX, f"prompt token {i} carries loss"
        else:
            assert label == tok, f"response token {i} has no loss"
    assert ex.input_ids[-1] == tokenizer.eos_token_id and ex.labels[-1] == tokenizer.eos_token_id
    response = tokenizer.decode(ex.input_ids[len(eval_ids) : -1])
    assert response == "def f(x):\n    return x + 1"
    assert out.counts["loss_tokens"] == len(ex.input_ids) - len(eval_ids)


def test_eval_prompt_is_a_text_prefix_of_the_decoded_training_example(tokenizer: Any) -> None:
    rec = _alpaca("Reverse a list.", "", "return xs[::-1]")
    (ex,) = encode_records([rec], tokenizer, template="alpaca", max_length=512).examples
    text = tokenizer.decode(ex.input_ids, skip_special_tokens=True)
    assert text.startswith(formatting.alpaca_prompt("Reverse a list."))


def test_response_merging_with_the_prompt_boundary_keeps_the_prompt_tokens(tokenizer: Any) -> None:
    # Byte-level BPE groups "\n" with following spaces: the response is tokenized on its own.
    prompt = formatting.alpaca_prompt("Indent.")
    enc, counts = encode(tokenizer, prompt, "    return 1", chat=False, max_length=512)
    assert enc is not None
    prompt_ids = tokenizer(prompt)["input_ids"]
    assert enc.input_ids[: len(prompt_ids)] == prompt_ids
    assert all(label == IGNORE_INDEX for label in enc.labels[: len(prompt_ids)])
    assert tokenizer.decode(enc.input_ids[len(prompt_ids) : -1]) == "    return 1"
    assert counts["boundary_split"] == (
        tokenizer(prompt + "    return 1")["input_ids"][: len(prompt_ids)] != prompt_ids
    )


def test_truncation_is_counted_and_prompt_only_examples_are_rejected(tokenizer: Any) -> None:
    long_output = "x = 1\n" * 200
    recs = [_alpaca("Short.", "", long_output), _alpaca("Long " * 300, "", "ok")]
    out = encode_records(recs, tokenizer, template="alpaca", max_length=64)
    assert out.counts["truncated"] == 2
    assert out.counts["rejected.prompt_too_long"] == 1 and out.counts["out"] == 1
    assert out.rejected == [("t:1", "prompt_too_long")]
    (ex,) = out.examples
    assert len(ex.input_ids) == 64 and ex.labels[-1] != IGNORE_INDEX
    assert ex.input_ids[-1] != tokenizer.eos_token_id  # cut before the end: no EOS to learn


def test_chat_template_masks_everything_but_the_last_assistant_turn(tokenizer: Any) -> None:
    rec = parse_record(
        {
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Say hi."},
                {"role": "assistant", "content": "hi"},
                {"role": "user", "content": "Again."},
                {"role": "assistant", "content": "hello"},
            ]
        },
        "m:1",
    )
    (ex,) = encode_records([rec], tokenizer, template="alpaca", max_length=512).examples
    trained = [t for t, label in zip(ex.input_ids, ex.labels, strict=True) if label != -100]
    # The template writes "hello</s>\n"; EOS is already there, so none is added.
    assert tokenizer.decode(trained) == "hello</s>\n"
    assert ex.input_ids.count(tokenizer.bos_token_id) == 1  # the template's BOS, not a second one
    prompt = formatting.chat_prompt(tokenizer, rec.fields["messages"][:-1])
    assert tokenizer.decode(ex.input_ids).startswith(prompt)


def test_alpaca_records_can_use_the_models_chat_template(tokenizer: Any) -> None:
    rec = _alpaca("Explain.", "print(1)", "It prints 1.")
    (ex,) = encode_records([rec], tokenizer, template="chat", max_length=512).examples
    text = tokenizer.decode(ex.input_ids)
    assert text.startswith("<s><|user|>\nExplain.\n\nprint(1)\n<|assistant|>\n")
    trained = [t for t, label in zip(ex.input_ids, ex.labels, strict=True) if label != -100]
    assert tokenizer.decode(trained) == "It prints 1.</s>\n"


def test_prompt_completion_records_are_verbatim_with_eos(tokenizer: Any) -> None:
    rec = parse_record({"prompt": "def add(a, b):", "completion": "\n    return a + b"}, "p:1")
    (ex,) = encode_records([rec], tokenizer, template="alpaca", max_length=512).examples
    trained = [t for t, label in zip(ex.input_ids, ex.labels, strict=True) if label != -100]
    assert tokenizer.decode(trained) == "\n    return a + b</s>"
