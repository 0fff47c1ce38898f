"""Read instruction data for fine-tuning, in the formats the dataset stage writes.

One record per line (``.jsonl``), one JSON array (``.json``) or a Parquet table (``.parquet``); each
record is one of:

* **alpaca**: ``{"instruction": str, "input": str (optional, "" = none), "output": str}`` plus
  optional ``id``, ``task``, ``language`` (kept as metadata);
* **messages**: ``{"messages": [{"role": ROLE, "content": str}, ...]}`` with ROLE one of system,
  user, assistant, tool, ending with an assistant turn (only that last turn is trained; earlier
  turns are context);
* **prompt_completion**: ``{"prompt": str, "completion": str}``, used verbatim (no template).

A folder written by ``datasets``' ``save_to_disk`` (a ``Dataset``, or a ``DatasetDict`` whose
``train`` split is read; ``DIR:split`` picks another) is read with ``datasets.load_from_disk``.
An argument that is not an existing path but looks like ``owner/name`` (or ``owner/name:split``)
is loaded from the Hugging Face hub with ``datasets.load_dataset``; one that names a data file
(``.jsonl``, ``.json``, ``.parquet``) or a folder that exists is a local path, and a missing one
is said to be missing, never looked up on the hub. A bad record raises
``DataError`` naming ``file:line`` (or ``file[index]``, ``name[split]#row``). Other keys are
ignored. This module does not tokenize (see ``encode.py``).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Format = Literal["alpaca", "messages", "prompt_completion"]
ROLES = frozenset({"system", "user", "assistant", "tool"})
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+(:[\w.\[\]%+-]+)?$")


class DataError(ValueError):
    """An input that cannot be read as training data; the message names where."""


@dataclass(frozen=True)
class TrainRecord:
    """One validated training record and where it came from (``file:line``)."""

    where: str
    format: Format
    fields: Mapping[str, Any]
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Source:
    """One input (file or hub dataset) with its content hash and record count."""

    name: str
    sha256: str
    records: int


def detect_format(row: Mapping[str, Any]) -> Format | None:
    if "messages" in row:
        return "messages"
    if "instruction" in row and "output" in row:
        return "alpaca"
    if "prompt" in row and "completion" in row:
        return "prompt_completion"
    return None


def _str_field(row: Mapping[str, Any], key: str, where: str, *, optional: bool = False) -> str:
    value = row.get(key)
    if value is None and optional:
        return ""
    if not isinstance(value, str):
        raise DataError(f"{where}: field {key!r} must be a string, got {type(value).__name__}")
    return value


def _messages(row: Mapping[str, Any], where: str) -> list[dict[str, str]]:
    msgs = row["messages"]
    if not isinstance(msgs, list) or not msgs:
        raise DataError(f"{where}: 'messages' must be a non-empty list")
    out = []
    for i, m in enumerate(msgs):
        if not isinstance(m, Mapping) or m.get("role") not in ROLES:
            raise DataError(f"{where}: messages[{i}] needs a role in {sorted(ROLES)}")
        out.append({"role": str(m["role"]), "content": _str_field(m, "content", where)})
    if out[-1]["role"] != "assistant":
        raise DataError(f"{where}: the last message must be the assistant's reply")
    return out


def parse_record(row: Any, where: str) -> TrainRecord:
    """Validate one raw record (a JSON object) into a ``TrainRecord``."""
    if not isinstance(row, Mapping):
        raise DataError(f"{where}: expected a JSON object, got {type(row).__name__}")
    fmt = detect_format(row)
    if fmt is None:
        raise DataError(
            f"{where}: unknown record shape (keys {sorted(row)}); expected "
            "instruction/input/output, messages, or prompt/completion"
        )
    if fmt == "messages":
        fields: dict[str, Any] = {"messages": _messages(row, where)}
    elif fmt == "alpaca":
        fields = {
            "instruction": _str_field(row, "instruction", where),
            "input": _str_field(row, "input", where, optional=True),
            "output": _str_field(row, "output", where),
        }
    else:
        fields = {k: _str_field(row, k, where) for k in ("prompt", "completion")}
    target = fields.get("output", fields.get("completion"))
    if target is not None and not target.strip():
        raise DataError(f"{where}: the response is empty")
    meta = {k: row[k] for k in ("id", "task", "language") if row.get(k) is not None}
    return TrainRecord(where=where, format=fmt, fields=fields, meta=meta)


def _json_array(path: Path, text: str) -> Iterator[tuple[str, Any]]:
    """Elements of a top-level JSON array, each with ``file:line`` of where it starts."""
    decoder = json.JSONDecoder()
    ws = re.compile(r"[\s,]*")
    pos = ws.match(text, 0).end()  # type: ignore[union-attr]
    if not text.startswith("[", pos):
        raise DataError(f"{path}:1: a .json input must hold a JSON array of records")
    pos = ws.match(text, pos + 1).end()  # type: ignore[union-attr]
    while not text.startswith("]", pos):
        line = text.count("\n", 0, pos) + 1
        try:
            obj, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}") from exc
        yield f"{path}:{line}", obj
        pos = ws.match(text, pos).end()  # type: ignore[union-attr]
        if pos >= len(text):
            raise DataError(f"{path}:{line}: unterminated JSON array")


def _jsonl(path: Path, text: str) -> Iterator[tuple[str, Any]]:
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield f"{path}:{lineno}", json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{lineno}: invalid JSON: {exc.msg}") from exc


def _parquet(path: Path) -> Iterator[tuple[str, Any]]:
    import pyarrow.parquet as pq

    for i, row in enumerate(pq.read_table(path).to_pylist()):
        yield f"{path}[{i}]", row


def read_file(path: Path) -> tuple[list[TrainRecord], Source]:
    """All records of one local file, validated, and the file's sha256."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror}") from exc
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        rows: Iterator[tuple[str, Any]] = _parquet(path)
    elif suffix in (".jsonl", ".ndjson"):
        rows = _jsonl(path, raw.decode("utf-8"))
    elif suffix == ".json":
        rows = _json_array(path, raw.decode("utf-8"))
    else:
        raise DataError(f"{path}: unsupported file type (use .json, .jsonl or .parquet)")
    records = [parse_record(row, where) for where, row in rows]
    return records, Source(str(path), hashlib.sha256(raw).hexdigest(), len(records))


def read_hub(spec: str) -> tuple[list[TrainRecord], Source]:
    """Records of a hub dataset ``owner/name[:split]`` (split defaults to ``train``)."""
    import datasets

    name, _, split = spec.partition(":")
    ds = datasets.load_dataset(name, split=split or "train")
    return _from_dataset(ds, f"{name}[{split or 'train'}]", spec)


def is_saved_dataset(path: Path) -> bool:
    """A folder `datasets.Dataset.save_to_disk` / `DatasetDict.save_to_disk` wrote."""
    return (path / "dataset_dict.json").is_file() or (
        (path / "state.json").is_file() and (path / "dataset_info.json").is_file()
    )


def read_saved(path: Path, split: str = "") -> tuple[list[TrainRecord], Source]:
    """Records of a `save_to_disk` folder (a DatasetDict's `split`, default ``train``)."""
    import datasets

    ds = datasets.load_from_disk(str(path))
    if isinstance(ds, datasets.DatasetDict):
        split = split or "train"
        if split not in ds:
            raise DataError(f"{path}: saved DatasetDict has no split {split!r} ({', '.join(ds)})")
        ds = ds[split]
    elif split:
        raise DataError(f"{path}: a saved Dataset has no splits; drop ':{split}'")
    where = f"{path}[{split}]" if split else str(path)
    return _from_dataset(ds, where, str(path) + (f":{split}" if split else ""))


def _from_dataset(ds: Any, where: str, name: str) -> tuple[list[TrainRecord], Source]:
    digest = hashlib.sha256()
    records = []
    for i, row in enumerate(ds):
        digest.update(json.dumps(row, sort_keys=True, default=str).encode("utf-8") + b"\n")
        records.append(parse_record(row, f"{where}#{i}"))
    return records, Source(name, digest.hexdigest(), len(records))


_LOCAL_SUFFIXES = (".json", ".jsonl", ".ndjson", ".parquet", ".gz", ".arrow")


def _looks_local(item: str) -> bool:
    """A path the user meant on disk: a data-file name, an explicit path, or inside a folder
    that exists (so a typo is 'no such file', not a 24 s wait on the hub)."""
    name = item.partition(":")[0]
    path = Path(name).expanduser()
    return (
        name.lower().endswith(_LOCAL_SUFFIXES)
        or name.startswith((".", "/", "~"))
        or (path.parent != Path(".") and path.parent.is_dir())
    )


def read_inputs(inputs: Sequence[str | Path]) -> tuple[list[TrainRecord], list[Source]]:
    """Records of every input in order: local files or folders of them, else hub dataset ids."""
    records: list[TrainRecord] = []
    sources: list[Source] = []
    for item in inputs:
        path = Path(item)
        base, _, split = str(item).rpartition(":") if ":" in str(item) else (str(item), "", "")
        saved = Path(base) if split and Path(base).is_dir() else path
        if saved.is_dir() and is_saved_dataset(saved):
            recs, src = read_saved(saved, split if saved != path else "")
            records += recs
            sources.append(src)
            continue
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix in (".json", ".jsonl", ".parquet"))
            if not files:
                raise DataError(f"{path}: folder holds no .json, .jsonl or .parquet file")
        elif path.exists():
            files = [path]
        elif _HUB_ID.match(str(item)) and not _looks_local(str(item)):
            recs, src = read_hub(str(item))
            records += recs
            sources.append(src)
            continue
        else:
            raise DataError(
                f"{item}: no such file or folder (a hub dataset is named owner/name[:split])"
            )
        for f in files:
            recs, src = read_file(f)
            records += recs
            sources.append(src)
    if not records:
        raise DataError(f"no training records in {', '.join(map(str, inputs))}")
    return records, sources
