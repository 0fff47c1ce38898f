"""Cross-check wavecoder's HumanEval+ verdicts against the `evalplus` PyPI package (0.3.1).

Both score the same candidates for every problem of the local HumanEvalPlus file: the canonical
solution and four mutants (return None; an input-size-dependent bug that tends to survive the
base inputs; a float nudge of 1e-9, inside atol; a float nudge of 1e-3, outside it). evalplus
runs in-process with its own ground truth (`get_groundtruth`) and `check_correctness`; wavecoder
runs in its sandbox. Prints agreement on base and base+plus verdicts, every disagreement, and the
wall time of each. Known: evalplus 0.3.1 fails every HumanEval/32 candidate (its find_zero oracle
never records a pass); wavecoder applies the oracle as intended.

    python benchmarks/bench_evalplus.py [--mini] [--limit N] [--sandbox weak]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "benchmarks"
SIZE_BUG = (
    "\n_orig = {f}\n\ndef {f}(*a, **k):\n    r = _orig(*a, **k)\n"
    "    return r if len(repr(a)) < 60 else None\n"
)
NUDGE = (
    "\n_orig = {f}\n\ndef {f}(*a, **k):\n    r = _orig(*a, **k)\n"
    "    return r + {eps} if isinstance(r, float) else r\n"
)


def candidates(problem: object) -> list[str]:
    p = problem
    f = p.entry_point  # type: ignore[attr-defined]
    canon = p.canonical_solution  # type: ignore[attr-defined]
    return [
        canon,
        "    return None\n",
        canon + SIZE_BUG.format(f=f),
        canon + NUDGE.format(f=f, eps="1e-9"),
        canon + NUDGE.format(f=f, eps="1e-3"),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mini", action="store_true")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--sandbox", default="namespaces", choices=("namespaces", "weak"))
    args = ap.parse_args()
    from wavecoder.evals.benchmarks import load, sha256
    from wavecoder.evals.score import ScoreOptions, score_completions
    from wavecoder.evals.types import Completion

    name = "humanevalplus-mini" if args.mini else "humanevalplus"
    bench, problems, path = load(name, DATA)
    problems = problems[: args.limit] if args.limit else problems
    comps = [Completion(p.task_id, i, c) for p in problems for i, c in enumerate(candidates(p))]
    start = time.monotonic()
    ours = score_completions(
        bench, problems, comps, ScoreOptions(mode=args.sandbox), dataset_sha256=sha256(path)
    )
    ours_s = time.monotonic() - start
    mine = {(o.task_id, o.sample_index): (o.passed or o.stage == "plus", o.passed) for o in ours}
    start = time.monotonic()
    theirs = run_evalplus(path, problems, comps, sha256(path))
    theirs_s = time.monotonic() - start
    report(mine, theirs, ours_s, theirs_s, len(comps))


def run_evalplus(path: Path, problems: list, comps: list, digest: str) -> dict:  # type: ignore[type-arg]
    from evalplus.data.utils import stream_jsonl
    from evalplus.evaluate import PASS, check_correctness, get_groundtruth

    wanted = {p.task_id for p in problems}
    rows = {r["task_id"]: r for r in stream_jsonl(str(path)) if r["task_id"] in wanted}
    truth = get_groundtruth(rows, f"wavecoder-bench-{digest[:16]}-{len(rows)}", [])
    out = {}
    for c in comps:
        row = rows[c.task_id]
        res = check_correctness(
            "humaneval", c.sample_index, row, row["prompt"] + c.completion, truth[c.task_id],
            fast_check=True,
        )  # fmt: skip
        base_ok = res["base"][0] == PASS
        out[(c.task_id, c.sample_index)] = (base_ok, base_ok and res["plus"][0] == PASS)
    return out


def report(mine: dict, theirs: dict, ours_s: float, theirs_s: float, n: int) -> None:  # type: ignore[type-arg]
    diff = sorted(k for k in mine if mine[k] != theirs[k])
    base_agree = sum(mine[k][0] == theirs[k][0] for k in mine)
    plus_agree = sum(mine[k][1] == theirs[k][1] for k in mine)
    print(f"candidates: {n}")
    print(f"base verdicts agree: {base_agree}/{n}; base+plus verdicts agree: {plus_agree}/{n}")
    for k in diff:
        print(f"  differ {k[0]} #{k[1]}: wavecoder(base, plus)={mine[k]} evalplus={theirs[k]}")
    for label, table in (("wavecoder", mine), ("evalplus", theirs)):
        base = sum(v[0] for v in table.values())
        plus = sum(v[1] for v in table.values())
        print(f"{label}: base pass {base}/{n}, base+plus pass {plus}/{n}")
    print(f"wall: wavecoder {ours_s:.1f}s (sandboxed), evalplus {theirs_s:.1f}s (in-process)")


if __name__ == "__main__":
    main()
