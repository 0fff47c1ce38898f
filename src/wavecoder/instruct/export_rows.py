"""The accepted instances as dataset rows: the join of code, example and verdict, and the funnel.

Pure functions over records. `join` walks the selected code in coreset order, pairs each
`Example` with its `Verdict` and its raw `Code`, and gives back the rows to export plus a reason
for every unit that does not reach the dataset, so the funnel from selected code to exported
instance adds up. `alpaca_row` / `messages_row` are the two record shapes `wavecoder train`
reads; both carry the same `lineage` object. Not here: files (`export_files`), the stage shell
(`export`), the report (`report`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from wavecoder.records import Code, Example, Execution, Rejected, Selected, Verdict
from wavecoder.train.formatting import alpaca_messages

NOINPUT = "<noinput>"


@dataclass(frozen=True)
class Instance:
    """One accepted example with everything its lineage needs."""

    example: Example
    verdict: Verdict
    code: Code
    execution: Execution | None = None  # the `verify` stage's check, when it ran


@dataclass
class Funnel:
    """Counts at each step from selected code to exported instance, and the reasons for drops.

    Units: `selected` and `with_example` count code snippets; the later steps count examples
    (a snippet may give several examples over rounds). `drops[stage][reason]` counts the units
    each step lost.
    """

    selected: int = 0
    not_selected: int = 0  # examples of code outside the coreset: counted, never exported
    with_example: int = 0
    examples: int = 0
    judged: int = 0
    accepted: int = 0
    verified: int | None = None  # accepted and not dropped by `verify` (None: verify off)
    clean: int = 0  # accepted and not dropped as a benchmark copy by `decontaminate`
    exported: int = 0
    drops: dict[str, Counter[str]] = field(
        default_factory=lambda: {
            "generate": Counter(),
            "judge": Counter(),
            "verify": Counter(),
            "decontaminate": Counter(),
            "export": Counter(),
        }
    )
    judged_by_task: Counter[str] = field(default_factory=Counter)
    accepted_by_task: Counter[str] = field(default_factory=Counter)
    rule_answers: Counter[tuple[str, str]] = field(default_factory=Counter)  # (task, rule)
    rule_yes: Counter[tuple[str, str]] = field(default_factory=Counter)

    def count_verdict(self, task: str, verdict: Verdict) -> None:
        self.judged += 1
        self.judged_by_task[task] += 1
        self.accepted_by_task[task] += int(verdict.accepted)
        for rv in verdict.rules:
            self.rule_answers[(task, rv.rule)] += 1
            self.rule_yes[(task, rv.rule)] += int(rv.answer == "yes")

    def steps(self) -> list[tuple[str, int, str]]:
        """(label, count, the stage whose drops are lost on the way to this step)."""
        verify = [] if self.verified is None else [("passes its tests", self.verified, "verify")]
        return [
            ("selected code", self.selected, ""),
            ("code with an instance", self.with_example, "generate"),
            ("instances generated", self.examples, ""),
            ("accepted by the judge", self.accepted, "judge"),
            *verify,
            ("not a benchmark copy", self.clean, "decontaminate"),
            ("exported", self.exported, "export"),
        ]

    def to_stats(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "funnel.selected": self.selected,
            "funnel.with_example": self.with_example,
            "funnel.examples": self.examples,
            "funnel.judged": self.judged,
            "funnel.accepted": self.accepted,
            **({} if self.verified is None else {"funnel.verified": self.verified}),
            "funnel.clean": self.clean,
            "funnel.exported": self.exported,
        }
        if self.not_selected:
            out["funnel.not_selected"] = self.not_selected
        for stage, reasons in self.drops.items():
            for reason, n in sorted(reasons.items()):
                out[f"dropped.{stage}.{reason}"] = n
        return out

    def acceptance(self) -> dict[str, Any]:
        """The judge's answers by task and by (task, rule), for `funnel.json`."""
        return {
            "by_task": {
                t: {"judged": n, "accepted": self.accepted_by_task[t]}
                for t, n in sorted(self.judged_by_task.items())
            },
            "by_rule": {
                f"{task}/{rule}": {"answered": n, "yes": self.rule_yes[(task, rule)]}
                for (task, rule), n in sorted(self.rule_answers.items())
            },
        }


def verdict_reason(verdict: Verdict) -> str:
    """Why the judge did not accept: its first failing rule, else its overall answer."""
    for rv in verdict.rules:
        if rv.answer != "yes":
            return f"judge.rule.{rv.rule}"
    if verdict.overall == "":
        return "judge.unparseable"
    return "judge.overall_no"


def _last_by(records: Iterable[Any], key: str) -> dict[str, Any]:
    """Later records win: a unit retried in a later round is judged by its last attempt."""
    return {getattr(r, key): r for r in records}


def join(
    *,
    selected: Iterable[Selected],
    codes: Mapping[str, Code],
    examples: Iterable[Example],
    verdicts: Iterable[Verdict],
    generate_rejected: Iterable[Rejected] = (),
    judge_rejected: Iterable[Rejected] = (),
    verified: Iterable[Rejected] | None = None,
    decontaminated: Iterable[Rejected] = (),
    executions: Mapping[str, Execution] | None = None,
    dedup: bool = True,
) -> tuple[list[Instance], list[Rejected], Funnel]:
    """The instances to export (coreset order, then round, then id), export's own drops, and
    the funnel. Every selected code ends in an instance or a counted reason. `verified` are the
    accepted examples the `verify` stage dropped (None: verify did not run), `decontaminated`
    those the `decontaminate` stage dropped as benchmark copies; `executions` the verify
    stage's checks by example id (kept instances carry theirs: the label of `policy: label`)."""
    order = {s.code_id: s.rank for s in selected}
    by_code: dict[str, list[Example]] = {}
    outside = 0
    for ex in examples:
        if ex.code_id in order:
            by_code.setdefault(ex.code_id, []).append(ex)
        else:
            outside += 1
    verdict_of = _last_by(verdicts, "example_id")
    gen_reason = {r.id: r.reason for r in generate_rejected}
    judge_reason = {r.id: r.reason for r in judge_rejected}
    copy_reason = {r.id: r.reason for r in decontaminated}
    failed = {r.id: r.reason for r in verified or ()}
    funnel = Funnel(selected=len(order), with_example=len(by_code), not_selected=outside,
                    verified=None if verified is None else 0)  # fmt: skip
    for code_id in order:
        if code_id not in by_code:
            funnel.drops["generate"][gen_reason.get(code_id, "generate.no_record")] += 1
    accepted: list[Instance] = []
    dropped: list[Rejected] = []
    for code_id in sorted(by_code, key=order.__getitem__):
        for ex in sorted(by_code[code_id], key=lambda e: (e.round, e.id)):
            funnel.examples += 1
            verdict = verdict_of.get(ex.id)
            if verdict is None:
                funnel.drops["judge"]["judge.no_verdict"] += 1
                continue
            funnel.count_verdict(ex.task, verdict)
            if not verdict.accepted:
                funnel.drops["judge"][judge_reason.get(ex.id) or verdict_reason(verdict)] += 1
                continue
            funnel.accepted += 1
            if ex.id in failed:
                funnel.drops["verify"][failed[ex.id]] += 1
                continue
            if funnel.verified is not None:
                funnel.verified += 1
            if ex.id in copy_reason:
                funnel.drops["decontaminate"][copy_reason[ex.id]] += 1
                continue
            funnel.clean += 1
            code = codes.get(code_id)
            if code is None:
                dropped.append(Rejected(ex.id, "export", "export.missing_code", code_id))
                continue
            accepted.append(Instance(ex, verdict, code, (executions or {}).get(ex.id)))
    kept, dupes = dedup_instances(accepted) if dedup else (accepted, [])
    dropped += dupes
    for rej in dropped:
        funnel.drops["export"][rej.reason] += 1
    funnel.exported = len(kept)
    return kept, dropped, funnel


def dedup_instances(instances: list[Instance]) -> tuple[list[Instance], list[Rejected]]:
    """Drop exact repeats of (instruction, input, output): the first one in order is kept."""
    seen: dict[tuple[str, str, str], str] = {}
    kept: list[Instance] = []
    dupes: list[Rejected] = []
    for inst in instances:
        ex = inst.example
        key = (ex.instruction.strip(), alpaca_input(ex.information).strip(), ex.solution.strip())
        if key in seen:
            dupes.append(Rejected(ex.id, "export", "export.duplicate", seen[key]))
            continue
        seen[key] = ex.id
        kept.append(inst)
    return kept, dupes


def alpaca_input(information: str) -> str:
    """The paper's mapping: `information` is the Alpaca input, `<noinput>` an empty one."""
    return "" if information.strip().lower() in ("", NOINPUT) else information


def lineage(inst: Instance) -> dict[str, Any]:
    """Where an instance comes from and how it was judged; the same object in every format."""
    code, ex, v = inst.code, inst.example, inst.verdict
    return {
        "code_id": code.id,
        "source": code.source,
        "repo": code.repo,
        "path": code.path,
        "span": list(code.span) if code.span else None,
        "license": code.license,
        "func_name": code.func_name,
        "teacher_model": ex.model,
        "judge_model": v.model,
        "prompt_version": ex.prompt_version,
        "round": ex.round,
        "task_name": ex.task_name,
        "verdict": {
            "overall": v.overall,
            "reasons": v.reasons,
            "rules": [{"rule": r.rule, "answer": r.answer, "reason": r.reason} for r in v.rules],
        },
        "meta": dict(ex.meta),
        "execution": _execution(inst.execution),
    }


def _execution(run: Execution | None) -> dict[str, str] | None:
    """The verify stage's verdict on an instance, for its lineage (None: verify did not run)."""
    if run is None:
        return None
    return {"status": run.status, "reason": run.reason, "tests_source": run.tests_source}


def _head(inst: Instance) -> dict[str, Any]:
    ex = inst.example
    return {
        "id": ex.id,
        "task": ex.task,
        "language": ex.language,
        "target_language": ex.target_language,
    }


def alpaca_row(inst: Instance) -> dict[str, Any]:
    """The paper's Alpaca record (instruction, input, output) plus id, task, language, lineage."""
    ex = inst.example
    return {
        **_head(inst),
        "instruction": ex.instruction,
        "input": alpaca_input(ex.information),
        "output": ex.solution,
        "lineage": lineage(inst),
    }


def messages_row(inst: Instance, system: str = "") -> dict[str, Any]:
    """A chat record: the user turn renders instruction and input as `template=chat` does."""
    ex = inst.example
    turns = alpaca_messages(ex.instruction, alpaca_input(ex.information), ex.solution)
    if system:
        turns.insert(0, {"role": "system", "content": system})
    return {**_head(inst), "messages": turns, "lineage": lineage(inst)}
