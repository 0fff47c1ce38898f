"""Reading one case out of realistic teacher replies, and the pre-filter's rules."""

from __future__ import annotations

import json

import pytest

from wavecoder.instruct.parsing import Case, ParseFailure, parse_case
from wavecoder.instruct.prefilter import NOINPUT, Rejection, prefilter, sentences

CASE = {
    "task_name": "Add",
    "instruction": "Write a Python function that adds two numbers.",
    "information": "Both are ints.",
    "solution": "def add(a, b):\n    return a + b",
}
WANT = Case(**CASE)


@pytest.mark.parametrize(
    "reply",
    [
        json.dumps(CASE),
        "```json\n" + json.dumps(CASE, indent=2) + "\n```",
        "Sure! Here is the instance:\n" + json.dumps(CASE) + "\nLet me know if you need more.",
        json.dumps([CASE]),
        "task_name: Add\ninstruction: Write a Python function that adds two numbers.\n"
        "information: Both are ints.\nsolution:\ndef add(a, b):\n    return a + b",
        "Here you go.\n\n**Task name:** Add\n**Instruction:** Write a Python function that adds "
        "two numbers.\n**Information:** Both are ints.\n**Solution:**\n```python\n"
        "def add(a, b):\n    return a + b\n```\n",
        "- task_name: Add\n- instruction: Write a Python function that adds two numbers.\n"
        "- information: Both are ints.\n- solution: ```python\n"
        "def add(a, b):\n    return a + b\n```"
        "\nAnalysis: every rule is met\n- Overall answer: yes",
    ],
    ids=[
        "json",
        "fenced-json",
        "prose-around-json",
        "json-list",
        "key-value",
        "bold-fenced",
        "bullets-and-own-analysis",
    ],
)
def test_realistic_replies_parse_to_the_same_case(reply: str) -> None:
    assert parse_case(reply) == WANT


def test_solution_code_with_braces_and_colons_survives_key_value() -> None:
    code = 'func f(m map[string]int) int {\n\tinstruction := m["x"]\n\treturn instruction\n}'
    reply = f"task_name: t\ninstruction: Write Go.\ninformation: <noinput>\nsolution:\n{code}"
    assert parse_case(reply).solution == code


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ("I'm sorry, I can't do that.", "no_case"),
        (json.dumps(CASE) + "\n" + json.dumps(CASE), "two_cases"),
        (json.dumps([CASE, CASE]), "two_cases"),
        ("instruction: a.\ninformation: b\nsolution: c\ninstruction: d.\nsolution: e", "two_cases"),
        (json.dumps({k: v for k, v in CASE.items() if k != "solution"}), "missing_field"),
        ("task_name: x\ninstruction: Write Python.\nsolution: pass", "missing_field"),
        (json.dumps(CASE)[:60], "bad_json"),
    ],
    ids=[
        "prose-only",
        "two-json",
        "json-list-of-two",
        "two-key-value",
        "json-missing",
        "kv-missing",
        "truncated-json",
    ],
)
def test_unusable_replies_say_why(reply: str, reason: str) -> None:
    with pytest.raises(ParseFailure) as err:
        parse_case(reply)
    assert err.value.reason == reason and str(err.value)


def test_sentences_split_like_the_repository() -> None:
    assert sentences("Write a function. It returns 3.14 for pi! Why?") == [
        "Write a function.", "It returns 3.14 for pi!", "Why?"]  # fmt: skip
    assert len(sentences("Use math.pi in Python.")) == 1


@pytest.mark.parametrize("none_like", ["", "None", "none.", "none,", "N/A",
                                       "No additional information is required."])  # fmt: skip
def test_none_like_information_becomes_noinput(none_like: str) -> None:
    case = prefilter(Case("t", "Write Python.", none_like, "pass"), information="prose")
    assert case.information == NOINPUT


@pytest.mark.parametrize(
    ("case", "information", "rule"),
    [
        (Case("<noinput>", "Write Python.", "none", "x"), "prose", "noinput_fields"),
        (Case("t", "", "<noinput>", "x"), "prose", "instruction_sentences"),
        (
            Case("t", "Write it. In Python. Now.", "<noinput>", "x"),
            "prose",
            "instruction_sentences",
        ),
        (Case("t", "Write Python.", "One. Two. Three.", "x"), "prose", "information_sentences"),
        (Case("t", "Document this Python function.", "none", "x"), "code", "information_code"),
        (Case("t", "Write Python.", "<noinput>", "  "), "prose", "empty_solution"),
    ],
    ids=[
        "two-noinput",
        "no-instruction",
        "three-sentences",
        "long-information",
        "code-missing",
        "empty-solution",
    ],
)
def test_prefilter_rules(case: Case, information: str, rule: str) -> None:
    with pytest.raises(Rejection) as err:
        prefilter(case, information=information)  # type: ignore[arg-type]
    assert err.value.rule == rule


def test_code_information_is_not_split_into_sentences() -> None:
    code = "def f():\n    a. b. c. d.\n    return 1"
    assert prefilter(Case("t", "Document this Python code.", code, "It returns 1."),
                     information="code").information == code  # fmt: skip
