"""Read the discriminator's verdict, rule by rule, from its reply; render one back (pure).

Two formats. Text (the paper's, reference §4.3): per rule a line holding
`<answer: yes|no, reason>` (optionally with the `[rule_id]` the prompt gave it), then
`- Overall answer: yes|no` and `- reasons: ...`. JSON: `{"rules": [{"rule", "answer",
"reason"}, ...] | {rule_id: {"answer", "reason"}}, "overall", "reasons"}`, bare, fenced or
inside prose. Answers are matched to the task's rules by id where the reply names them, else by
order; a reply that answers another number of rules, or gives no overall answer, raises
`VerdictFailure` (the caller re-asks once, then records `judge.unparseable`, never a crash).
`accepted` holds only when the overall answer and every rule say yes.
Not here: what the rules are (the judge prompt files, via `task.TaskSpec.rules`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from wavecoder.records import RuleVerdict

Answer = Literal["yes", "no"]
_ANSWER = re.compile(r"<\s*answer\s*:\s*(yes|no)\b[\s,.:;-]*(.*)>", re.I)
_RULE_ID = re.compile(r"\[([a-z_][a-z0-9_]*)\]")
_OVERALL = re.compile(r"overall[ _]answer\**\s*:\s*\**\s*<?\s*(?:answer\s*:\s*)?(yes|no)\b", re.I)
_REASONS = re.compile(r"^[\s\-*]*reasons?\**\s*:\s*(.*)", re.I | re.M | re.S)


class VerdictFailure(ValueError):
    pass


@dataclass(frozen=True)
class ParsedVerdict:
    rules: tuple[RuleVerdict, ...]
    overall: Answer
    reasons: str

    @property
    def accepted(self) -> bool:
        return self.overall == "yes" and all(r.answer == "yes" for r in self.rules)

    @property
    def failed(self) -> list[str]:
        return [r.rule for r in self.rules if r.answer != "yes"]


def parse_verdict(reply: str, rules: Sequence[str]) -> ParsedVerdict:
    obj = _json_verdict(reply)
    if obj is not None:
        return _from_json(obj, rules)
    return _from_text(reply, rules)


def _answer(value: Any) -> Answer | None:
    text = str(value).strip().lower()
    if text.startswith("yes") or text == "true":
        return "yes"
    if text.startswith("no") or text == "false":
        return "no"
    return None


def _json_verdict(reply: str) -> dict[str, Any] | None:
    decoder = json.JSONDecoder()
    i = reply.find("{")
    while i >= 0:
        try:
            value, _ = decoder.raw_decode(reply, i)
        except ValueError:
            value = None
        if isinstance(value, dict) and ("overall" in value or "rules" in value):
            return value
        i = reply.find("{", i + 1)
    return None


def _from_json(obj: dict[str, Any], rules: Sequence[str]) -> ParsedVerdict:
    raw = obj.get("rules")
    items: list[tuple[str | None, Any, str]] = []
    if isinstance(raw, dict):
        for rid, v in raw.items():
            v = v if isinstance(v, dict) else {"answer": v}
            items.append((str(rid), v.get("answer"), str(v.get("reason") or "")))
    elif isinstance(raw, list):
        for v in raw:
            if not isinstance(v, dict):
                raise VerdictFailure("each entry of 'rules' must be an object")
            rid = v.get("rule") or v.get("id")
            items.append((str(rid) if rid else None, v.get("answer"), str(v.get("reason") or "")))
    else:
        raise VerdictFailure("the verdict has no 'rules' list")
    overall = _answer(obj.get("overall", ""))
    if overall is None:
        raise VerdictFailure("the verdict has no overall answer yes or no")
    return ParsedVerdict(_match(items, rules), overall, str(obj.get("reasons") or ""))


def _from_text(reply: str, rules: Sequence[str]) -> ParsedVerdict:
    items: list[tuple[str | None, Any, str]] = []
    for line in reply.splitlines():
        m = _ANSWER.search(line)
        if m and not _OVERALL.search(line):
            rid = _RULE_ID.search(line)
            items.append((rid.group(1) if rid else None, m.group(1), m.group(2).strip()))
    overall = _OVERALL.search(reply)
    if overall is None:
        raise VerdictFailure("no '- Overall answer: yes|no' line")
    reasons = _REASONS.search(reply[overall.end() :])
    text = reasons.group(1).strip() if reasons else ""
    return ParsedVerdict(_match(items, rules), _answer(overall.group(1)) or "no", text)


def _match(
    items: list[tuple[str | None, Any, str]], rules: Sequence[str]
) -> tuple[RuleVerdict, ...]:
    named = {rid: (a, r) for rid, a, r in items if rid in rules}
    if len(named) == len(rules):
        pairs = [(rid, *named[rid]) for rid in rules]
    elif len(items) == len(rules):
        pairs = [(rid, a, r) for rid, (_, a, r) in zip(rules, items, strict=True)]
    else:
        missing = [rid for rid in rules if rid not in named]
        raise VerdictFailure(
            f"the verdict answers {len(items)} of {len(rules)} rules "
            f"(missing: {', '.join(missing)}); answer every rule, in order"
        )
    out = []
    for rid, answer, reason in pairs:
        value = _answer(answer)
        if value is None:
            raise VerdictFailure(f"rule {rid}: the answer must be yes or no, got {answer!r}")
        out.append(RuleVerdict(rid, value, reason))
    return tuple(out)


def render_verdict(v: ParsedVerdict, fmt: str) -> str:
    """The verdict as the judge is asked to write it (for the example pools' analyses)."""
    if fmt != "text":
        rules = [{"rule": r.rule, "answer": r.answer, "reason": r.reason} for r in v.rules]
        return json.dumps({"rules": rules, "overall": v.overall, "reasons": v.reasons})
    lines = [
        f"  {i}. [{r.rule}] <answer: {r.answer}, {r.reason}>" for i, r in enumerate(v.rules, 1)
    ]
    return "\n".join([*lines, f"- Overall answer: {v.overall}", f"- reasons: {v.reasons}"])
