"""The request cache: hits, misses, crash then resume, namespaces, concurrent writers."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.openai_server import OpenAIServer
from wavecoder.llm import LLMConfig, Request, Response, build_llm
from wavecoder.llm.cache import ResponseCache, request_hash

pytestmark = pytest.mark.timeout(60)


def reqs(n: int, **params: Any) -> list[Request]:
    return [Request.chat(f"k{i}", ("user", f"message {i}"), **params) for i in range(n)]


def cfg(url: str, **overrides: Any) -> LLMConfig:
    return LLMConfig(base_url=url, backoff_base_s=0.01, **overrides)


def test_second_run_is_served_from_cache(server: OpenAIServer) -> None:
    with build_llm(cfg(server.url), role="generator") as llm:
        first = llm.generate(reqs(10), progress=False)
    with build_llm(cfg(server.url), role="generator") as llm:
        second = llm.generate(reqs(10), progress=False)
        stats = llm.stats()
    assert len(server.requests) == 10
    assert [r.texts for r in first] == [r.texts for r in second]
    assert not any(r.cached for r in first) and all(r.cached for r in second)
    assert [r.key for r in second] == [f"k{i}" for i in range(10)]
    assert stats["llm.generator.cache_hits"] == 10 and stats["llm.generator.requests"] == 0


def test_any_change_in_the_request_misses(server: OpenAIServer) -> None:
    base = Request.chat("k", ("user", "hello"))
    variants = [
        base,
        Request.chat("k", ("user", "hello!")),
        Request.chat("k", ("system", "s"), ("user", "hello")),
        Request.chat("k", ("user", "hello"), temperature=0.5),
        Request.chat("k", ("user", "hello"), seed=1),
        Request.chat("k", ("user", "hello"), stop=("\n",)),
        Request.chat("k", ("user", "hello"), max_tokens=7),
        Request(key="k", prompt="hello"),
    ]
    with build_llm(cfg(server.url), role="generator") as llm:
        llm.generate(variants, progress=False)
        llm.generate([Request.chat("other-key", ("user", "hello"))], progress=False)
    assert len(server.requests) == len(variants)  # a new caller key alone is a hit


def test_identical_requests_in_one_batch_are_sent_once(server: OpenAIServer) -> None:
    batch = [Request.chat(f"k{i}", ("user", "same")) for i in range(5)]
    with build_llm(cfg(server.url), role="generator") as llm:
        out = llm.generate(batch, progress=False)
    assert len(server.requests) == 1 and [r.key for r in out] == [f"k{i}" for i in range(5)]
    assert len({r.text for r in out}) == 1


def test_model_revision_and_namespace_separate_entries(server: OpenAIServer) -> None:
    for overrides, role in [
        ({}, "generator"),
        ({"model_revision": "v2"}, "generator"),
        ({}, "eval"),
        ({}, "generator"),
    ]:
        with build_llm(cfg(server.url, **overrides), role=role) as llm:
            llm.generate(reqs(1), progress=False)
    assert len(server.requests) == 3  # v1/default, v2/default, v1/eval; the last one hits


class Crash(Exception):
    pass


def test_crash_then_resume_repeats_no_request(server: OpenAIServer) -> None:
    server.latency_s = 0.01
    done: list[Response] = []

    def on_response(resp: Response) -> None:
        done.append(resp)
        if len(done) == 12:
            raise Crash("simulated crash mid-run")

    with build_llm(cfg(server.url, concurrency=4), role="generator") as llm, pytest.raises(Crash):
        llm.generate(reqs(40), progress=False, on_response=on_response)
    sent_before = {r.body["messages"][0]["content"] for r in server.requests}
    with build_llm(cfg(server.url, concurrency=4), role="generator") as llm:
        out = llm.generate(reqs(40), progress=False)
    sent = [r.body["messages"][0]["content"] for r in server.requests]
    assert all(r.ok for r in out)
    assert len(sent) == len(set(sent)) == 40, "a finished request was sent again"
    assert sum(r.cached for r in out) >= 12 and len(sent_before) >= 12


def _writer(path: str, worker: int) -> None:
    cache = ResponseCache(Path(path), namespace="ns")
    for i in range(100):
        req = Request(key=f"{worker}-{i}", prompt=f"p {worker} {i}")
        resp = Response(req.key, (f"t{i}",), ("stop",), "ok", "raw")
        cache.put(request_hash("openai", "m", req), "m", req, resp)
    cache.close()


def test_concurrent_writers_from_several_processes(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(path), w)) for w in range(4)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    cache = ResponseCache(path, namespace="ns")
    assert len(cache) == 400
    req = Request(key="x", prompt="p 3 99")
    hit = cache.get_many([request_hash("openai", "m", req)])
    assert [r.texts for r in hit.values()] == [("t99",)]


def _opener(path: str, start: Any) -> None:
    start.wait()
    ResponseCache(Path(path), namespace="ns").close()


def test_many_processes_opening_a_fresh_file_at_once(tmp_path: Path) -> None:
    """Regression: switching a fresh file to WAL from several connections at once made sqlite
    answer "database is locked" without waiting for the busy timeout (CI, one opener in ~20)."""
    ctx = multiprocessing.get_context("fork")
    for round_ in range(40):
        path = tmp_path / f"fresh-{round_}.sqlite"
        start = ctx.Event()
        procs = [ctx.Process(target=_opener, args=(str(path), start)) for _ in range(8)]
        for proc in procs:
            proc.start()
        start.set()
        for proc in procs:
            proc.join(60)
        assert [p.exitcode for p in procs] == [0] * 8, f"round {round_}"


def test_errors_are_not_cached(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "c.sqlite", namespace="ns")
    req = Request(key="k", prompt="p")
    for status in ("error", "malformed"):
        bad = Response("k", (), (), status, "raw", error="x")  # type: ignore[arg-type]
        assert not cache.put("h", "m", req, bad)
    assert len(cache) == 0


@pytest.mark.timeout(30, method="thread")  # the old deadlock blocked inside sqlite, not Python
def test_two_clients_on_one_cache_file_in_one_event_loop(tmp_path: Path) -> None:
    """The generator and the judge of a run share the cache file and an event loop: each defers
    its commit to the next loop turn, so with a connection each, one's insert waited on the
    other's open transaction until sqlite gave up ("database is locked")."""
    import asyncio

    from tests.helpers.openai_server import OpenAIServer
    from wavecoder.llm import LLMConfig, Request, build_llm

    path = str(tmp_path / "shared.sqlite")
    with OpenAIServer() as server:
        cfg = LLMConfig(base_url=server.url, cache_path=path, concurrency=8)
        gen, judge = build_llm(cfg, role="generator"), build_llm(cfg, role="judge")

        async def both() -> list[list[object]]:
            asks = [
                llm.agenerate([Request.chat(f"{role}{i}", ("user", f"{role} {i}"))], progress=False)
                for i in range(20)
                for role, llm in (("g", gen), ("j", judge))
            ]
            out = await asyncio.gather(*asks)
            for llm in (gen, judge):
                await llm.backend.aclose()  # type: ignore[attr-defined]
            return out

        out = asyncio.new_event_loop().run_until_complete(both())
        gen.close()
        judge.close()
    assert len(out) == 40 and all(r[0].ok for r in out)  # type: ignore[attr-defined]
    again = ResponseCache(Path(path), namespace="default")
    assert len(again) == 40
    again.close()
