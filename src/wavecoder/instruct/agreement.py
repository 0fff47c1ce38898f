"""How well the LLM judge agrees with execution: the judge's accept/reject against pass/fail.

Pure. `agreement(pairs)` takes (task, Verdict, Execution) for the instances that have both, and
counts only those execution decided: pass against fail / timeout / compile_error (skipped and
sandbox errors say nothing about the code, they are counted as `not_executed`). It returns the
confusion matrix, precision of "accept" against "passes" (of the accepted that ran, the share
that passed), recall (of those that passed, the share the judge accepted; needs the rejected
instances executed too, `verify.include_rejected`), accuracy, and per (task, rule) how often the
rule said yes on code that failed and no on code that passed, most often wrong first. The
oracle is itself imperfect: the tests are usually a model's, so read a disagreement as a pointer
to look at, not a proof. `lines(report)` renders it as Markdown for the dataset report and
`wavecoder show RUN verify` (`show_verify`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from wavecoder.records import Execution, Verdict

DECIDED = frozenset({"pass", "fail", "timeout", "compile_error"})


def agreement(pairs: Iterable[tuple[str, Verdict, Execution]]) -> dict[str, Any]:
    cells: Counter[str] = Counter()
    rules: dict[tuple[str, str], Counter[str]] = {}
    not_executed: Counter[str] = Counter()
    for task, verdict, run in pairs:
        if run.status not in DECIDED:
            not_executed[run.status] += 1
            continue
        ok = run.status == "pass"
        cells[f"{'accept' if verdict.accepted else 'reject'}_{'pass' if ok else 'fail'}"] += 1
        for rv in verdict.rules:
            c = rules.setdefault((task, rv.rule), Counter())
            c["answered"] += 1
            if rv.answer == "yes" and not ok:
                c["yes_but_fails"] += 1
            elif rv.answer == "no" and ok:
                c["no_but_passes"] += 1
    matrix = {k: cells[k] for k in ("accept_pass", "accept_fail", "reject_pass", "reject_fail")}
    total = sum(matrix.values())
    accepted = matrix["accept_pass"] + matrix["accept_fail"]
    passed = matrix["accept_pass"] + matrix["reject_pass"]
    return {
        "executed": total,
        "not_executed": dict(sorted(not_executed.items())),
        "matrix": matrix,
        "precision": _ratio(matrix["accept_pass"], accepted),
        "recall": _ratio(matrix["accept_pass"], passed),
        "accuracy": _ratio(matrix["accept_pass"] + matrix["reject_fail"], total),
        "rules": _rule_rows(rules),
    }


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _rule_rows(rules: dict[tuple[str, str], Counter[str]]) -> list[dict[str, Any]]:
    rows = [
        {
            "task": task,
            "rule": rule,
            "answered": c["answered"],
            "yes_but_fails": c["yes_but_fails"],
            "no_but_passes": c["no_but_passes"],
            "wrong": c["yes_but_fails"] + c["no_but_passes"],
        }
        for (task, rule), c in rules.items()
    ]
    return sorted(rows, key=lambda r: (-r["wrong"], r["task"], r["rule"]))


def lines(report: dict[str, Any], *, top: int = 5) -> list[str]:
    """The agreement as Markdown lines (a section of the dataset report)."""
    m = report["matrix"]
    out = ["## Judge against execution", ""]
    if not report["executed"]:
        return [*out, "No instance with a verdict was executed (see `verify` stats).", ""]
    out += [
        "| judge \\ execution | passes | fails |",
        "|---|---|---|",
        f"| accepted | {m['accept_pass']} | {m['accept_fail']} |",
        f"| rejected | {m['reject_pass']} | {m['reject_fail']} |",
        "",
        f"Precision of accept against passes: {_pct(report['precision'])}; recall: "
        f"{_pct(report['recall'])}; agreement: {_pct(report['accuracy'])} "
        f"({report['executed']} executed instances).",
    ]
    if report["not_executed"]:
        skipped = ", ".join(f"{k} {n}" for k, n in report["not_executed"].items())
        out.append(f"Not counted (execution decided nothing): {skipped}.")
    wrong = [r for r in report["rules"] if r["wrong"]][:top]
    if wrong:
        out += ["", "Rules most often wrong (yes on failing code, no on passing code):", ""]
        out += [
            "| task | rule | answered | yes but fails | no but passes |",
            "|---|---|---|---|---|",
        ]
        out += [f"| {r['task']} | `{r['rule']}` | {r['answered']} | {r['yes_but_fails']} | "
                f"{r['no_but_passes']} |" for r in wrong]  # fmt: skip
    return [*out, ""]


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def pairs_of(
    executions: Iterable[Execution], verdicts: Iterable[Verdict]
) -> list[tuple[str, Verdict, Execution]]:
    """Each execution with its example's verdict (the last one, as export counts it)."""
    verdict_of = {v.example_id: v for v in verdicts}
    return [(e.task, verdict_of[e.example_id], e) for e in executions if e.example_id in verdict_of]


def show_verify(sd: Any, n: int) -> None:
    """`wavecoder show RUN verify`: the first `n` executions, in brief, then the agreement."""
    from wavecoder.records import Execution

    stats = sd.read_json("stats") or {}
    if not stats.get("enabled"):
        print(f"verify: not run in {sd.path} (verify.enabled=false, or not finished)")
        return
    runs = list(sd.read_records("records", Execution))
    for i, e in enumerate(runs[:n]):
        print(f"── verify execution {i + 1}/{len(runs)} ──")
        print(f"  example_id: {e.example_id}\n  task: {e.task} ({e.language}), judge "
              f"{'accepted' if e.accepted else 'rejected'}\n  status: {e.status}"
              + (f" ({e.reason})" if e.reason and e.reason != e.status else ""))  # fmt: skip
        for label, run in (("solution", e.solution), ("buggy input", e.buggy)):
            if run is not None:
                where = f" at {run.step}" if run.step else ""
                print(f"  {label}: {run.status}{where}, {run.duration_s:.2f}s")
                if run.status != "pass" and (text := run.stderr_tail or run.stdout_tail):
                    print("\n".join("    " + x for x in text.strip().splitlines()[-6:]))
    counts = ", ".join(f"{k[7:]}={v}" for k, v in stats.items() if k.startswith("status."))
    print(
        f"\nverify: {stats.get('executed', 0)} instances ({counts}); policy {stats.get('policy')}"
    )
    report = sd.read_json("agreement", sharded=False)
    if report:
        print("\n".join(lines(report)))
