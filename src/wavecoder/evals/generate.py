"""Generate completions for a benchmark with any `wavecoder.llm` client and write a samples file.

One `Request` per problem asks for n samples (temperature as given); each reply keeps its raw text
next to the post-processed completion. The samples file is in human-eval's format (`task_id`,
`completion`) plus `sample_index` and `raw`, so `wavecoder eval score` and the official harness
can both read it. No code runs here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from wavecoder.evals.benchmarks import Benchmark
from wavecoder.evals.prompts import STOP, PromptFormat, postprocess, render
from wavecoder.evals.types import Completion, Problem


@dataclass(frozen=True)
class GenerateOptions:
    prompt_format: PromptFormat = "alpaca"
    n: int = 1
    temperature: float = 0.0
    max_tokens: int = 512
    top_p: float = 0.95


def build_requests(
    bench: Benchmark, problems: Sequence[Problem], opts: GenerateOptions
) -> list[object]:
    from wavecoder.llm.base import Message, Request

    requests: list[object] = []
    for p in problems:
        text = render(opts.prompt_format, bench, p)
        common = dict(
            key=f"{bench.name}/{p.task_id}/{opts.prompt_format}",
            max_tokens=opts.max_tokens,
            temperature=opts.temperature,
            top_p=opts.top_p if opts.temperature > 0 else 1.0,
            n=opts.n,
        )
        if opts.prompt_format == "chat":
            requests.append(Request(messages=(Message(role="user", content=text),), **common))  # type: ignore[arg-type]
        else:
            stop = (
                STOP[bench.language]
                if opts.prompt_format == "completion" and bench.language == "python"
                else ()
            )
            requests.append(Request(prompt=text, stop=stop, **common))  # type: ignore[arg-type]
    return requests


def generate(
    llm: object, bench: Benchmark, problems: Sequence[Problem], opts: GenerateOptions
) -> list[Completion]:
    """Completions in problem order; a failed request is an error naming the task, not a gap."""
    requests = build_requests(bench, problems, opts)
    responses = llm.generate(requests)  # type: ignore[attr-defined]
    completions: list[Completion] = []
    for problem, response in zip(problems, responses, strict=True):
        if response.error is not None or not response.texts:
            raise RuntimeError(
                f"generation failed for {problem.task_id}: {response.error or 'no text'}"
            )
        for i, text in enumerate(response.texts):
            completion = postprocess(opts.prompt_format, bench, problem, text)
            completions.append(Completion(problem.task_id, i, completion, raw=text))
    return completions


def write_samples(path: Path, completions: Sequence[Completion]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for c in completions:
            row = {
                "task_id": c.task_id,
                "completion": c.completion,
                "sample_index": c.sample_index,
                "raw": c.raw,
            }
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    tmp.replace(path)
