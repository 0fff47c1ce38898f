"""Throughput of the LLM client layer against the local OpenAI-compatible test server.

For each concurrency level, the same number of unique chat requests goes through
(1) a plain `AsyncOpenAI` loop (official SDK, aiohttp transport, a semaphore; the baseline) and
(2) wavecoder's client with everything on: sqlite cache writes, token accounting with a budget,
adaptive concurrency, retries. The server runs in its own process with a fixed latency per reply,
so the ideal is concurrency / latency. Prints requests/s, % of ideal, the ratio to the baseline and
the client's CPU milliseconds per request (process CPU time; the server's is not counted).

    .venv/bin/python benchmarks/bench_llm.py            # 2,000 requests, 200 ms, 16/64/256
    .venv/bin/python benchmarks/bench_llm.py --requests 500 --concurrency 64
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]


@dataclass(frozen=True)
class Result:
    seconds: float
    cpu_s: float
    ok: int

    def rate(self, n: int) -> float:
        return n / self.seconds

    def cpu_ms(self, n: int) -> float:
        return 1000 * self.cpu_s / n


def start_server(latency: float) -> tuple[subprocess.Popen[str], str]:
    from tests.helpers.openai_server import spawn

    cmd = [sys.executable, "-m", "tests.helpers.openai_server", "--latency", str(latency)]
    return spawn([*cmd, "--reply", "def add(a, b):\n    return a + b\n"], cwd=ROOT)


def prompts(n: int) -> list[str]:
    tag = uuid.uuid4().hex  # unique per run: no cache hits, no in-batch deduplication
    return [f"[{tag}] Write a function number {i} that adds two numbers." for i in range(n)]


def plain_loop(url: str, texts: list[str], concurrency: int) -> Result:
    import openai

    async def main() -> int:
        client = openai.AsyncOpenAI(
            base_url=url, api_key="EMPTY", max_retries=0, http_client=openai.DefaultAioHttpClient()
        )
        gate = asyncio.Semaphore(concurrency)

        async def one(text: str) -> bool:
            async with gate:
                resp = await client.chat.completions.create(
                    model="test-model", messages=[{"role": "user", "content": text}], max_tokens=64
                )
                return bool(resp.choices[0].message.content)

        done = await asyncio.gather(*(one(t) for t in texts))
        await client.close()
        return sum(done)

    return _timed(lambda: asyncio.run(main()))


def wavecoder_client(url: str, texts: list[str], concurrency: int, cache_dir: Path) -> Result:
    from wavecoder.llm import LLMConfig, Request, build_llm

    cfg = LLMConfig(
        model="test-model",
        base_url=url,
        concurrency=concurrency,
        cache_path=str(cache_dir / f"bench-{concurrency}.sqlite"),
        price_input_per_mtok=1.0,
        price_output_per_mtok=2.0,
        budget_usd=1000.0,
    )
    requests = [Request.chat(f"r{i}", ("user", t), max_tokens=64) for i, t in enumerate(texts)]

    def run() -> int:
        with build_llm(cfg, role="bench") as llm:
            return sum(r.ok for r in llm.generate(requests, progress=False))

    return _timed(run)


def _timed(fn: object) -> Result:
    assert callable(fn)
    cpu, wall = time.process_time(), time.perf_counter()
    ok = fn()
    return Result(time.perf_counter() - wall, time.process_time() - cpu, int(ok))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.2, help="server seconds per reply")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[16, 64, 256])
    args = parser.parse_args()
    n = args.requests
    proc, url = start_server(args.latency)
    ms = args.latency * 1000
    print(f"server {url}, latency {ms:.0f} ms, {n} requests, {os.cpu_count()} CPUs")
    head = f"{'conc':>5} {'ideal':>7} {'plain':>7} {'wavecoder':>9} {'%ideal':>7} {'vs plain':>8}"
    print(head + f" {'cpu ms/req plain':>17} {'wavecoder':>10}")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for conc in args.concurrency:
                ideal = conc / args.latency
                base = plain_loop(url, prompts(n), conc)
                ours = wavecoder_client(url, prompts(n), conc, Path(tmp))
                if base.ok != n or ours.ok != n:
                    print(f"  warning: ok replies plain {base.ok}/{n}, wavecoder {ours.ok}/{n}")
                print(
                    f"{conc:>5} {ideal:>7.0f} {base.rate(n):>7.0f} {ours.rate(n):>9.0f} "
                    f"{100 * ours.rate(n) / ideal:>6.0f}% {ours.rate(n) / base.rate(n):>7.2f}x "
                    f"{base.cpu_ms(n):>17.2f} {ours.cpu_ms(n):>10.2f}",
                    flush=True,
                )
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
