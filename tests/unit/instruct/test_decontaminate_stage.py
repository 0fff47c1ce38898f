"""The `decontaminate` stage between judge and export, its resume after a kill, and the
`wavecoder decontaminate` command through the installed executable."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.requirements import REPO, require_benchmarks
from tests.unit.instruct.decontam_helpers import CLEAN, planted
from wavecoder import pipeline as pl
from wavecoder.config import build
from wavecoder.instruct import decontaminate
from wavecoder.records import Example, Verdict
from wavecoder.store import StageDir

FAST = {"benchmarks": ["humaneval"], "levels": ["exact", "ngram"]}
EXE = Path(sys.executable).with_name("wavecoder")


def _example(eid: str, solution: str, instruction: str = "Write the function.") -> Example:
    return Example(
        id=eid,
        code_id=f"code-{eid}",
        task="generate",
        language="python",
        instruction=instruction,
        information="<noinput>",
        solution=solution,
    )


@pytest.fixture
def upstream(tmp_path: Path) -> dict[str, StageDir]:
    """generate + judge folders: three planted copies, two clean, one clean but judge-rejected."""
    bench = require_benchmarks()
    ex = [_example(k, it.code_text) for k, it in planted(bench).items()]
    ex += [_example(f"clean-{i}", code, ins) for i, (ins, code) in enumerate(CLEAN[:2])]
    ex.append(_example("judged-out", CLEAN[2][1]))
    gen, judge = StageDir(tmp_path / "generate"), StageDir(tmp_path / "judge")
    gen.path.mkdir()
    judge.path.mkdir()
    gen.write_records("records", ex)
    judge.write_records("records", [Verdict(e.id, e.id != "judged-out") for e in ex])
    for sd in (gen, judge):
        sd.mark_done({})
    return {"generate": gen, "judge": judge}


def _run(upstream: dict[str, StageDir], out: Path, **changes: object) -> dict[str, object]:
    bench = require_benchmarks()
    cfg = build(decontaminate.Config, {**FAST, "data": str(bench), **changes})
    spec = pl.stage_spec("decontaminate")
    stats = pl.run_stage(spec, cfg, StageDir(out), inputs=upstream)
    assert stats is not None
    return stats


def test_stage_drops_copies_and_keeps_clean_accepted(
    upstream: dict[str, StageDir], tmp_path: Path
) -> None:
    stats = _run(upstream, tmp_path / "out")
    out = StageDir(tmp_path / "out")
    kept = [e.id for e in out.read_records("records", Example)]
    assert kept == ["clean-0", "clean-1"]  # the judge's reject is not ours to pass on
    rejected = {r.id: r for r in out.read_rejected()}
    assert {k: r.reason for k, r in rejected.items()} == {
        "verbatim": "decontaminate.exact",
        "reformatted": "decontaminate.exact",
        "renamed": "decontaminate.ngram",
    }
    assert "humaneval HumanEval/26" in rejected["renamed"].detail
    assert "score=" in rejected["renamed"].detail and "span=" in rejected["renamed"].detail
    matches = [json.loads(x) for x in (out.path / "matches.jsonl").read_text().splitlines()]
    assert {m["id"] for m in matches} == set(rejected)
    assert all(set(m) >= {"benchmark", "problem_id", "level", "score", "span"} for m in matches)
    report = json.loads((out.path / "report.json").read_text())
    assert report["matches"] == matches and report["by_level"]["exact"] == 2
    assert stats["in"] == 5 and stats["out"] == 2
    assert stats["rejected.decontaminate.exact"] == 2


def test_flag_keeps_every_instance(upstream: dict[str, StageDir], tmp_path: Path) -> None:
    stats = _run(upstream, tmp_path / "out", action="flag")
    out = StageDir(tmp_path / "out")
    assert stats["out"] == 5 and stats["contaminated"] == 3
    assert out.count_records("rejected") == 0
    assert (out.path / "matches.jsonl").read_text().count("\n") >= 3


def test_nothing_accepted_loads_no_reference(tmp_path: Path) -> None:
    """No accepted instance: done at once, and no benchmark is read or downloaded (a folder
    that does not hold them would fail the load)."""
    gen, judge = StageDir(tmp_path / "generate"), StageDir(tmp_path / "judge")
    for sd, rows in ((gen, [_example("a", "def f():\n    return 1\n")]), (judge, [])):
        sd.path.mkdir()
        sd.write_records("records", rows)  # type: ignore[arg-type]
        sd.mark_done({})
    empty = tmp_path / "no-benchmarks"
    empty.mkdir()
    cfg = build(decontaminate.Config, {"data": str(empty)})
    out = StageDir(tmp_path / "out")
    spec = pl.stage_spec("decontaminate")
    stats = pl.run_stage(spec, cfg, out, inputs={"generate": gen, "judge": judge})
    assert stats is not None and (stats["in"], stats["out"]) == (0, 0)
    assert out.is_done() and out.count_records("records") == 0


def test_config_errors_name_the_key(tmp_path: Path) -> None:
    from wavecoder.config import ConfigError

    with pytest.raises(ConfigError, match="decontaminate.*humaneva"):
        build(decontaminate.Config, {"benchmarks": ["humaneva"]}, where="decontaminate")
    cfg = build(decontaminate.Config, {"reference_files": [str(tmp_path / "nope.jsonl")]})
    with pytest.raises(ConfigError, match="reference_files: no such file"):
        decontaminate.preflight(cfg)


KILLER = """
import os, signal, sys
from wavecoder.store import StageDir
from wavecoder import pipeline as pl
from wavecoder.config import build
from wavecoder.instruct import decontaminate

def die(self, records):  # killed after records.jsonl is written, before the rest
    os.kill(os.getpid(), signal.SIGKILL)

StageDir.write_rejected = die
root, bench = sys.argv[1], sys.argv[2]
cfg = build(decontaminate.Config, {"benchmarks": ["humaneval"], "levels": ["exact", "ngram"],
                                   "data": bench})
inputs = {n: StageDir(f"{root}/{n}") for n in ("generate", "judge")}
pl.run_stage(pl.stage_spec("decontaminate"), cfg, StageDir(f"{root}/out"), inputs=inputs)
"""


def test_resume_after_kill(upstream: dict[str, StageDir], tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}:{REPO}"}
    bench = str(require_benchmarks())
    proc = subprocess.run(
        [sys.executable, "-c", KILLER, str(tmp_path), bench], env=env, capture_output=True
    )
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    out = StageDir(tmp_path / "out")
    assert pl.completion(out)[0] == "partial" and not out.is_done()
    assert not (out.path / "matches.jsonl").exists()
    _run(upstream, tmp_path / "out")  # the rerun finishes it
    _run(upstream, tmp_path / "clean")
    for name in ("records.jsonl", "rejected.jsonl", "matches.jsonl"):
        assert (out.path / name).read_bytes() == (tmp_path / "clean" / name).read_bytes()
    assert (
        pl.run_stage(  # and a third run skips it
            pl.stage_spec("decontaminate"),
            build(decontaminate.Config, {**FAST, "data": bench}),
            out,
            inputs=upstream,
        )
        is None
    )


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    if not EXE.exists():
        pytest.skip(f"no installed wavecoder executable beside {sys.executable}")
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    return subprocess.run(
        [str(EXE), "decontaminate", *args], env=env, cwd=cwd, capture_output=True, text=True
    )


def _alpaca(tmp_path: Path) -> Path:
    bench = require_benchmarks()
    rows = [
        {"instruction": f"Task {k}.", "input": "", "output": it.code_text, "id": k}
        for k, it in planted(bench).items()
    ]
    rows += [{"instruction": ins, "output": code} for ins, code in CLEAN]
    path = tmp_path / "data.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_command_on_an_alpaca_file(tmp_path: Path) -> None:
    data = _alpaca(tmp_path)
    bench = str(require_benchmarks())
    proc = _cli(
        "-i", str(data), "-o", "out", "--data", bench, "--benchmarks", "humaneval", "mbpp",
        "--levels", "exact", "ngram", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "out"
    kept = [json.loads(x) for x in (out / "data.jsonl").read_text().splitlines()]
    assert [r["instruction"] for r in kept] == [ins for ins, _ in CLEAN]
    rejected = [json.loads(x) for x in (out / "rejected.jsonl").read_text().splitlines()]
    assert sorted(r["id"] for r in rejected) == ["reformatted", "renamed", "verbatim"]
    assert '"contaminated": 3' in proc.stdout and "HumanEval/26" in proc.stdout


def test_command_flag_with_an_override(tmp_path: Path) -> None:
    """The docs' shape: an override, then --action flag on two levels."""
    data = _alpaca(tmp_path)
    proc = _cli(
        "-i", str(data), "-o", "flag", "ngram_threshold=0.8", "--data",
        str(require_benchmarks()), "--benchmarks", "humaneval", "mbpp", "--action", "flag",
        "--levels", "exact", "ngram", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "flag"
    assert len((out / "data.jsonl").read_text().splitlines()) == 3 + len(CLEAN)
    assert (out / "rejected.jsonl").read_text() == ""
    report = json.loads((out / "report.json").read_text())
    assert report["contaminated"] == 3 and report["config"]["ngram_threshold"] == 0.8


def test_command_report_only_writes_numbers_and_png(tmp_path: Path) -> None:
    data = _alpaca(tmp_path)
    bench = str(require_benchmarks())
    proc = _cli(
        "-i", str(data), "-o", "leak", "--data", bench, "--benchmarks", "humaneval",
        "mbpp-sanitized", "--report-only", "embedder.backend=hashing", "embedder.dim=32",
        "embedder.n_features=4096", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "leak" / "leakage.json").read_text())
    he = report["benchmarks"]["humaneval"]
    sims = [p["similarity"] for p in he["per_problem"]]
    assert he["problems"] == 164 == len(sims)
    assert he["mean"] == pytest.approx(sum(sims) / len(sims), abs=1e-3)
    assert max(sims) == pytest.approx(1.0, abs=1e-3)  # the verbatim copy of HumanEval/0
    assert report["embedder"] == "hashing" and "GTE-Large" in report["embedder_note"]
    assert sum(he["histogram"]["counts"]) == 164
    png = (tmp_path / "leak" / "leakage.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (tmp_path / "leak" / "data.jsonl").exists()
    assert "humaneval" in proc.stdout and "mean" in proc.stdout


def test_command_bad_input_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"instruction": "x", "output": "y"}\n{"text": 1}\n')
    proc = _cli("-i", str(bad), "-o", "out", "--benchmarks", "humaneval", cwd=tmp_path)
    assert proc.returncode == 2
    assert "bad.jsonl:2" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    proc = _cli("-i", str(bad), "-o", "out", "--benchmarks", "humaneva", cwd=tmp_path)
    assert proc.returncode == 2


def test_help_shows_the_examples() -> None:
    if shutil.which("wavecoder") is None and not EXE.exists():
        pytest.skip("no installed wavecoder executable")
    proc = _cli("--help", cwd=REPO)
    assert proc.returncode == 0 and "example" in proc.stdout and "--report-only" in proc.stdout


def test_command_reuses_the_reference_embeddings_and_no_cache_bypasses(tmp_path: Path) -> None:
    """The second --report-only reads the references' vectors from the cache (logged), with the
    same report; --no-cache embeds them again and stores nothing."""
    data = _alpaca(tmp_path)
    small = ["embedder.backend=hashing", "embedder.dim=16", "embedder.n_features=4096"]
    args = ["-i", str(data), "--data", str(require_benchmarks()), "--benchmarks", "humaneval"]
    cache = Path(os.environ["WAVECODER_CACHE_DIR"]) / "decontaminate" / "embeddings"
    logs, reports = [], []
    for out, extra in (("a", []), ("b", []), ("c", ["--no-cache"])):
        proc = _cli(*args, "-o", out, "--report-only", *extra, *small, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        logs.append(proc.stderr)
        reports.append(json.loads((tmp_path / out / "leakage.json").read_text()))
        assert len(list(cache.glob("*.npz"))) == 1  # one entry, written by the first run
    assert "reference embeddings not cached: computed" in logs[0]
    assert "164 reference embeddings from the cache" in logs[1]
    assert "reference embeddings" not in logs[2]
    assert reports[0] == reports[1] == reports[2]
