"""generate + judge through the pipeline against the local OpenAI server: whole runs, feedback,
determinism, re-asks, faults, budgets and secrets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers.openai_server import Reply
from tests.unit.instruct.conftest import dataset, run, run_config
from wavecoder.records import TASKS, Example, Rejected, Verdict
from wavecoder.store import RunStore

pytestmark = pytest.mark.timeout(120)


def _prompts(server) -> list[str]:  # type: ignore[no-untyped-def]
    return [r.body["messages"][-1]["content"] for r in server.requests]


@pytest.mark.parametrize("fmt", ["json", "text", "json_schema"])
def test_a_whole_run_accounts_for_every_code(run_dir: Path, teacher, fmt: str) -> None:  # type: ignore[no-untyped-def]
    server, responder = teacher
    stats = run(run_config(run_dir, server.url, fmt))
    gen, judge = stats["generate"], stats["judge"]
    store = RunStore(run_dir)
    examples = list(store.stage("generate").read_records("records", Example))
    verdicts = list(store.stage("judge").read_records("records", Verdict))
    rejected = list(store.stage("judge").read_records("rejected", Rejected))
    assert gen["in"] == 12 and gen["out"] == len(examples) == 12
    assert {v.example_id for v in verdicts} == {e.id for e in examples}
    accepted = {v.example_id for v in verdicts if v.accepted}
    assert {r.id for r in rejected} == {e.id for e in examples} - accepted
    assert 0 < len(accepted) < 12 and judge["out"] == len(accepted)
    assert all(r.reason.startswith("judge.rule.") for r in rejected)
    assert all(v.rules and all(r.answer in ("yes", "no") for r in v.rules) for v in verdicts)
    assert {e.round for e in examples} == {0, 1}
    assert set(gen["by_task"]) <= set(TASKS) and gen["usage"]["requests"] == 12
    assert judge["usage"]["requests"] == 12 and gen["usage"]["cost_usd"] is not None
    assert responder.calls == {"generate": 12, "judge": 12}
    wants_json = fmt != "text"
    assert all(("response_format" in r.body) == wants_json for r in server.requests)
    for ex in examples:
        assert ex.model == "gpt-3.5-turbo" and ex.prompt_version.startswith(ex.task)
        if ex.task == "repair":
            assert ex.meta["buggy_code"] != "" and int(ex.meta["bug_line"]) >= 1
        if ex.task == "translate":
            assert ex.target_language not in (None, ex.language)


def test_round_two_prompts_draw_on_round_one_verdicts(run_dir: Path, teacher) -> None:  # type: ignore[no-untyped-def]
    server, _ = teacher
    run(run_config(run_dir, server.url, gen={"few_shot_good": 3, "few_shot_bad": 3}))
    pool = [json.loads(line) for line in (run_dir / "judge/pool.jsonl").read_text().splitlines()]
    assert {p["round"] for p in pool} == {0, 1} and len(pool) == 12
    first_round_inputs = {p["input"] for p in pool if p["round"] == 0}
    prompts = _prompts(server)
    late = [p for p in prompts if "code" in p and any(i in p for i in first_round_inputs)
            and "You are asked" in p]  # fmt: skip
    assert late, "no round-2 generator prompt shows a round-1 case"


def test_the_dataset_does_not_depend_on_concurrency(tmp_path: Path, run_dir: Path, teacher) -> None:  # type: ignore[no-untyped-def]
    import shutil

    server, _ = teacher
    other = tmp_path / "other"
    shutil.copytree(run_dir, other)
    run(run_config(run_dir, server.url, gen_llm={"concurrency": 1}, judge_llm={"concurrency": 1}))
    first = sorted(_prompts(server))
    server.requests.clear()
    rc = run_config(other, server.url, gen_llm={"concurrency": 8, "cache": False},
                    judge_llm={"concurrency": 8, "cache": False})  # fmt: skip
    run(rc)
    assert sorted(_prompts(server)) == first
    assert dataset(run_dir) == dataset(other)


def test_a_bad_reply_is_asked_again_once_with_the_error(run_dir: Path, teacher) -> None:  # type: ignore[no-untyped-def]
    server, _ = teacher

    def about(kind: str, code: str):  # type: ignore[no-untyped-def]
        return lambda b: kind in b["messages"][1]["content"] and code in b["messages"][1]["content"]

    server.script(Reply.text("I cannot help with that."), Reply.text("still no case"),
                  when=about("You are asked", "def total("))  # fmt: skip
    server.script(Reply.text("looks fine to me"), Reply.text("yes"),
                  when=about("You are checking", "func Sum("))  # fmt: skip
    server.script(Reply.text("looks wrong"), when=about("You are asked", "def first("))
    stats = run(run_config(run_dir, server.url))
    assert server.pending() == 0
    assert stats["generate"]["rejected.parse_error"] == 1 and stats["generate"]["reasks"] == 2
    assert stats["judge"]["rejected.judge.unparseable"] == 1 and stats["judge"]["reasks"] == 1
    rej = next(RunStore(run_dir).stage("generate").read_rejected())
    assert "still no case" in rej.detail and "I cannot help" in rej.detail
    reasks = [r.body["messages"] for r in server.requests if len(r.body["messages"]) == 4]
    assert len(reasks) == 3
    assert all("could not be used" in m[3]["content"] and m[2]["role"] == "assistant"
               for m in reasks)  # fmt: skip
    (kept,) = [e for e in RunStore(run_dir).stage("generate").read_records("records", Example)
               if e.meta.get("reasked")]  # fmt: skip
    assert kept.meta["first_reply"] == "looks wrong" and kept.raw != "looks wrong"
    bad = [v for v in RunStore(run_dir).stage("judge").read_records("records", Verdict)
           if v.overall == ""]  # fmt: skip
    assert len(bad) == 1 and not bad[0].accepted and bad[0].raw == "yes"


def test_faults_give_the_clean_runs_dataset(
    tmp_path: Path, run_dir: Path, teacher, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    import shutil

    server, _ = teacher
    clean_dir = tmp_path / "clean"
    shutil.copytree(run_dir, clean_dir)
    run(run_config(clean_dir, server.url))
    monkeypatch.setenv("WAVECODER_CACHE_DIR", str(tmp_path / "cache-faults"))
    faults = [Reply.status(429, retry_after=0.05), Reply.status(500), Reply.garbage(),
              Reply.hang(), Reply.cut(), Reply.drop()]  # fmt: skip
    for fault in faults:
        server.script(fault)
    run(run_config(run_dir, server.url, gen_llm={"timeout_s": 0.5}, judge_llm={"timeout_s": 0.5}))
    assert server.pending() == 0
    assert dataset(run_dir) == dataset(clean_dir)


def test_the_budget_stops_sending_and_records_the_rest(run_dir: Path, teacher) -> None:  # type: ignore[no-untyped-def]
    server, _ = teacher
    price = {"price_input_per_mtok": 1.0, "price_output_per_mtok": 1.0}
    rc = run_config(run_dir, server.url, gen_llm={**price, "budget_usd": 0.004, "concurrency": 1},
                    gen={"rounds": 1})  # fmt: skip
    stats = run(rc)["generate"]
    assert 0 < stats["out"] < 12 and stats["rejected.budget"] == 12 - stats["out"]


def test_the_api_key_never_reaches_disk(
    tmp_path: Path, run_dir: Path, teacher, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    server, _ = teacher
    secret = "sk-test-0123456789-never-on-disk"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    run(run_config(run_dir, server.url))
    assert server.requests[0].headers["authorization"] == f"Bearer {secret}"
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path


def test_the_generator_can_write_the_bug_itself(run_dir: Path, teacher) -> None:  # type: ignore[no-untyped-def]
    server, _ = teacher
    stats = run(
        run_config(run_dir, server.url, gen={"mix": {"repair": 1}, "repair_bugs": "generator"})
    )
    examples = list(RunStore(run_dir).stage("generate").read_records("records", Example))
    assert stats["generate"]["by_task"] == {"repair": {"in": 12, "out": 12}}
    assert all(e.meta == {"bug_source": "generator"} for e in examples)
    prompts = _prompts(server)
    assert sum("from the correct raw code" in p for p in prompts) == 12
    judged = [p for p in prompts if p.startswith("You are checking")]
    assert len(judged) == 12 and all("Reference fix" in p for p in judged)


def test_an_injected_bug_is_what_the_teacher_sees(run_dir: Path, teacher) -> None:  # type: ignore[no-untyped-def]
    server, _ = teacher
    run(run_config(run_dir, server.url, gen={"mix": {"repair": 1}}))
    examples = list(RunStore(run_dir).stage("generate").read_records("records", Example))
    assert len(examples) == 12
    prompts = [p for p in _prompts(server) if "code repair instance" in p]
    for ex in examples:
        buggy = ex.meta["buggy_code"].rstrip()
        assert any(buggy in p for p in prompts) and ex.meta["bug_kind"] and ex.meta["bug_detail"]


def test_shards_split_the_coreset_and_keep_their_own_pools(run_dir: Path, teacher) -> None:  # type: ignore[no-untyped-def]
    from wavecoder import pipeline as pl
    from wavecoder.store import Shard

    server, _ = teacher
    rc = run_config(run_dir, server.url)
    outs = [pl.run_pipeline(rc, start="generate", shard=Shard(i, 2), quiet=True) for i in (0, 1)]
    assert sum(o["generate"]["in"] for o in outs) == 12
    examples = list(RunStore(run_dir).stage("generate").read_records("records", Example))
    assert len({e.code_id for e in examples}) == len(examples) == 12
    assert len(list((run_dir / "judge").glob("pool.shard-*.jsonl"))) == 2
    from wavecoder.instruct.inspect import funnel_lines

    assert funnel_lines(run_dir)[0].startswith("instruction funnel: 12 selected -> 12 generated")


def test_an_unsharded_run_finishes_the_missing_shard_of_the_pair(run_dir: Path, teacher) -> None:  # type: ignore[no-untyped-def]
    from wavecoder import pipeline as pl
    from wavecoder.store import Shard

    server, _ = teacher
    rc = run_config(run_dir, server.url)
    first = pl.run_pipeline(rc, start="generate", shard=Shard(0, 2), quiet=True)
    rest = pl.run_pipeline(rc, start="generate", quiet=True)
    assert first["generate"]["in"] + rest["generate"]["in"] == 12  # only shard 1 ran again
    store = RunStore(run_dir)
    for stage in ("generate", "judge"):
        assert store.stage(stage).completion() == ("done", [])
        assert not (run_dir / stage / "records.jsonl").exists()  # no unsharded file beside parts
    examples = list(store.stage("generate").read_records("records", Example))
    assert len({e.code_id for e in examples}) == len(examples) == 12
    assert len(list((run_dir / "judge").glob("pool.shard-*.jsonl"))) == 2
