"""`wavecoder show RUN export`: a few exported instances with their lineage and verdicts.

Reads the first exported file (any format) and prints, per instance, the task and languages,
the instruction, input and output, where the code came from, the models, and the judge's answer
to every rule. Reads only. Not here: the generic record printer (`wavecoder.show`).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from wavecoder.instruct.export_files import FILES
from wavecoder.store import StageDir, read_jsonl

WIDTH = 600  # characters of a long field shown before it is cut


def rows(sd: StageDir) -> Iterator[dict[str, Any]]:
    """The exported rows of the first format present, each with instruction/input/output."""
    for fmt, name in FILES.items():
        path = sd.path / name
        if not path.is_file():
            continue
        if fmt == "alpaca":
            yield from json.loads(path.read_text(encoding="utf-8"))
        elif fmt == "messages":
            for _, row in read_jsonl(path):
                yield _from_messages(row)
        else:
            yield from _parquet(path)
        return


def _from_messages(row: dict[str, Any]) -> dict[str, Any]:
    user = next(m["content"] for m in row["messages"] if m["role"] == "user")
    return {**row, "instruction": user, "input": "", "output": row["messages"][-1]["content"]}


def _parquet(path: Path) -> Iterator[dict[str, Any]]:
    import pyarrow.parquet as pq

    for row in pq.read_table(path).to_pylist():
        meta = row["lineage"].get("meta")
        row["lineage"]["meta"] = json.loads(meta) if isinstance(meta, str) else meta or {}
        yield row


def _cut(text: str) -> str:
    return text if len(text) <= WIDTH else text[:WIDTH] + f"... ({len(text)} characters)"


def _block(name: str, text: str) -> list[str]:
    if not text:
        return [f"  {name}: (none)"]
    return [f"  {name}:"] + ["    " + line for line in _cut(text).splitlines()]


def render(row: dict[str, Any]) -> str:
    lin = row.get("lineage") or {}
    lang = row["language"] + (f" -> {row['target_language']}" if row.get("target_language") else "")
    span = lin.get("span")
    where = f"{lin.get('repo') or lin.get('source', '')} {lin.get('path', '')}"
    where += f":{span[0]}-{span[1]}" if span else ""
    lines = [f"  id: {row['id']}  task: {row['task']}  language: {lang}"]
    lines += _block("instruction", row["instruction"]) + _block("input", row["input"])
    lines += _block("output", row["output"])
    lines.append(f"  source: {where.strip()}  licence: {lin.get('license') or 'unknown'}")
    lines.append(
        f"  teacher: {lin.get('teacher_model') or '-'}  judge: {lin.get('judge_model') or '-'}"
        f"  prompt: {lin.get('prompt_version') or '-'}  round: {lin.get('round', 0)}"
    )
    verdict = lin.get("verdict") or {}
    lines.append(f"  verdict: overall {verdict.get('overall') or '-'}")
    for rule in verdict.get("rules") or []:
        lines.append(f"    {rule['answer']:>3}  {rule['rule']}: {rule.get('reason', '')}".rstrip())
    if verdict.get("reasons"):
        lines.append(f"    reasons: {_cut(verdict['reasons'])}")
    for key, value in sorted((lin.get("meta") or {}).items()):
        if value is not None:
            lines.append(f"  {key}: {_cut(str(value))}")
    return "\n".join(lines)


def show(sd: StageDir, n: int) -> bool:
    """Print the first `n` instances; False when the folder holds no exported file."""
    stats = sd.read_json("stats") or {}
    total = stats.get("out", "?")
    found = False
    for i, row in enumerate(itertools.islice(rows(sd), n)):
        found = True
        print(f"── export instance {i + 1}/{total} ──")
        print(render(row))
    if found and stats:
        drops = {k: v for k, v in stats.items() if k.startswith("dropped.")}
        print(
            "funnel: "
            + ", ".join(f"{k[7:]}={v}" for k, v in stats.items() if k.startswith("funnel."))
        )
        if drops:
            print("dropped: " + ", ".join(f"{k[8:]}={v}" for k, v in drops.items()))
    return found
