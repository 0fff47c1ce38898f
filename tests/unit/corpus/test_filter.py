"""Filter rules: snippet -> expected reason tables, the stage's records and stats."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.corpus.stage_helpers import records, rejected, run_stage, write_codes
from wavecoder.corpus import filter as filter_stage
from wavecoder.corpus.filters import (
    CODE_ALPACA_BLACKLIST,
    FilterSpec,
    apply_rules,
    build_rules,
    first_paragraph,
)
from wavecoder.records import Code

BODY = "    total = 0\n    for x in xs:\n        total += x\n    return total\n"


def code(text: str, *, language: str = "python", name: str = "f", doc: str = "") -> Code:
    return Code.new(language=language, code=text, source="test", func_name=name, docstring=doc)


PAPER = build_rules(FilterSpec())
CSN = build_rules(
    FilterSpec(min_docstring_tokens=3, min_code_lines=3, drop_tests=True, drop_special=True)
)


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        ("def total(xs):\n" + BODY, None),
        ("def f(): pass", "too_short"),
        ("def f(xs):\n" + BODY * 12, "too_long"),
        ("def load(path):\n    image = open(path)\n" + BODY, "blacklist"),
        ("def load(path):\n    IMAGE = open(path)\n" + BODY, "blacklist"),  # case-insensitive
        ("def load(path):\n    image_data = open(path)\n" + BODY, None),  # whole words only
        ("def load(p):\n    # go  to the end\n" + BODY, "blacklist"),  # "go to", any spacing
        ("def load(p):\n    ago = toto(p)\n" + BODY, None),
        ("def draw(p):\n" + BODY, "blacklist"),
        ("def f(p):\n    x = p.files\n" + BODY, "blacklist"),
    ],
)
def test_paper_rules(snippet: str, expected: str | None) -> None:
    _, rule, detail = apply_rules(code(snippet), PAPER)
    assert (rule.reason if rule else None) == expected
    if rule:
        assert detail.startswith(f"{rule.field}: ")


@pytest.mark.parametrize(
    ("snippet", "language", "name", "doc", "expected"),
    [
        ("def total(xs):\n" + BODY, "python", "total", "Sum the numbers given.", None),
        ("def total(xs):\n" + BODY, "python", "total", "Sum it", "short_docstring"),
        (
            "def total(xs): return sum(xs) + sum(xs) + sum(xs) + 1",
            "python",
            "total",
            "Sum the numbers given.",
            "too_few_lines",
        ),
        (
            "def test_total(xs):\n" + BODY,
            "python",
            "T.test_total",
            "Check the sum works.",
            "test_function",
        ),
        (
            "def __repr__(self):\n" + BODY,
            "python",
            "T.__repr__",
            "Show the object here.",
            "special_method",
        ),
        (
            "def __init__(self):\n" + BODY,
            "python",
            "T.__init__",
            "Make the object now.",
            "special_method",
        ),
        (
            'public String toString() {\n  return name + " " + id + " " + kind;\n}\n',
            "java",
            "Pet.toString",
            "Render the pet now.",
            "special_method",
        ),
        (
            'public Pet(String n) {\n  this.name = n;\n  this.kind = "cat" + n;\n}\n',
            "java",
            "Pet.Pet",
            "Build a pet here.",
            "special_method",
        ),
        (
            "def initialize(name)\n  @name = name\n  @kind = 'cat'\n  @id = 1\nend",
            "ruby",
            "Pet.initialize",
            "Build a pet here.",
            "special_method",
        ),
    ],
)
def test_codesearchnet_rules(
    snippet: str, language: str, name: str, doc: str, expected: str | None
) -> None:
    _, rule, _ = apply_rules(code(snippet, language=language, name=name, doc=doc), CSN)
    assert (rule.reason if rule else None) == expected


def test_first_paragraph_cut() -> None:
    assert first_paragraph("Summary line\ncontinued.\n\nDetails.") == "Summary line\ncontinued."
    assert first_paragraph("Returns max.\n@param a first") == "Returns max."
    record = code("def total(xs):\n" + BODY, doc="Sum.\n\nLong details here and more.")
    cut, rule, _ = apply_rules(
        record, build_rules(FilterSpec(min_docstring_tokens=3)), first_paragraph_only=True
    )
    assert cut.docstring == "Sum." and cut.id == record.id
    assert rule is not None and rule.reason == "short_docstring"  # counted after the cut


def test_blacklist_has_code_alpacas_18_entries() -> None:
    assert len(CODE_ALPACA_BLACKLIST) == 18 and "go to" in CODE_ALPACA_BLACKLIST


def test_filter_stage_writes_reasons_and_counts(tmp_path: Path) -> None:
    kept = code("def total(xs):\n" + BODY, doc="Sum.\n\nMore.")
    short = code("def f(): pass")
    black = code("def plot(xs):\n" + BODY)
    write_codes(tmp_path / "ingest", [kept, short, black])
    cfg = filter_stage.Config(docstring_first_paragraph=True)
    stats = run_stage(
        filter_stage, tmp_path / "filter", cfg=cfg, inputs={"ingest": tmp_path / "ingest"}
    )
    assert stats == {"in": 3, "out": 1, "rejected.blacklist": 1, "rejected.too_short": 1}
    (survivor,) = records(tmp_path / "filter")
    assert survivor.id == kept.id and survivor.docstring == "Sum."
    reasons = {r.id: (r.stage, r.reason) for r in rejected(tmp_path / "filter")}
    assert reasons == {short.id: ("filter", "too_short"), black.id: ("filter", "blacklist")}


def test_bad_window_is_refused(tmp_path: Path) -> None:
    write_codes(tmp_path / "ingest", [])
    with pytest.raises(ValueError, match="min_chars"):
        run_stage(
            filter_stage,
            tmp_path / "f",
            cfg=filter_stage.Config(min_chars=900),
            inputs={"ingest": tmp_path / "ingest"},
        )
