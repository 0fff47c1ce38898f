"""The `verify` stage: tests from the local OpenAI test server, the policy, consent, resuming
after kill -9, and a whole run through the installed `wavecoder` executable."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.openai_server import OpenAIServer
from tests.helpers.requirements import missing, require_benchmarks
from tests.helpers.teacher import TeacherResponder, TestWriterResponder
from wavecoder import pipeline as pl
from wavecoder.config import ConfigError, build
from wavecoder.instruct import verify
from wavecoder.paths import cache_dir
from wavecoder.records import Example, Execution, RuleVerdict, Verdict
from wavecoder.store import StageDir

pytestmark = pytest.mark.timeout(240)
REPO = Path(__file__).resolve().parents[3]
WAVECODER = Path(sys.executable).parent / "wavecoder"
RIGHT = "def add(a, b):\n    return a + b\n"
# the toolchains' warm caches (Go's build cache, Rust's crates) live under the cache dir, which
# the instruct tests point at a fresh folder per test: subprocesses get the real one
TOOLCHAIN_CACHE = str(cache_dir())
WRONG = "def add(a, b):\n    return a - b\n"


@pytest.fixture(scope="module", autouse=True)
def _sandbox() -> None:
    from wavecoder.evals.sandbox import namespaces_available

    if reason := namespaces_available():
        missing(f"namespaces sandbox unavailable: {reason}")


@pytest.fixture()
def server() -> Iterator[tuple[OpenAIServer, TestWriterResponder]]:
    with OpenAIServer() as srv:
        writer = TestWriterResponder(TeacherResponder())
        srv.responder = writer
        yield srv, writer


def example(n: int, task: Any = "generate", solution: str = RIGHT, **kw: Any) -> Example:
    fields: dict[str, Any] = {"instruction": "Write a python function add.", "language": "python",
                              "information": "<noinput>", **kw}  # fmt: skip
    return Example(id=f"ex{n}", code_id=f"c{n}", task=task, solution=solution, **fields)


def judged(root: Path, cases: list[tuple[Example, bool]]) -> dict[str, StageDir]:
    """Finished generate and judge folders holding `cases` (example, accepted)."""
    dirs = {}
    for name, records in (
        ("generate", [ex for ex, _ in cases]),
        ("judge", [Verdict(ex.id, ok, (RuleVerdict("correct", "yes" if ok else "no"),),
                           overall="yes" if ok else "no") for ex, ok in cases]),
    ):  # fmt: skip
        sd = StageDir(root / name)
        sd.path.mkdir(parents=True)
        sd.write_records("records", records)
        sd.write_json("fingerprint", {"fingerprint": f"fp-{name}"}, sharded=False)
        sd.mark_done({"fingerprint": f"fp-{name}"})
        dirs[name] = sd
    return dirs


def section(url: str, **over: Any) -> verify.Config:
    # chunks of 2 * max(workers, concurrency) = 4 instances: the tests cross several
    data = {"enabled": True, "allow_code_execution": True, "languages": ["python"],
            "workers": 2, "llm": {"base_url": url, "model": "M", "max_retries": 0,
                                  "concurrency": 1}, **over}  # fmt: skip
    return build(verify.Config, data, where="verify")


def run_verify(inputs: dict[str, StageDir], out: Path, cfg: verify.Config) -> dict[str, Any]:
    stats = pl.run_stage(pl.stage_spec("verify"), cfg, StageDir(out), inputs=inputs, quiet=True)
    assert stats is not None
    return stats


CASES = [
    (example(0), True),  # passes the writer's tests
    (example(1, solution=WRONG), True),  # accepted, fails: dropped
    (example(2, "repair", information=WRONG), True),  # a real fix: the buggy input fails
    (example(3, "repair", information="def add(a, b):\n    return b + a\n"), True),  # no fix
    (example(4, solution=WRONG), False),  # rejected and failing: the judge was right
    (example(5), False),  # rejected but passing: the judge was wrong
    (example(6, "summarize", solution="Adds two numbers."), True),
    (example(7, language="php", solution="function add($a, $b) { return $a + $b; }"), True),
    (example(8, solution="def mul(a, b):\n    return a * b\n"), True),  # the writer has no tests
]


def test_tests_from_the_writer_drop_failures_and_measure_the_judge(
    tmp_path: Path, server: tuple[OpenAIServer, TestWriterResponder]
) -> None:
    srv, writer = server
    inputs = judged(tmp_path, CASES)
    stats = run_verify(inputs, tmp_path / "verify", section(srv.url))
    out = StageDir(tmp_path / "verify")
    runs = {e.example_id: e for e in out.read_records("records", Execution)}
    assert set(runs) == {ex.id for ex, _ in CASES}  # rejected ones run too (include_rejected)
    status = {i: (e.status, e.reason.split(":")[0]) for i, e in runs.items()}
    assert status == {
        "ex0": ("pass", ""),
        "ex1": ("fail", "fail"),
        "ex2": ("pass", ""),
        "ex3": ("fail", "repair_buggy_passes"),
        "ex4": ("fail", "fail"),
        "ex5": ("pass", ""),
        "ex6": ("skipped", "not_code"),
        "ex7": ("skipped", "language"),
        "ex8": ("skipped", "no_tests"),
    }
    # asked about ex0-5 and ex8 (not the skipped ones); ex5 and ex4 repeat ex0's and ex1's
    # prompts, which the request cache answers
    assert writer.calls == 5
    e0 = runs["ex0"]
    assert e0.tests_source == "llm" and "```python" in e0.tests_raw and e0.tests_model
    assert runs["ex2"].buggy is not None and runs["ex2"].buggy.status == "fail"
    # the policy: only accepted instances are dropped
    dropped = {r.id: r for r in out.read_rejected()}
    assert {i: r.reason for i, r in dropped.items()} == {
        "ex1": "verify.fail",
        "ex3": "verify.repair_buggy_passes",
    }
    assert "AssertionError" in dropped["ex1"].detail
    assert "buggy input passes the same tests" in dropped["ex3"].detail
    assert stats["in"] == 7 and stats["out"] == 5 and stats["rejected.verify.fail"] == 1
    assert stats["skipped"] == {"language": 1, "no_tests": 1, "not_code": 1}
    report = json.loads((out.path / "agreement.json").read_text())
    assert report["matrix"] == {"accept_pass": 2, "accept_fail": 2, "reject_pass": 1,
                                "reject_fail": 1}  # fmt: skip
    assert stats["agreement.precision"] == 0.5 and stats["agreement.recall"] == round(2 / 3, 4)
    usage = json.loads((out.path / "usage.json").read_text())["total"]
    assert (usage["requests"], usage["cache_hits"]) == (5, 2), usage

    # label: failures stay, the record is the label; rejected ones never count against `out`
    labelled = run_verify(inputs, tmp_path / "label", section(srv.url, policy="label"))
    assert labelled["out"] == labelled["in"] == 7 and labelled["labelled"] == 2
    assert not list(StageDir(tmp_path / "label").read_rejected())


def test_carried_tests_need_no_model_and_rejected_can_be_left_out(tmp_path: Path) -> None:
    own = {"tests": "assert add(2, 3) == 5\n"}
    inputs = judged(tmp_path, [(example(0, meta=own), True), (example(1, meta=own), False)])
    cfg = section("http://127.0.0.1:9/v1", include_rejected=False)  # never contacted
    stats = run_verify(inputs, tmp_path / "verify", cfg)
    runs = list(StageDir(tmp_path / "verify").read_records("records", Execution))
    assert [(e.example_id, e.status, e.tests_source) for e in runs] == [("ex0", "pass", "instance")]
    assert stats["agreement.recall"] == 1.0 and stats["usage"] is None


def test_it_refuses_to_run_code_without_consent(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="verify.allow_code_execution=true"):
        verify.preflight(build(verify.Config, {"enabled": True}, where="verify"))
    verify.preflight(verify.Config())  # off: nothing to consent to
    inputs = judged(tmp_path, [(example(0), True)])
    proc = subprocess.run(
        [str(WAVECODER), "verify", "-i", str(inputs["generate"].path), "-i",
         str(inputs["judge"].path), "-o", str(tmp_path / "v"), "enabled=true"],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO / "src")},
        timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2 and "allow_code_execution" in proc.stderr
    assert not (tmp_path / "v" / "records.jsonl").exists()


def test_a_killed_run_resumes_where_it_stopped(tmp_path: Path) -> None:
    """kill -9 mid-run, then the same command: finished instances are not run again."""
    slow = {"tests": "import time\ntime.sleep(0.3)\nassert add(2, 3) == 5\n"}
    cases = [(example(i, meta=slow), True) for i in range(8)]
    inputs = judged(tmp_path, cases)
    out = tmp_path / "verify"
    argv = [str(WAVECODER), "verify", "-i", str(inputs["generate"].path), "-i",
            str(inputs["judge"].path), "-o", str(out), "enabled=true", "workers=1",
            "allow_code_execution=true", "languages=[python]",
            "llm.base_url=http://127.0.0.1:9/v1"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.Popen(argv, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    log = out / "records.jsonl"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and proc.poll() is None:
        if log.exists() and len(log.read_text().splitlines()) >= 2:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = log.read_text().splitlines()
    assert 2 <= len(before) < 8 and not (out / "done.json").exists()
    again = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    after = log.read_text().splitlines()
    ids = [json.loads(line)["example_id"] for line in after]
    assert sorted(ids) == sorted(ex.id for ex, _ in cases)  # each once: none redone, none lost
    assert after[: len(before)] == before
    assert "out=8" in again.stdout


def test_a_whole_run_through_the_executable_verifies_and_exports(
    tmp_path: Path, run_dir: Path, server: tuple[OpenAIServer, TestWriterResponder]
) -> None:
    """`wavecoder run CONFIG verify.enabled=true ...`: decontaminate and export read verify's
    drops; the report and `wavecoder show RUN verify` show the judge against execution."""
    srv, writer = server
    # tests no code passes: something for verify to drop
    writer.wrong = {"total", "clamp", "first", "last", "Max", "Sum"}
    config = tmp_path / "experiment.yaml"
    llm = {"base_url": srv.url, "model": "M", "concurrency": 4, "max_retries": 0,
           "cache_path": str(tmp_path / "llm.sqlite")}  # fmt: skip
    config.write_text(json.dumps({
        "run_dir": str(run_dir), "stop_after": "export",
        "generate": {"llm": llm, "rounds": 1}, "judge": {"llm": llm},
        "decontaminate": {"data": str(require_benchmarks()), "benchmarks": ["humaneval"],
                          "levels": ["exact", "ngram"], "leakage_report": False},
        "export": {"plots": False},
    }))  # fmt: skip
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")},
           "PYTHONPATH": f"{REPO / 'src'}:{REPO}",
           "WAVECODER_CACHE_DIR": TOOLCHAIN_CACHE}  # fmt: skip

    def wavecoder(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(WAVECODER), *args], env=env, capture_output=True, text=True,
                              timeout=200)  # fmt: skip

    done = wavecoder("run", str(config), "--from", "generate", "verify.enabled=true",
                     "verify.allow_code_execution=true", f"verify.llm.base_url={srv.url}",
                     f"verify.llm.cache_path={tmp_path / 'llm.sqlite'}",
                     "verify.languages=[python,javascript,go]")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert writer.calls > 0
    stats = json.loads((run_dir / "verify" / "stats.json").read_text())
    assert stats["enabled"] and stats["status.pass"] >= 1 and stats["executed"] == 12
    dropped = {r["id"] for r in map(json.loads, (run_dir / "verify" / "rejected.jsonl").open())}
    assert dropped and stats["status.fail"] >= len(dropped)
    funnel = json.loads((run_dir / "export" / "funnel.json").read_text())
    assert funnel["funnel.verified"] == funnel["funnel.accepted"] - len(dropped)
    clean = {
        json.loads(line)["id"] for line in (run_dir / "decontaminate" / "records.jsonl").open()
    }
    assert not clean & dropped  # decontaminate never sees what verify dropped
    rows = json.loads((run_dir / "export" / "data" / "alpaca.json").read_text())
    checks = {r["id"]: r["lineage"]["execution"] for r in rows}
    assert checks and all(c and c["status"] in ("pass", "skipped") for c in checks.values())
    report = (run_dir / "export" / "report" / "report.md").read_text()
    assert "passes its tests" in report and "## Judge against execution" in report
    shown = wavecoder("show", str(run_dir), "verify", "-n", "2")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.count("── verify execution") == 2 and "Precision of accept" in shown.stdout


def test_off_by_default_it_writes_empty_files_and_says_so(tmp_path: Path) -> None:
    from wavecoder.show import status_rows

    inputs = judged(tmp_path, [(example(0), True)])
    assert run_verify(inputs, tmp_path / "verify", verify.Config()) == {"enabled": False}
    out = StageDir(tmp_path / "verify")
    assert not list(out.read_records("records", Execution)) and not list(out.read_rejected())
    row = next(r for r in status_rows(tmp_path) if r[0] == "verify")
    assert row[1] == "off (verify.enabled: false)"
    # its fingerprint: only that it is off, so no verify setting makes a finished run stale
    fp = json.loads((out.path / "fingerprint.json").read_text())
    assert fp["config"] == {"verify": {"enabled": False}}


def test_export_counts_verify_drops_and_carries_its_labels(tmp_path: Path) -> None:
    """A finished verify (no sandbox needed here): ex1 dropped, ex0 labelled as failing."""
    from tests.unit.instruct.export_run import build
    from tests.unit.instruct.test_export import run_export
    from wavecoder.records import ProgramRun, Rejected

    built = build(tmp_path / "run")
    sd = built.store.stage("verify")
    failing = ProgramRun("fail", "run", 1, "", "AssertionError")
    runs = [
        Execution("ex0", "generate", "python", "fail", "fail", solution=failing),
        Execution("ex1", "summarize", "go", "skipped", "not_code: prose"),
        Execution("ex2", "translate", "go", "compile_error", "compile_error"),
    ]
    sd.write_records("records", runs)
    sd.write_rejected([Rejected("ex2", "verify", "verify.compile_error", "go compile_error")])
    sd.write_json("stats", {"enabled": True, "usage": {"requests": 3, "cost_usd": 0.001}})
    from wavecoder.instruct.agreement import agreement, pairs_of

    sd.write_json("agreement", agreement(pairs_of(runs, built.verdicts)), sharded=False)
    out, stats = run_export(built, plots=False)
    assert stats["funnel.verified"] == stats["funnel.accepted"] - 1
    assert stats["dropped.verify.verify.compile_error"] == 1
    rows = {r["id"]: r for r in json.loads((out / "data" / "alpaca.json").read_text())}
    assert "ex2" not in rows and rows["ex0"]["lineage"]["execution"]["status"] == "fail"
    assert rows["ex3"]["lineage"]["execution"] is None  # not checked: no label
    report = (out / "report" / "report.md").read_text()
    assert "| passes its tests | 4 | 1 | `verify.compile_error` 1 |" in report
    assert "| accepted | 0 | 2 |" in report and "| verify | 3 |" in report
    assert stats["llm.cost_usd"] == round(0.007 + 0.252 + 0.001, 6)  # the test writer's too


def test_it_refuses_without_the_sandbox_or_a_toolchain(monkeypatch: pytest.MonkeyPatch) -> None:
    from wavecoder.evals import sandbox, toolchains

    cfg = section("http://127.0.0.1:9/v1", languages=["python", "go"])
    with monkeypatch.context() as mp:
        mp.setattr(sandbox, "namespaces_available", lambda: "the sandbox needs root")
        with pytest.raises(ConfigError, match="sandbox unavailable: the sandbox needs root"):
            verify.preflight(cfg)

    def find(language: str) -> Any:
        if language == "go":
            raise toolchains.ToolchainMissing("go: `go` not found on PATH")
        return None

    monkeypatch.setattr(toolchains, "find", find)
    with pytest.raises(ConfigError, match="go` not found on PATH; or leave go out of verify"):
        verify.preflight(cfg)
