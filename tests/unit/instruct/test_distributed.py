"""generate + judge rounds spread over workers (`instruct/distributed.py`) through the map seam:
the local run's dataset and pools for W = 2 and 3, logs in unit order whatever the worker count,
usage summed, resumes after a lost group, a Ray worker killed mid-group or a driver killed
mid-merge, and the worker's cache refused on a network filesystem."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.raymap import die_after_first_attempt, ray_map, ray_session  # noqa: F401
from tests.unit.instruct.conftest import dataset, run, run_config
from wavecoder.instruct import generate, judge
from wavecoder.instruct.distributed import local_map

pytestmark = pytest.mark.timeout(180)
FILES = ("generate/records.jsonl", "generate/rejected.jsonl", "judge/records.jsonl",
         "judge/rejected.jsonl", "judge/pool.jsonl")  # fmt: skip
_PAIR = generate.run_pair


def _spread(monkeypatch: pytest.MonkeyPatch, map_fn: Any, workers: int) -> None:
    """Make the pipeline's generate+judge pair run on `workers` workers through `map_fn`."""

    def spread(ctx: Any, judge_ctx: Any) -> Any:
        return _PAIR(ctx, judge_ctx, map_fn=map_fn, workers=workers)

    monkeypatch.setattr(generate, "run_pair", spread)


def _copies(run_dir: Path, tmp_path: Path, *names: str) -> list[Path]:
    out = []
    for name in names:
        shutil.copytree(run_dir, tmp_path / name)
        out.append(tmp_path / name)
    return out


def _pool(run_dir: Path) -> list[str]:
    return sorted((run_dir / "judge/pool.jsonl").read_text().splitlines())


def _usage(stats: dict[str, Any]) -> tuple[Any, ...]:
    keys = ("requests", "cache_hits", "prompt_tokens", "completion_tokens")
    return tuple(stats[s]["usage"][k] for s in ("generate", "judge") for k in keys)


def test_workers_give_the_local_runs_dataset_and_pools(  # type: ignore[no-untyped-def]
    tmp_path: Path, run_dir: Path, teacher, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, _ = teacher
    two, three = _copies(run_dir, tmp_path, "two", "three")
    nocache = {"cache": False}
    shots = {"rounds": 3, "few_shot_good": 2, "few_shot_bad": 2}  # the draws matter
    local = run(run_config(run_dir, server.url, gen_llm=nocache, judge_llm=nocache, gen=shots,
                           judge={"few_shot_good": 1}))  # fmt: skip
    sent = sorted(json.dumps(r.body, sort_keys=True) for r in server.requests)
    runs = {}
    for workers, where in ((2, two), (3, three)):
        server.requests.clear()
        _spread(monkeypatch, local_map, workers)
        runs[workers] = run(run_config(where, server.url, gen_llm=nocache, judge_llm=nocache,
                                       gen=shots, judge={"few_shot_good": 1}))  # fmt: skip
        assert sorted(json.dumps(r.body, sort_keys=True) for r in server.requests) == sent
        assert dataset(where) == dataset(run_dir)
        assert _pool(where) == _pool(run_dir)
        assert _usage(runs[workers]) == _usage(local)
        assert runs[workers]["generate"]["by_task"] == local["generate"]["by_task"]
    assert local["generate"]["usage"]["requests"] == 12
    # the driver appends in unit order: the logs are the same bytes for any worker count
    for name in FILES:
        assert (two / name).read_bytes() == (three / name).read_bytes(), name


def test_a_lost_group_reruns_and_repeats_no_answered_call(  # type: ignore[no-untyped-def]
    tmp_path: Path, run_dir: Path, teacher, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, _ = teacher
    (clean,) = _copies(run_dir, tmp_path, "clean")
    run(run_config(clean, server.url, gen_llm={"cache": False}, judge_llm={"cache": False}))
    server.requests.clear()
    calls = {"n": 0}

    def dying(fn: Callable[[Any], Any], items: list[Any]) -> list[Any]:
        # called on the driver's own thread, so Ctrl-C reaches the map (Ray's cancels tasks)
        assert threading.current_thread() is threading.main_thread()
        calls["n"] += 1
        if calls["n"] == 2:  # round 1: the first group finishes, then a worker dies for good
            fn(items[0])
            raise RuntimeError("worker died")
        return local_map(fn, items)

    _spread(monkeypatch, dying, 2)
    with pytest.raises(RuntimeError, match="worker died"):
        run(run_config(run_dir, server.url))
    first = {json.dumps(r.body, sort_keys=True) for r in server.requests}
    lines = (run_dir / "generate/records.jsonl").read_text().splitlines()
    assert {json.loads(x)["round"] for x in lines} == {0}  # nothing of round 1 was merged
    server.requests.clear()
    _spread(monkeypatch, local_map, 2)
    run(run_config(run_dir, server.url))
    again = {json.dumps(r.body, sort_keys=True) for r in server.requests}
    assert dataset(run_dir) == dataset(clean)
    # what the lost run had answered (round 0, the finished group) comes from the cache
    assert again and not again & first


def test_a_driver_killed_mid_merge_logs_no_line_twice(  # type: ignore[no-untyped-def]
    tmp_path: Path, run_dir: Path, teacher, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wavecoder.store import AppendLog

    server, _ = teacher
    (clean,) = _copies(run_dir, tmp_path, "clean")
    run(run_config(clean, server.url))
    _spread(monkeypatch, local_map, 2)
    append = AppendLog.append
    seen = {"verdicts": 0}

    def dies_at_the_third_verdict(self: AppendLog, record: Any) -> None:
        if self.path.name == "records.jsonl" and self.path.parent.name == "judge":
            seen["verdicts"] += 1
            if seen["verdicts"] == 3:
                raise KeyboardInterrupt
        append(self, record)

    monkeypatch.setattr(AppendLog, "append", dies_at_the_third_verdict)
    with pytest.raises(KeyboardInterrupt):
        run(run_config(run_dir, server.url))
    monkeypatch.setattr(AppendLog, "append", append)
    server.requests.clear()
    run(run_config(run_dir, server.url))
    assert dataset(run_dir) == dataset(clean)
    assert server.requests == []  # everything replayed from the cache
    for name in FILES[:4]:
        lines = (run_dir / name).read_text().splitlines()
        assert len(lines) == len(set(lines)), name


def test_budget_shares_keep_the_cap_across_workers(  # type: ignore[no-untyped-def]
    run_dir: Path, teacher, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, _ = teacher
    price = {"price_input_per_mtok": 1.0, "price_output_per_mtok": 1.0}
    _spread(monkeypatch, local_map, 3)  # each worker gets a third of the budget
    rc = run_config(run_dir, server.url, gen_llm={**price, "budget_usd": 0.01, "concurrency": 1},
                    gen={"rounds": 1})  # fmt: skip
    stats = run(rc)["generate"]
    assert 0 < stats["out"] < 12 and stats["rejected.budget"] == 12 - stats["out"]
    assert 0 < stats["usage"]["cost_usd"] <= 0.01


def test_a_cache_on_a_network_filesystem_is_refused_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import wavecoder.llm.cache as cache_mod
    from wavecoder.instruct.distributed import check_cache
    from wavecoder.llm.base import LLMConfig, LLMError
    from wavecoder.llm.cache import network_filesystem

    mounts = "\n".join([
        "/dev/sda1 / ext4 rw 0 0", "server:/export /mnt/shared nfs4 rw 0 0",
        "/dev/sdb1 /mnt/shared/local\\040disk xfs rw 0 0", "fs /lus lustre rw 0 0",
    ])  # fmt: skip
    assert network_filesystem(Path("/mnt/shared/run/llm.sqlite"), mounts) == "nfs4"
    assert network_filesystem(Path("/mnt/shared/local disk/llm.sqlite"), mounts) is None
    assert network_filesystem(Path("/mnt/sharedx/llm.sqlite"), mounts) is None
    assert network_filesystem(Path("/lus/a"), mounts) == "lustre"
    check_cache(LLMConfig(cache_path=str(tmp_path / "llm.sqlite")))  # a local disk: fine
    monkeypatch.setattr(cache_mod, "network_filesystem", lambda p: network_filesystem(p, mounts))
    with pytest.raises(LLMError, match=r"/mnt/shared/llm.sqlite is on a network filesystem"):
        check_cache(LLMConfig(cache_path="/mnt/shared/llm.sqlite"))
    check_cache(LLMConfig(cache_path="/mnt/shared/llm.sqlite", cache=False))  # no cache: fine


@pytest.mark.usefixtures("ray_session")
def test_a_ray_worker_killed_mid_group_is_retried_from_the_cache(  # type: ignore[no-untyped-def]
    tmp_path: Path, run_dir: Path, teacher, monkeypatch: pytest.MonkeyPatch
) -> None:
    from functools import partial

    server, _ = teacher
    (spread,) = _copies(run_dir, tmp_path, "ray")
    run(run_config(run_dir, server.url))
    server.requests.clear()
    mark = tmp_path / "killed"

    def killing_map(fn: Callable[[Any], Any], items: list[Any]) -> list[Any]:
        return ray_map(partial(die_after_first_attempt, fn, str(mark)), items)

    cache = {"cache_path": str(tmp_path / "ray-cache" / "llm.sqlite")}
    _spread(monkeypatch, killing_map, 2)
    run(run_config(spread, server.url, gen_llm=cache, judge_llm=cache))
    assert mark.exists()  # a worker died after its group's calls were answered
    bodies = [json.dumps(r.body, sort_keys=True) for r in server.requests]
    assert len(bodies) == len(set(bodies)) == 24  # the retries asked nothing again
    assert dataset(spread) == dataset(run_dir) and _pool(spread) == _pool(run_dir)


def test_generate_alone_then_judge_alone_over_workers(  # type: ignore[no-untyped-def]
    tmp_path: Path, run_dir: Path, teacher, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, _ = teacher
    (spread,) = _copies(run_dir, tmp_path, "spread")
    judge_run, gen_run = judge.run, generate.run
    for where in (run_dir, spread):
        if where == spread:
            monkeypatch.setattr(judge, "run", lambda c: judge_run(c, map_fn=local_map, workers=2))
            monkeypatch.setattr(generate, "run", lambda c: gen_run(c, map_fn=local_map, workers=3))
            monkeypatch.setenv("WAVECODER_CACHE_DIR", str(tmp_path / "cache-spread"))
        gen = run(run_config(where, server.url, gen={"rounds": 1}, stop_after="generate"))
        assert gen["generate"]["out"] == 12 and gen["generate"]["usage"]["requests"] == 12
        stats = run(run_config(where, server.url, gen={"rounds": 1}))
        assert stats["generate"] is None and stats["judge"]["in"] == 12
    assert dataset(spread) == dataset(run_dir) and _pool(spread) == _pool(run_dir)


def test_reasks_and_rejections_add_up_over_workers(  # type: ignore[no-untyped-def]
    run_dir: Path, teacher, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.helpers.openai_server import Reply

    server, _ = teacher

    def about(kind: str, code: str):  # type: ignore[no-untyped-def]
        return lambda b: kind in b["messages"][1]["content"] and code in b["messages"][1]["content"]

    server.script(Reply.text("no case"), Reply.text("still none"),
                  when=about("You are asked", "def total("))  # fmt: skip
    server.script(Reply.text("looks wrong"), when=about("You are asked", "def first("))
    server.script(
        Reply.text("fine"), Reply.text("yes"), when=about("You are checking", "func Sum(")
    )
    _spread(monkeypatch, local_map, 3)
    stats = run(run_config(run_dir, server.url))
    assert server.pending() == 0
    assert stats["generate"]["rejected.parse_error"] == 1 and stats["generate"]["reasks"] == 2
    assert stats["judge"]["rejected.judge.unparseable"] == 1 and stats["judge"]["reasks"] == 1
    assert stats["generate"]["usage"]["requests"] == 12 + 2 and stats["generate"]["in"] == 12
    assert stats["judge"]["usage"]["requests"] == 11 + 1
