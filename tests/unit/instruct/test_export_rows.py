"""The pure join behind export: every selected code and every example ends somewhere counted."""

from __future__ import annotations

from tests.unit.instruct.export_run import code, example, verdict
from wavecoder.instruct.export_rows import alpaca_input, join, verdict_reason
from wavecoder.records import Selected, Verdict


def test_missing_verdicts_code_and_outside_examples_are_counted() -> None:
    a, b, c = (code(i, "python", f"def f{i}():\n    return {i}\n") for i in range(3))
    exs = [example(a, "generate", 0), example(b, "generate", 1), example(c, "generate", 2)]
    selected = [Selected(a.id, 0, 1.0), Selected(b.id, 1, 0.5)]  # c is not in the coreset
    kept, dropped, funnel = join(
        selected=selected,
        codes={a.id: a},  # b's code is missing
        examples=[*exs, example(a, "generate", 3, round=1)],  # ex3 never judged
        verdicts=[verdict(exs[0]), verdict(exs[1]), verdict(exs[2])],
    )
    assert [i.example.id for i in kept] == ["ex0"]
    assert [(r.id, r.reason, r.detail) for r in dropped] == [("ex1", "export.missing_code", b.id)]
    assert (funnel.selected, funnel.with_example, funnel.examples) == (2, 2, 3)
    assert (funnel.judged, funnel.accepted, funnel.exported, funnel.not_selected) == (2, 2, 1, 1)
    assert funnel.drops["judge"] == {"judge.no_verdict": 1}
    assert funnel.to_stats()["funnel.not_selected"] == 1


def test_repeats_are_kept_without_dedup_and_later_verdicts_win() -> None:
    a, b = (code(i, "go", f"func F{i}() {{}}\n") for i in range(2))
    same = {"instruction": "Write a go function.", "solution": "func F() {}\n"}
    e0, e1 = example(a, "generate", 0, **same), example(b, "generate", 1, **same)
    rejected_then_accepted = [verdict(e1, ("no", "yes", "yes"), "no"), verdict(e1)]
    kwargs = dict(
        selected=[Selected(a.id, 0, 1.0), Selected(b.id, 1, 0.5)],
        codes={a.id: a, b.id: b},
        examples=[e1, e0],
        verdicts=[verdict(e0), *rejected_then_accepted],
    )
    kept, dropped, _ = join(**kwargs)  # type: ignore[arg-type]
    assert [i.example.id for i in kept] == ["ex0"] and dropped[0].reason == "export.duplicate"
    kept, dropped, _ = join(**kwargs, dedup=False)  # type: ignore[arg-type]
    assert [i.example.id for i in kept] == ["ex0", "ex1"] and not dropped


def test_drop_reasons_read_off_a_verdict_and_noinput_spellings() -> None:
    e = example(code(0, "python", "x = 1\n"), "repair", 0)
    assert verdict_reason(verdict(e, ("yes", "no", "no"), "no")) == "judge.rule.specific_resolution"
    assert verdict_reason(verdict(e, ("yes", "yes", "yes"), "no")) == "judge.overall_no"
    unparsed = Verdict(e.id, False, (), "", "???", "", "judge", 0)
    assert verdict_reason(unparsed) == "judge.unparseable"
    assert [alpaca_input(x) for x in ("<noinput>", " <NoInput> ", "", "x = 1")] == [
        "",
        "",
        "",
        "x = 1",
    ]
