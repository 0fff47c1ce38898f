"""Reading the discriminator's per-rule verdicts in the paper's text format and as JSON."""

from __future__ import annotations

import json

import pytest

from wavecoder.instruct.verdict import ParsedVerdict, VerdictFailure, parse_verdict, render_verdict

RULES = ("language_named", "only_code", "imports")
TEXT = """- step 1: check the instruction
  1. [language_named] <answer: yes, it says Python>
- step 2: check the solution
  2. [only_code] <answer: no, a Note: paragraph follows the code>
  3. [imports] <answer: yes, nothing to import; a > b is fine>
- Overall answer: no
- reasons: there is prose outside the code."""


def test_paper_text_format() -> None:
    v = parse_verdict(TEXT, RULES)
    assert [(r.rule, r.answer) for r in v.rules] == [
        ("language_named", "yes"), ("only_code", "no"), ("imports", "yes")]  # fmt: skip
    assert v.rules[2].reason == "nothing to import; a > b is fine"
    assert v.overall == "no" and v.reasons == "there is prose outside the code."
    assert not v.accepted and v.failed == ["only_code"]


def test_text_without_rule_ids_maps_by_order() -> None:
    text = "1. <answer: yes, ok>\n2. <answer: YES. ok>\n3. <answer:no - missing math>\n" \
           "Overall answer: **no**\nreasons: missing import"  # fmt: skip
    v = parse_verdict(text, RULES)
    assert [r.answer for r in v.rules] == ["yes", "yes", "no"] and v.overall == "no"


@pytest.mark.parametrize(
    "obj",
    [
        {
            "rules": [{"rule": r, "answer": "yes", "reason": "ok"} for r in RULES],
            "overall": "yes",
            "reasons": "fine",
        },
        {
            "rules": {r: {"answer": "Yes", "reason": "ok"} for r in reversed(RULES)},
            "overall": "YES",
            "reasons": "fine",
        },
        {"rules": [{"answer": "yes", "reason": "ok"}] * 3, "overall": "yes", "reasons": "fine"},
    ],
    ids=["list", "dict-any-order", "list-without-ids"],
)
def test_json_formats(obj: dict) -> None:  # type: ignore[type-arg]
    reply = "Here is my analysis:\n```json\n" + json.dumps(obj) + "\n```"
    v = parse_verdict(reply, RULES)
    assert [r.rule for r in v.rules] == list(RULES) and v.accepted


def test_overall_yes_with_a_rule_no_is_not_accepted() -> None:
    v = parse_verdict(TEXT.replace("Overall answer: no", "Overall answer: yes"), RULES)
    assert v.overall == "yes" and not v.accepted


@pytest.mark.parametrize(
    "reply",
    [
        "The instance looks good to me.",
        TEXT.replace("- Overall answer: no\n", ""),
        "\n".join(TEXT.splitlines()[:2] + TEXT.splitlines()[-2:]),
        json.dumps({"rules": [{"rule": r, "answer": "maybe"} for r in RULES], "overall": "no"}),
        json.dumps({"rules": [], "overall": "yes"}),
        json.dumps({"overall": "yes"}),
    ],
    ids=["prose", "no-overall", "too-few-rules", "not-yes-no", "empty-rules", "no-rules"],
)
def test_malformed_verdicts_raise(reply: str) -> None:
    with pytest.raises(VerdictFailure):
        parse_verdict(reply, RULES)


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_render_round_trips(fmt: str) -> None:
    v = parse_verdict(TEXT, RULES)
    again = parse_verdict(render_verdict(v, fmt), RULES)
    assert again == ParsedVerdict(v.rules, v.overall, v.reasons)
