"""Child process of test_interrupt: many LLM calls in flight, then the test sends SIGINT.

Mirrors the `wavecoder` command's handler: one line on KeyboardInterrupt, exit 130.
"""

from __future__ import annotations

import sys

from wavecoder.llm import LLMConfig, Request, build_llm
from wavecoder.progress import setup_logging


def main(url: str, cache: str) -> int:
    setup_logging(quiet=True, verbose=False)  # warnings and errors still show
    cfg = LLMConfig(model="m", base_url=url, cache_path=cache, concurrency=32, max_retries=0)
    requests = [Request.chat(f"k{i}", ("user", f"question {i}")) for i in range(2000)]
    try:
        with build_llm(cfg, role="generator") as llm:
            llm.generate(requests, progress=False, on_response=lambda r: print("got", flush=True))
    except KeyboardInterrupt:
        print("wavecoder: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1], sys.argv[2]))
