"""HumanEvalPack Explain, both stages, as the bigcode-evaluation-harness runs them.

Stage 1 (describe, `humanevalexplaindescribe-<lang>` in the harness): the model sees the code
(the declaration, after `fn main(){}` for Rust, plus the canonical solution) and "Provide a
concise natural language description of the code using at most <len(docstring)> characters.".
The reply is stripped, cut to the docstring's length in characters, cut at the language's stop
words, and every line of the canonical solution longer than 20 characters (stripped) that the
text repeats is deleted from it: a description may not smuggle the code through.

Stage 2 (synthesize, `humanevalexplainsynthesize-<lang>`): for each description the model gets
"<description>\\nWrite functional code in <Language> according to the description." and the bare
declaration to continue; programs are assembled and scored like HumanEvalPack Synthesize.

Sample mapping (the harness makes every description its own row): a problem with d descriptions
and s samples per description has d*s programs, sample index `j*s + i` for description j, and
pass@k pools all of them per problem. With s = 1 and the harness's d rows, pass@1 is the same.
Descriptions are written to (and read back from) `descriptions.jsonl`; the harness's
`generations.json` (a list, per problem in dataset order, of description lists) is read too.
Nothing here runs code.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from wavecoder.evals.benchmarks import Benchmark
from wavecoder.evals.generate import GenerateOptions, build_requests, response_texts
from wavecoder.evals.prompts import to_completion
from wavecoder.evals.types import Completion, Problem

# The harness's stop words for HumanEvalPack, plus its end-of-text token.
DESCRIBE_STOP: dict[str, tuple[str, ...]] = {
    "python": ("\nclass", "\ndef", "\n#", "\n@", "\nprint", "\nif", "\nassert"),
    "go": ("\n//", "\nfunc main(", "struct", "\nfunc"),
}
END_OF_TEXT = "<|endoftext|>"
COPIED_LINE_MIN_CHARS = 20  # code lines longer than this are removed from descriptions


@dataclass(frozen=True)
class Description:
    task_id: str
    index: int
    text: str  # post-processed: what stage 2 sees
    raw: str = ""  # the model's reply ("" when read from a file without it)
    max_chars: int = 0


def code_base(problem: Problem) -> str:
    """The harness's prompt base without docstring: the declaration (`fn main(){}` first, Rust)."""
    declaration = problem.extra["declaration"]
    return "fn main(){}\n" + declaration if problem.language == "rust" else declaration


def max_chars(problem: Problem) -> int:
    return len(problem.extra.get("docstring", ""))


def describe_text(problem: Problem) -> str:
    """Stage 1's task text: the code, then the instruction (the harness's `instruct` order)."""
    instruction = (
        "Provide a concise natural language description of the code using at most "
        f"{max_chars(problem)} characters."
    )
    return f"{code_base(problem)}{problem.canonical_solution}\n{instruction}"


def render_describe(fmt: str, problem: Problem) -> str:
    """The stage-1 prompt for a completion endpoint (chat sends `describe_text` as one message)."""
    from wavecoder.train.formatting import alpaca_prompt, magicoder_prompt

    text = describe_text(problem)
    if fmt == "alpaca":
        return alpaca_prompt(text)
    if fmt == "magicoder":
        return magicoder_prompt(text)
    return text.strip()  # instruct / completion: as the harness strips its prompt


def cut_description(problem: Problem, reply: str) -> str:
    """The harness's post-processing: length cut, stop words, copied code lines removed."""
    text = reply.strip()[: max_chars(problem)]
    for stop in (*DESCRIBE_STOP.get(problem.language, ()), END_OF_TEXT):
        at = text.find(stop)
        if at != -1:
            text = text[:at]
    text = text.rstrip()
    for line in problem.canonical_solution.split("\n"):
        line = line.strip()
        if len(line) > COPIED_LINE_MIN_CHARS and line in text:
            text = text.replace(line, "")
    return text


def describe(
    llm: object,
    bench: Benchmark,
    problems: Sequence[Problem],
    opts: GenerateOptions,
    *,
    progress: bool = True,
) -> list[Description]:
    """Stage 1: `opts.n` descriptions per problem, in problem order."""
    from wavecoder.llm.base import Message, Request

    _check_explain(bench)
    requests = []
    for p in problems:
        key = f"{bench.name}/{p.task_id}/describe/{opts.prompt_format}"
        common = _sampling(opts, opts.n)
        if opts.prompt_format == "chat":
            message = Message(role="user", content=describe_text(p))
            requests.append(Request(key=key, messages=(message,), **common))  # type: ignore[arg-type]
        else:
            prompt = render_describe(opts.prompt_format, p)
            requests.append(Request(key=key, prompt=prompt, **common))  # type: ignore[arg-type]
    responses = llm.generate(requests, progress=progress)  # type: ignore[attr-defined]
    out: list[Description] = []
    for p, response in zip(problems, responses, strict=True):
        for j, raw in enumerate(response_texts(response, f"{p.task_id} (describe)")):
            out.append(Description(p.task_id, j, cut_description(p, raw), raw, max_chars(p)))
    return out


def synthesize(
    llm: object,
    bench: Benchmark,
    problems: Sequence[Problem],
    descriptions: Sequence[Description],
    opts: GenerateOptions,
    *,
    progress: bool = True,
) -> list[Completion]:
    """Stage 2: `opts.samples_per_description` programs per description, sample `j*s + i`."""
    _check_explain(bench)
    by_id = {p.task_id: p for p in problems}
    unknown = sorted({d.task_id for d in descriptions} - set(by_id))
    if unknown:
        raise KeyError(f"descriptions for tasks not selected: {', '.join(unknown[:5])}")
    per = opts.samples_per_description
    staged = [with_description(by_id[d.task_id], d) for d in descriptions]
    requests = build_requests(bench, staged, replace(opts, n=per))
    responses = llm.generate(requests, progress=progress)  # type: ignore[attr-defined]
    completions: list[Completion] = []
    for d, problem, response in zip(descriptions, staged, responses, strict=True):
        for i, raw in enumerate(response_texts(response, f"{d.task_id} (description {d.index})")):
            index = d.index * per + i
            completions.append(to_completion(opts.prompt_format, bench, problem, raw, index))
    return completions


def with_description(problem: Problem, description: Description) -> Problem:
    extra = {**problem.extra, "description": description.text}
    return replace(problem, extra={**extra, "description_index": str(description.index)})


def _sampling(opts: GenerateOptions, n: int) -> dict[str, object]:
    return {
        "max_tokens": opts.max_tokens,
        "temperature": opts.temperature,
        "top_p": opts.top_p if opts.temperature > 0 else 1.0,
        "n": n,
    }


def _check_explain(bench: Benchmark) -> None:
    if bench.task != "explain":
        raise ValueError(f"{bench.name} is not a HumanEvalPack Explain benchmark")


def write_descriptions(path: Path, descriptions: Sequence[Description]) -> None:
    from wavecoder.store import write_jsonl_atomic

    rows = (
        {
            "task_id": d.task_id,
            "description_index": d.index,
            "description": d.text,
            "max_chars": d.max_chars,
            "raw": d.raw,
        }
        for d in descriptions
    )
    write_jsonl_atomic(path, rows)


def read_descriptions(path: Path, problems: Sequence[Problem]) -> list[Description]:
    """`descriptions.jsonl` (ours) or the harness's `generations.json`, checked against problems."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        return _read_harness(path, text, problems)
    known = {p.task_id for p in problems}
    out: list[Description] = []
    seen: dict[str, int] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            task_id, desc = str(row["task_id"]), row["description"]
            if not isinstance(desc, str):
                raise TypeError(f"description is {type(desc).__name__}, not a string")
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(
                f"{path}:{lineno}: expected {{'task_id', 'description'}} ({exc})"
            ) from exc
        if task_id not in known:
            raise KeyError(f"{path}:{lineno}: task {task_id!r} is not in the selected problems")
        index = int(row.get("description_index", seen.get(task_id, 0)))
        seen[task_id] = index + 1
        raw = str(row.get("raw", ""))
        out.append(Description(task_id, index, desc, raw, int(row.get("max_chars", 0))))
    return _in_problem_order(out, problems)


def _read_harness(path: Path, text: str, problems: Sequence[Problem]) -> list[Description]:
    try:
        rows = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}:{exc.lineno}: not JSON ({exc.msg})") from exc
    if not isinstance(rows, list) or not all(
        isinstance(r, list) and all(isinstance(s, str) for s in r) for r in rows
    ):
        raise ValueError(f"{path}: expected the harness's format, a list of lists of strings")
    if len(rows) > len(problems):
        raise ValueError(
            f"{path}: {len(rows)} problems described, the benchmark has {len(problems)}"
        )
    return [
        Description(p.task_id, j, s, "", max_chars(p))
        for p, texts in zip(problems, rows, strict=False)
        for j, s in enumerate(texts)
    ]


def _in_problem_order(descs: list[Description], problems: Sequence[Problem]) -> list[Description]:
    rank = {p.task_id: i for i, p in enumerate(problems)}
    pairs = [(d.task_id, d.index) for d in descs]
    if len(set(pairs)) != len(pairs):
        twice = sorted({f"{t}#{i}" for t, i in pairs if pairs.count((t, i)) > 1})
        raise ValueError(f"duplicate description index: {', '.join(twice[:5])}")
    return sorted(descs, key=lambda d: (rank[d.task_id], d.index))
