"""A small finished run up to `judge`, built from records, for the export tests.

The upstream folders follow the contract with the generate/judge stages: `Code` in dedup's
folder, `Selected` in select's, every `Example` in generate's `records.jsonl` (with a
`Rejected(id=code id)` for each selected code without one), every `Verdict` in judge's (with a
`Rejected(id=example id)` for each example not accepted) and a `usage` block in both stats.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wavecoder.records import Code, Example, Record, Rejected, RuleVerdict, Selected, Verdict
from wavecoder.store import RunStore, StageDir

TEACHER = "gpt-3.5-turbo-0125"  # LLM client identities: model[@revision]
JUDGE = "gpt-4-0613"
RULES = ("language_named", "specific_resolution", "only_code")


def code(i: int, language: str, body: str) -> Code:
    return Code.new(
        language=language,
        code=body,
        source="codesearchnet",
        repo=f"octo/repo{i}",
        path=f"src/mod{i}.{language[:2]}",
        span=(10 * i + 1, 10 * i + 4),
        license="MIT" if i % 2 == 0 else "Apache-2.0",
        func_name=f"f{i}",
    )


def example(c: Code, task: Any, n: int, **kw: Any) -> Example:
    fields: dict[str, Any] = {
        "instruction": f"Write a {c.language} function number {n}.",
        "information": "<noinput>",
        "solution": f"def f{n}():\n    return {n}\n",
        "task_name": f"task {n}",
        "round": 0,
        "model": TEACHER,
        "prompt_version": f"{task}-v1",
    }
    fields.update(kw)
    return Example(id=f"ex{n}", code_id=c.id, task=task, language=c.language, **fields)


def verdict(ex: Example, answers: Iterable[str] = ("yes",) * 3, overall: Any = "yes") -> Verdict:
    rules = tuple(
        RuleVerdict(rule, a, f"{rule} is {a}")  # type: ignore[arg-type]
        for rule, a in zip(RULES, answers, strict=True)
    )
    accepted = overall == "yes" and all(r.answer == "yes" for r in rules)
    return Verdict(
        ex.id, accepted, rules, "looks fine" if accepted else "no", "", overall, JUDGE, ex.round
    )


@dataclass
class Built:
    store: RunStore
    codes: list[Code]
    examples: list[Example]
    verdicts: list[Verdict]
    usage: dict[str, dict[str, Any]]


def _finish(
    sd: StageDir,
    name: str,
    records: Iterable[Record],
    rejected: Iterable[Rejected],
    stats: dict[str, Any],
) -> None:
    sd.path.mkdir(parents=True, exist_ok=True)
    sd.write_records("records", records)
    sd.write_rejected(rejected)
    section = {"k": name, "llm": {"model": "m", "base_url": "http://10.1.2.3:8000/v1"}}
    sd.write_json(
        "fingerprint", {"fingerprint": f"fp-{name}", "config": {name: section}}, sharded=False
    )
    sd.write_json("stats", stats)
    sd.mark_done({"fingerprint": f"fp-{name}", "stats": stats})


def build(root: Path) -> Built:
    """Seven snippets, six selected: five accepted instances (one an exact repeat, so four are
    exported), one rejected by a rule, one unparseable verdict, one code the generator failed."""
    store = RunStore(root)
    codes = [
        code(0, "python", "def add(a, b):\n    return a + b\n"),
        code(1, "go", "func Add(a, b int) int {\n\treturn a + b\n}\n"),
        code(2, "python", "def sub(a, b):\n    return a - b\n"),
        code(3, "java", "int max(int a, int b) {\n  return a > b ? a : b;\n}\n"),
        code(4, "python", "def neg(x):\n    return -x\n"),
        code(5, "go", "func Id(x int) int { return x }\n"),
        code(6, "python", "def unused():\n    pass\n"),  # in dedup, not selected
    ]
    c = codes
    examples = [
        example(c[0], "generate", 0),
        example(c[1], "summarize", 1, information="func Add(a, b int) int", solution="Adds."),
        example(c[2], "translate", 2, target_language="go", information="def sub(a, b): ..."),
        example(
            c[3],
            "repair",
            3,
            information="int max(int a, int b) { return a < b ? a : b; }",
            meta={"bug_kind": "inverted_condition", "bug_line": "2", "bug_detail": "> -> <"},
        ),
        example(c[4], "repair", 4, meta={"bug_kind": "off_by_one", "bug_line": "2"}),
        example(c[0], "generate", 5, round=1),  # later round, unparseable verdict
        # same instruction, input and output as ex0: an exact repeat, dropped at export
        example(
            c[3],
            "generate",
            6,
            round=1,
            instruction=examples_text(0, "python"),
            solution="def f0():\n    return 0\n",
        ),
    ]
    verdicts = [
        verdict(examples[0]),
        verdict(examples[1]),
        verdict(examples[2]),
        verdict(examples[3]),
        verdict(examples[4], ("yes", "yes", "no"), "no"),
        Verdict(examples[5].id, False, (), "", "garbage", "", JUDGE, 1),
        verdict(examples[6]),
    ]
    usage = {
        "generate": {
            "requests": 8,
            "cache_hits": 1,
            "prompt_tokens": 8000,
            "completion_tokens": 2000,
            "cost_usd": 0.007,
        },
        "judge": {
            "requests": 7,
            "cache_hits": 0,
            "prompt_tokens": 7000,
            "completion_tokens": 700,
            "cost_usd": 0.252,
        },
    }
    _finish(store.stage("dedup"), "dedup", codes, [], {"in": 7, "out": 7})
    selected = [Selected(cc.id, rank, 1.0 / (rank + 1)) for rank, cc in enumerate(codes[:6])]
    _finish(store.stage("select"), "select", selected, [], {"in": 7, "out": 6})
    _finish(
        store.stage("generate"),
        "generate",
        examples,
        [Rejected(c[5].id, "generate", "generate.parse_failed", "no solution: key")],
        {"in": 6, "out": 7, "usage": usage["generate"], "by_task": {}},
    )
    _finish(
        store.stage("judge"),
        "judge",
        verdicts,
        [
            Rejected("ex4", "judge", "judge.rule.only_code", "only_code is no"),
            Rejected("ex5", "judge", "judge.unparseable", "garbage"),
        ],
        {"in": 7, "out": 5, "usage": usage["judge"], "by_task": {}},
    )
    accepted = {v.example_id for v in verdicts if v.accepted}
    _finish(store.stage("verify"), "verify", [], [], {"enabled": False})  # off, as by default
    _finish(
        store.stage("decontaminate"),
        "decontaminate",
        [ex for ex in examples if ex.id in accepted],
        [],
        {"in": len(accepted), "out": len(accepted)},
    )
    return Built(store, codes, examples, verdicts, usage)


def examples_text(n: int, language: str) -> str:
    return f"Write a {language} function number {n}."
