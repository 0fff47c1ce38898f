"""generate + judge through the pipeline against the bare LLM client, at the same concurrency.

The local OpenAI-compatible test server runs in its own process with a fixed latency per reply
(default 200 ms) and answers like a teacher (`tests.helpers.teacher`). The same number of
requests, of about the same size (3.2 kB prompts, like a prompt with two few-shot cases), goes
through
(1) the bare client: `build_llm(...).generate(requests)` at concurrency C, cache on (fresh), and
(2) the pipeline: `generate` + `judge` on N selected codes (N generator + N judge requests) with
    each role at concurrency C/2, so at most C requests are in flight in both cases; prompt
    rendering, bug injection, parsing, pre-filter, pools and append logs all included.
Prints both request rates, their ratio (the target is >= 0.90) and each side's client CPU
milliseconds per request (process time: what decides the rate on a busy machine), then the
peak memory of the
pipeline on a coreset of N and of 4N codes (it streams: the peak should not grow with N).

    .venv/bin/python benchmarks/bench_instruct.py                 # N=1000, C=32, 200 ms
    .venv/bin/python benchmarks/bench_instruct.py --codes 400 --concurrency 16 --repeat 2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

SERVER = """
import asyncio, sys
from tests.helpers.openai_server import OpenAIServer
from tests.helpers.teacher import TeacherResponder
async def serve():
    srv = OpenAIServer(latency_s=float(sys.argv[1]), record=False)
    srv.responder = TeacherResponder()
    await srv.start_async()
    print(srv.url, flush=True)
    await asyncio.Event().wait()
asyncio.run(serve())
"""

MEMORY = """
import json, resource, sys
sys.path[:0] = [sys.argv[4] + "/src", sys.argv[4]]
from benchmarks.bench_instruct import make_run, pipeline
run_dir = make_run(__import__("pathlib").Path(sys.argv[1]), int(sys.argv[2]))
pipeline(run_dir, sys.argv[3], concurrency=16)
print(json.dumps({"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def start_server(latency: float) -> tuple[subprocess.Popen[str], str]:
    from tests.helpers.openai_server import spawn

    return spawn([sys.executable, "-c", SERVER, str(latency)], cwd=ROOT)


def make_run(root: Path, n: int) -> Path:
    """A run directory whose dedup and select hold n distinct Python functions."""
    from wavecoder.records import Code, Selected
    from wavecoder.store import RunStore

    tag = uuid.uuid4().hex[:8]  # fresh prompts every run: nothing comes from the cache
    codes = [
        Code.new(
            language="python",
            source="bench",
            path=f"m{i}.py",
            span=(1, 6),
            code=f"def f_{tag}_{i}(xs, k):\n    total = 0\n    for x in xs:\n"
            f"        if x > k + {i % 7}:\n            total = total + x\n"
            "    return total\n",
        )
        for i in range(n)
    ]
    store = RunStore(root)
    for name, recs in (("dedup", codes), ("select", [Selected(c.id, r, 0.0) for r, c in
                                                      enumerate(codes)])):  # fmt: skip
        sd = store.stage(name)
        sd.path.mkdir(parents=True, exist_ok=True)
        sd.write_records("records", recs)
        sd.write_json("fingerprint", {"fingerprint": name}, sharded=False)
        sd.mark_done({"fingerprint": name})
    return root


def pipeline(run_dir: Path, url: str, *, concurrency: int) -> tuple[float, int]:
    """Seconds for generate + judge, and the requests they sent."""
    from wavecoder import pipeline as pl
    from wavecoder.progress import setup_logging

    setup_logging(quiet=True, verbose=False)
    llm = {"base_url": url, "concurrency": max(1, concurrency // 2), "model": "test-model"}
    rc = pl.build_run_config({
        "run_dir": str(run_dir), "stop_after": "judge",
        "generate": {"llm": llm, "rounds": 2}, "judge": {"llm": llm},
    })  # fmt: skip
    start = time.perf_counter()
    stats = pl.run_pipeline(rc, start="generate", quiet=True)
    seconds = time.perf_counter() - start
    assert stats["generate"] is not None and stats["judge"] is not None
    sent = stats["generate"]["usage"]["requests"] + stats["judge"]["usage"]["requests"]
    return seconds, sent


def bare_client(url: str, n: int, *, concurrency: int, chars: int) -> float:
    from wavecoder.llm import LLMConfig, Request, build_llm
    from wavecoder.progress import setup_logging

    setup_logging(quiet=True, verbose=False)
    tag = uuid.uuid4().hex
    pad = "x" * max(0, chars - 80)
    requests = [
        Request.chat(
            f"k{i}",
            ("system", "You are an AI assistant."),
            ("user", f"[{tag}] request {i}. You are asked to write {pad}"),
            max_tokens=800,
        )
        for i in range(n)
    ]
    cfg = LLMConfig(base_url=url, model="test-model", concurrency=concurrency)
    with build_llm(cfg, role="generator") as llm:
        start = time.perf_counter()
        out = llm.generate(requests, progress=False)
        seconds = time.perf_counter() - start
    assert all(r.ok for r in out)
    return seconds


def memory(n: int, url: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "WAVECODER_CACHE_DIR": tmp + "/cache"}
        cmd = [sys.executable, "-c", MEMORY, tmp + "/run", str(n), url, str(ROOT)]
        out = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, check=True)
        return float(json.loads(out.stdout.strip().splitlines()[-1])["peak_rss_mb"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--codes", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--repeat", type=int, default=1, help="rounds of both measurements")
    parser.add_argument("--memory-codes", type=int, default=1000)
    args = parser.parse_args()
    proc, url = start_server(args.latency)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["WAVECODER_CACHE_DIR"] = tmp + "/cache"
            ideal = args.concurrency / args.latency
            print(f"server latency {args.latency * 1000:.0f} ms, concurrency {args.concurrency} "
                  f"(ideal {ideal:.0f} req/s), {args.codes} codes")  # fmt: skip
            print(f"{'round':>5} {'bare req/s':>11} {'pipeline req/s':>15} {'ratio':>6} "
                  f"{'bare cpu ms':>13} {'pipe cpu ms':>13}")  # fmt: skip
            ratios = []
            _warm_up(url)
            for i in range(args.repeat):
                run_dir = make_run(Path(tmp) / f"run{i}", args.codes)
                cpu = time.process_time()
                seconds, sent = pipeline(run_dir, url, concurrency=args.concurrency)
                cpu_pipe = 1000 * (time.process_time() - cpu) / sent
                cpu = time.process_time()
                bare = sent / bare_client(url, sent, concurrency=args.concurrency, chars=3200)
                cpu_bare = 1000 * (time.process_time() - cpu) / sent
                rate = sent / seconds
                ratios.append(rate / bare)
                print(f"{i + 1:>5} {bare:>11.1f} {rate:>15.1f} {rate / bare:>6.2f} "
                      f"{cpu_bare:>13.2f} {cpu_pipe:>13.2f}")  # fmt: skip
            print(f"best ratio {max(ratios):.2f} (target >= 0.90; shared machines add noise)")
        small, large = memory(args.memory_codes, url), memory(4 * args.memory_codes, url)
        print(f"peak RSS: {args.memory_codes} codes {small:.0f} MB, {4 * args.memory_codes} codes "
              f"{large:.0f} MB (x{large / small:.2f} for 4x the coreset)")  # fmt: skip
    finally:
        proc.kill()


def _warm_up(url: str) -> None:
    """Imports (openai, pydantic models, tree-sitter) out of the timed regions of both sides."""
    import wavecoder.instruct.loop  # noqa: F401
    from wavecoder.corpus.parse import parse

    parse("x = 1\n", "python")
    bare_client(url, 4, concurrency=4, chars=100)


if __name__ == "__main__":
    main()
