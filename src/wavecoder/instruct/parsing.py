"""Read one instruction case out of a teacher's reply, whatever shape the reply takes (pure).

Accepted shapes: a JSON object (bare, fenced, or inside stray prose), or the paper's `key: value`
lines (keys in any case, `**bold**` or `- bulleted`, values over several lines, the solution's
code in a fence or not). Before parsing, anything from an `Analysis:` line on is cut (the
generator sometimes writes its own analysis, reference §3.6). Raises `ParseFailure` with a
reason (`no_case`, `two_cases`, `missing_field`, `bad_json`) and a message the re-ask quotes.
`task_name` may be missing (it is dropped at export); the other three keys are required.
Not here: the pre-filter's rules on the values (`prefilter.py`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

KEYS = ("task_name", "instruction", "information", "solution")
REQUIRED = ("instruction", "information", "solution")
Reason = Literal["no_case", "two_cases", "missing_field", "bad_json"]

_ANALYSIS = re.compile(r"^[ \t]*[#*\- ]*<?(?:Analysis|ANALYSIS)>?[ \t]*\**[ \t]*:", re.M)
# A key starts its line (after an optional bullet or bold mark): an indented `instruction :=`
# inside the solution's code is code, not a second key.
_KEY_LINE = re.compile(
    r"^(?:[-*] )?\**[ \t]*(task[ _]name|instruction|information|solution)[ \t]*\**"
    r"[ \t]*:(?!=)[ \t]*\**[ \t]*(.*)$",
    re.I | re.M,
)
_FENCE = re.compile(r"```[\w+#.-]*[ \t]*\n(.*?)(?:\n[ \t]*```|\Z)", re.S)


class ParseFailure(ValueError):
    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason: Reason = reason


@dataclass(frozen=True)
class Case:
    task_name: str
    instruction: str
    information: str
    solution: str

    def to_dict(self) -> dict[str, str]:
        return {k: getattr(self, k) for k in KEYS}


def parse_case(reply: str) -> Case:
    """The one case in `reply` (see the module docstring for the shapes accepted)."""
    text = _cut_analysis(reply)
    objects = _json_objects(text)
    if objects:
        if len(objects) > 1:
            raise ParseFailure("two_cases", f"the reply holds {len(objects)} cases; write one")
        return _from_mapping(objects[0])
    if "{" in text and re.search(r'"(instruction|solution)"\s*:', text):
        raise ParseFailure("bad_json", "the reply's JSON object is not valid JSON (cut short?)")
    return _from_lines(text)


def _cut_analysis(reply: str) -> str:
    m = _ANALYSIS.search(reply)
    return reply[: m.start()] if m else reply


def _json_objects(text: str) -> list[dict[str, Any]]:
    """Every top-level JSON value in `text` that is (or lists) cases with our keys."""
    decoder = json.JSONDecoder()
    found: list[dict[str, Any]] = []
    i = 0
    while True:
        starts = [p for p in (text.find("{", i), text.find("[", i)) if p >= 0]
        if not starts:
            return found
        i = min(starts)
        try:
            value, end = decoder.raw_decode(text, i)
        except ValueError:
            i += 1
            continue
        items = value if isinstance(value, list) else [value]
        cases = [v for v in items if isinstance(v, dict) and set(v) & set(KEYS)]
        if isinstance(value, dict) and isinstance(value.get("cases"), list):
            cases = [v for v in value["cases"] if isinstance(v, dict)]
        found.extend(cases)
        i = end if cases else i + 1


def _from_mapping(obj: dict[str, Any]) -> Case:
    values = {_norm_key(str(k)): v for k, v in obj.items()}
    missing = [k for k in REQUIRED if k not in values]
    if missing:
        raise ParseFailure("missing_field", f"the case lacks the key(s) {', '.join(missing)}")
    return Case(**{k: _strip_fence(k, _as_text(values.get(k, ""))) for k in KEYS})


def _as_text(value: Any) -> str:
    if isinstance(value, list):
        return "\n".join(str(v) for v in value)
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


def _norm_key(key: str) -> str:
    key = key.strip().lower().replace(" ", "_")
    return "task_name" if key in ("task", "taskname", "name") else key


def _from_lines(text: str) -> Case:
    marks = list(_KEY_LINE.finditer(text))
    if not marks:
        raise ParseFailure("no_case", "no case found: write the keys " + ", ".join(KEYS))
    seen: dict[str, str] = {}
    for i, m in enumerate(marks):
        key = _norm_key(m.group(1))
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        value = (m.group(2) + text[m.end() : end]).strip()
        if key in seen:
            raise ParseFailure("two_cases", f"the key {key} appears twice; write one case")
        seen[key] = value.rstrip("*").strip() if key != "solution" else value
    missing = [k for k in REQUIRED if k not in seen]
    if missing:
        raise ParseFailure("missing_field", f"the case lacks the key(s) {', '.join(missing)}")
    return Case(**{k: _strip_fence(k, seen.get(k, "")) for k in KEYS})


def _strip_fence(key: str, value: str) -> str:
    """Code fences around a value go: the fenced code is the value (prose around it too)."""
    value = value.strip()
    if "```" not in value:
        return value
    blocks = _FENCE.findall(value)
    if key in ("solution", "information") and len(blocks) == 1:
        return blocks[0].strip("\n")
    return value
