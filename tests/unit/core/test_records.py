from __future__ import annotations

import pytest

from wavecoder.records import (
    Code,
    Example,
    Rejected,
    RuleVerdict,
    Selected,
    Verdict,
    normalize_code,
    normalize_language,
)


def _code(**kw: object) -> Code:
    args = dict(
        language="python",
        code="def f(x):\n    return x + 1\n",
        source="csn",
        repo="a/b",
        path="m.py",
        span=(3, 4),
    )
    args.update(kw)
    return Code.new(**args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("alias", "expected"),
    [
        ("JavaScript", "javascript"),
        ("js", "javascript"),
        ("CPP", "cpp"),
        ("c++", "cpp"),
        ("golang", "go"),
        ("Python", "python"),
        ("rust", "rust"),
    ],
)
def test_language_aliases(alias: str, expected: str) -> None:
    assert normalize_language(alias) == expected


def test_unknown_language_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown language 'cobol'"):
        normalize_language("cobol")


def test_code_round_trip_keeps_every_field() -> None:
    code = _code(docstring="Add one.", func_name="f", license="MIT")
    again = Code.from_json(code.to_json())
    assert again == code
    assert isinstance(again.span, tuple)


def test_same_function_in_two_repos_is_two_records_with_one_code_hash() -> None:
    a, b = _code(repo="a/b"), _code(repo="c/d")
    assert a.id != b.id
    assert a.code_hash == b.code_hash


def test_id_is_stable_and_depends_on_span() -> None:
    assert _code().id == _code().id
    assert _code(span=(5, 6)).id != _code().id


def test_code_hash_ignores_comments_and_whitespace_but_not_strings() -> None:
    a = _code(code="def f(x):\n    # add one\n    return x + 1\n")
    b = _code(code="def f(x):  return x + 1")
    c = _code(code="def f(x):\n    return '#' + x\n")
    d = _code(code="def f(x):\n    return '' + x\n")
    assert a.code_hash == b.code_hash
    assert c.code_hash != d.code_hash


@pytest.mark.parametrize(
    ("language", "left", "right"),
    [
        ("java", "int f() { // one\n return 1; }", "int f() { /* x */ return 1; }"),
        ("go", "func f() int {\n\treturn 1 // one\n}", "func f() int { return 1 }"),
        ("php", "function f() { # c\n return 1; }", "function f() { return 1; }"),
        ("ruby", "def f\n  1 # one\nend", "def f 1 end"),
    ],
)
def test_normalize_code_per_language(language: str, left: str, right: str) -> None:
    assert normalize_code(left, language) == normalize_code(right, language)  # type: ignore[arg-type]


def test_small_records_round_trip() -> None:
    verdict = Verdict(
        example_id="e1",
        accepted=False,
        rules=(RuleVerdict(rule="only code", answer="no", reason="a Note"),),
        reasons="explains outside the code",
        raw="raw reply",
    )
    example = Example(
        id="e1",
        code_id="c1",
        task="translate",
        language="python",
        instruction="Rewrite in Go.",
        information="<noinput>",
        solution="...",
        target_language="go",
        raw="task_name: ...",
    )
    for rec in (
        verdict,
        example,
        Rejected(id="x", stage="filter", reason="too_long"),
        Selected(code_id="c1", rank=0, radius=1.5),
    ):
        assert type(rec).from_json(rec.to_json()) == rec


def test_from_dict_refuses_unknown_fields() -> None:
    with pytest.raises(ValueError, match="unknown field"):
        Selected.from_dict({"code_id": "x", "rank": 0, "radius": 0.0, "extra": 1})


def test_hash_inside_python_docstring_is_not_a_comment() -> None:
    a = _code(code='def f():\n    """Use # sparingly."""\n    return 1\n')
    b = _code(code='def f():\n    """Use """\n    return 1\n')
    assert a.code_hash != b.code_hash
    assert "# sparingly" in normalize_code('def f():\n    """Use # sparingly."""', "python")


def test_field_types_are_resolved_once_per_class(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading records must not re-evaluate annotations per record (~1 ms each, minutes for a
    dataset); a nested record class is resolved once too."""
    import wavecoder.records as records

    calls: list[type] = []
    real = records.get_type_hints

    def counting(cls: type, *args: object, **kwargs: object) -> dict[str, object]:
        calls.append(cls)
        return real(cls)

    monkeypatch.setattr(records, "get_type_hints", counting)
    records._field_types.cache_clear()
    v = Verdict("ex", True, (RuleVerdict("r", "yes", "ok"),), overall="yes")
    for _ in range(50):
        assert Verdict.from_dict(v.to_dict()) == v
    assert sorted(c.__name__ for c in calls) == ["RuleVerdict", "Verdict"]
    records._field_types.cache_clear()
