"""The `verify` stage's work: tests for each pending instance, then its run, as results come.

`check_all(pending, cfg, out, record)` builds the test writer's client only when an instance
needs it, asks for a chunk's tests in one batch (the LLM client's concurrency and cache), runs
the chunk's programs in a thread pool (each in the sandbox, `verify_exec`) while it asks for
the next chunk's tests, and hands every `Execution` to `record` as it finishes, under a
progress bar. Which instances are skipped and
why (`skip`) is decided here, before any request. Not here: the stage's files and stats
(`verify`), the programs (`verify_programs`), the prompt (`verify_tests`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import TYPE_CHECKING, Any

from wavecoder.records import Example, Execution

if TYPE_CHECKING:
    from wavecoder.instruct.verify import Config


def check_all(
    pending: Sequence[tuple[Example, bool]], cfg: Config, out: Any, record: Any
) -> dict[str, Any] | None:
    """Tests for every pending instance, then its run, in chunks; each result is `record`ed
    as it finishes. Returns the test writer's usage (None when it was not needed)."""
    import os

    from wavecoder.instruct.stage import Usage
    from wavecoder.progress import track

    workers = cfg.workers or os.cpu_count() or 1
    with contextlib.ExitStack() as stack:
        llm = book = None
        if any(_needs_writer(ex, cfg) for ex, _ in pending):
            from wavecoder.llm.base import build_llm

            llm = stack.enter_context(build_llm(cfg.llm, role="verify"))
            book = Usage(llm, cfg.llm, out, "verify")
            stack.callback(book.save)  # what was paid for, also when interrupted
        pool = ThreadPoolExecutor(max_workers=workers)
        # an interrupt must not wait for every queued program (as the scorer)
        stack.callback(pool.shutdown, wait=True, cancel_futures=True)
        results = _results(pending, cfg, llm, pool, 2 * max(workers, cfg.llm.concurrency))
        for execution in track(results, total=len(pending), desc="verify"):
            record(execution)
        if book is not None:
            return book.total()
    return (out.read_json("usage") or {}).get("total")  # an earlier process's, if any


def _results(
    pending: Sequence[tuple[Example, bool]], cfg: Config, llm: Any, pool: Any, size: int
) -> Iterator[Execution]:
    """Chunk by chunk: one batch of test requests, then the chunk's programs in the pool. The
    next chunk's requests go out while the pool runs this chunk's programs (the writer's
    latency and the sandbox overlap); the results come out as they finish."""
    running: list[Any] = []
    for chunk in _chunks(pending, size):
        tests = _tests_for(chunk, cfg, llm)  # on this thread: the client and its cache live here
        for future in as_completed(running):
            yield future.result()
        running = [pool.submit(_check_one, ex, acc, t, cfg)
                   for (ex, acc), t in zip(chunk, tests, strict=True)]  # fmt: skip
    for future in as_completed(running):
        yield future.result()


def _needs_writer(ex: Example, cfg: Config) -> bool:
    from wavecoder.instruct.verify_tests import carried

    return not skip(ex, cfg) and not carried(ex)


def skip(ex: Example, cfg: Config) -> str:
    from wavecoder.instruct.verify_programs import skip_reason, solution_language

    reason = skip_reason(ex)
    if not reason and solution_language(ex) not in cfg.languages:
        reason = f"language: {solution_language(ex)} is not in verify.languages"
    return reason


Tests = dict[str, str]  # tests, tests_source, tests_raw, tests_model; or skip: the reason


def _tests_for(chunk: Sequence[tuple[Example, bool]], cfg: Config, llm: Any) -> list[Tests]:
    """Each instance's tests: its own, the writer's (one batch for the chunk), or why none."""
    from wavecoder.instruct.verify_programs import checks_something, solution_language
    from wavecoder.instruct.verify_tests import carried, parse_tests, tests_request

    out: list[Tests] = []
    asks: dict[int, Any] = {}
    for i, (ex, _) in enumerate(chunk):
        if reason := skip(ex, cfg):
            out.append({"skip": reason})
        elif own := carried(ex):
            out.append({"tests": own, "tests_source": "instance"})
        else:
            out.append({})
            asks[i] = tests_request(ex, cfg.llm)
    if asks:
        replies = llm.generate(list(asks.values()), progress=False)
        for i, reply in zip(asks, replies, strict=True):
            raw = reply.text if reply.ok else (reply.error or reply.raw)
            tests = parse_tests(reply.text, solution_language(chunk[i][0])) if reply.ok else ""
            out[i] = {"tests": tests, "tests_source": "llm", "tests_raw": raw,
                      "tests_model": llm.identity}  # fmt: skip
            if not reply.ok:
                out[i]["skip"] = f"no_tests: the test writer's reply is {reply.status}"
    for i, (ex, _) in enumerate(chunk):
        t = out[i]
        if "skip" not in t and not checks_something(solution_language(ex), t.get("tests", "")):
            t["skip"] = "no_tests: the tests check nothing (no assert or test function)"
    return out


def _check_one(ex: Example, accepted: bool, tests: Tests, cfg: Config) -> Execution:
    from wavecoder.instruct.verify_exec import check, skipped

    fields = {k: v for k, v in tests.items() if k != "skip"}
    if "skip" in tests:
        return skipped(ex, tests["skip"], accepted=accepted, **fields)
    tests_code = fields.pop("tests")
    return check(ex, tests_code, timeout_s=cfg.timeout_s, mode=cfg.sandbox, accepted=accepted,
                 **fields)  # fmt: skip


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
