"""Cross-check wavecoder's HumanEval+ / MBPP+ verdicts against the `evalplus` package (0.3.1).

Both score the same candidates for every problem of the local HumanEvalPlus (or, with --mbpp,
the 399-task MbppPlus) file: the canonical solution and four mutants (return None; an
input-size-dependent bug that tends to survive the base inputs; a float nudge of 1e-9, inside
atol; a float nudge of 1e-3, outside it). evalplus runs in-process with its own ground truth
(`get_groundtruth`, for MBPP+ with its deserialised inputs and not-None tasks) and
`check_correctness`; wavecoder runs in its sandbox. Prints agreement on base and base+plus
verdicts, every disagreement, and the wall time of each. Known: evalplus 0.3.1 fails every
HumanEval/32 candidate (its find_zero oracle never records a pass); wavecoder applies the oracle
as intended. `pip install evalplus==0.3.1` (the `bench` extra) first.

    python benchmarks/bench_evalplus.py [--mini | --mbpp] [--skip N] [--limit N] [--exclude ID ...]
                                        [--sandbox weak]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import pickle
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "benchmarks"
SIZE_BUG = (
    "\n_orig = {f}\n\ndef {f}(*a, **k):\n    r = _orig(*a, **k)\n"
    "    return r if len(repr(a)) < 60 else None\n"
)
NUDGE = (
    "\n_orig = {f}\n\ndef {f}(*a, **k):\n    r = _orig(*a, **k)\n"
    "    return r + {eps} if isinstance(r, float) else r\n"
)


def candidates(problem: object, mbpp: bool) -> list[str]:
    p = problem
    f = p.entry_point  # type: ignore[attr-defined]
    canon = p.canonical_solution  # type: ignore[attr-defined]
    wrong = f"\ndef {f}(*a, **k):\n    return None\n" if mbpp else "    return None\n"
    return [
        canon,
        wrong,
        canon + SIZE_BUG.format(f=f),
        canon + NUDGE.format(f=f, eps="1e-9"),
        canon + NUDGE.format(f=f, eps="1e-3"),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mini", action="store_true")
    ap.add_argument("--mbpp", action="store_true", help="MBPP+ (the 399-task file)")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--skip", type=int, default=0, help="leave out the first N problems")
    ap.add_argument("--exclude", nargs="*", default=[], help="task ids to leave out")
    ap.add_argument("--sandbox", default="namespaces", choices=("namespaces", "weak"))
    ap.add_argument("--evalplus-job", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.evalplus_job:
        evalplus_job(args.evalplus_job)
        return
    from wavecoder.evals.benchmarks import load, sha256
    from wavecoder.evals.score import ScoreOptions, score_completions
    from wavecoder.evals.types import Completion

    name = "mbppplus" if args.mbpp else "humanevalplus-mini" if args.mini else "humanevalplus"
    bench, problems, path = load(name, DATA)
    problems = [p for p in problems if p.task_id not in set(args.exclude)]
    problems = problems[args.skip :]
    problems = problems[: args.limit] if args.limit else problems
    comps = [
        Completion(p.task_id, i, c)
        for p in problems
        for i, c in enumerate(candidates(p, args.mbpp))
    ]
    start = time.monotonic()
    ours = score_completions(
        bench, problems, comps, ScoreOptions(mode=args.sandbox), dataset_sha256=sha256(path)
    )
    ours_s = time.monotonic() - start
    mine = {(o.task_id, o.sample_index): (o.passed or o.stage == "plus", o.passed) for o in ours}
    start = time.monotonic()
    dataset = "mbpp" if args.mbpp else "humaneval"
    theirs = in_fresh_interpreter(path, problems, comps, sha256(path), dataset)
    theirs_s = time.monotonic() - start
    report(mine, theirs, ours_s, theirs_s, len(comps))


def in_fresh_interpreter(
    path: Path, problems: list, comps: list, digest: str, dataset: str
) -> dict:  # type: ignore[type-arg]
    """run_evalplus in a new interpreter: evalplus forks its checks from the calling process and
    caps each child's address space at 4 GB, which this process (sandbox threads, our ground
    truth) can already exceed, failing correct candidates with MemoryError."""
    job = {
        "args": (str(path), [p.task_id for p in problems], digest, dataset),
        "comps": [(c.task_id, c.sample_index, c.completion) for c in comps],
    }
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "job.pkl").write_bytes(pickle.dumps(job))
        subprocess.run([sys.executable, __file__, "--evalplus-job", tmp], check=True)
        return pickle.loads((Path(tmp) / "out.pkl").read_bytes())  # type: ignore[no-any-return]


def evalplus_job(folder: Path) -> None:
    from wavecoder.evals.types import Completion

    job = pickle.loads((folder / "job.pkl").read_bytes())
    path, ids, digest, dataset = job["args"]
    comps = [Completion(t, i, c) for t, i, c in job["comps"]]
    problems = [type("P", (), {"task_id": t}) for t in ids]
    out = run_evalplus(Path(path), problems, comps, digest, dataset, os.cpu_count() or 1)
    (folder / "out.pkl").write_bytes(pickle.dumps(out))


def run_evalplus(  # type: ignore[type-arg]
    path: Path, problems: list, comps: list, digest: str, dataset: str, workers: int
) -> dict:
    from evalplus.data.mbpp import mbpp_deserialize_inputs
    from evalplus.data.utils import stream_jsonl
    from evalplus.eval._special_oracle import MBPP_OUTPUT_NOT_NONE_TASKS
    from evalplus.evaluate import PASS, check_correctness, get_groundtruth

    wanted = {p.task_id for p in problems}
    rows = {r["task_id"]: r for r in stream_jsonl(str(path)) if r["task_id"] in wanted}
    not_none: list[str] = []
    if dataset == "mbpp":  # as evalplus.data.get_mbpp_plus loads the file
        for tid, row in rows.items():
            row["base_input"] = mbpp_deserialize_inputs(tid, row["base_input"])
            row["plus_input"] = mbpp_deserialize_inputs(tid, row["plus_input"])
        not_none = MBPP_OUTPUT_NOT_NONE_TASKS
    ids = hashlib.sha256(" ".join(sorted(rows)).encode()).hexdigest()[:8]
    key = f"wavecoder-bench-{dataset}-{digest[:16]}-{ids}"
    truth = get_groundtruth(rows, key, not_none)

    def one(c: Any) -> tuple[tuple[str, int], tuple[bool, bool]]:
        row = rows[c.task_id]
        res = check_correctness(
            dataset, c.sample_index, row, row["prompt"] + c.completion, truth[c.task_id],
            fast_check=True,
        )  # fmt: skip
        base_ok = res["base"][0] == PASS
        return (c.task_id, c.sample_index), (base_ok, base_ok and res["plus"][0] == PASS)

    # each check runs in a process of its own (evalplus's untrusted_check); threads only wait
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return dict(pool.map(one, comps))


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
