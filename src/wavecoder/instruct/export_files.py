"""Writing the dataset files: Alpaca JSON, chat-messages JSONL and Parquet, each atomically.

Every file is one of the shapes `wavecoder train` reads and loads with `datasets.load_dataset`
("json" for the first two, "parquet" for the last). The Parquet file is typed by explicit
`datasets` features, so its schema does not depend on which rows happen to be present (an
export without a repair instance still has `lineage.meta`, typed as JSON) and the hub viewer
and `load_dataset` read back the same types. Not here: which rows (`export_rows`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from wavecoder.store import atomic_path, write_jsonl_atomic

Format = Literal["alpaca", "messages", "parquet"]

#: Where each format lives inside the export folder (the layout of the hub repository too).
FILES: dict[Format, str] = {
    "alpaca": "data/alpaca.json",
    "messages": "data/messages.jsonl",
    "parquet": "data/alpaca.parquet",
}


def write_alpaca(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    """One JSON array of records, as the paper's repository and Stanford Alpaca ship data: one
    record a line (readable with `head`, and encoded by the C encoder, which `indent` turns
    off: ten times slower on a 20k-instance dataset)."""
    with atomic_path(path) as tmp, tmp.open("w", encoding="utf-8") as fh:
        fh.write("[\n")
        for i, row in enumerate(rows):
            fh.write(("" if i == 0 else ",\n") + json.dumps(row, ensure_ascii=False))
        fh.write("\n]\n")


def write_messages(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    write_jsonl_atomic(path, rows)


def features() -> Any:
    """The `datasets.Features` of an Alpaca row with its lineage (see `export_rows.alpaca_row`)."""
    from datasets import Features, Json, List, Value

    text = Value("string")
    return Features(
        {
            "id": text,
            "task": text,
            "language": text,
            "target_language": text,
            "instruction": text,
            "input": text,
            "output": text,
            "lineage": {
                "code_id": text,
                "source": text,
                "repo": text,
                "path": text,
                "span": List(Value("int64")),
                "license": text,
                "func_name": text,
                "teacher_model": text,
                "judge_model": text,
                "prompt_version": text,
                "round": Value("int64"),
                "task_name": text,
                "verdict": {
                    "overall": text,
                    "reasons": text,
                    "rules": List({"rule": text, "answer": text, "reason": text}),
                },
                "meta": Json(),
                "execution": Json(),  # verify's status and reason, null when it did not run
            },
        }
    )


def write_parquet(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    """The rows as an Arrow table typed by `features()` (column-wise, so an empty export is a
    valid empty table), with the features in the schema metadata as `datasets` writes them."""
    import datasets
    import pyarrow.parquet as pq

    feats = features()
    columns = {name: [row[name] for row in rows] for name in feats}
    table = datasets.Dataset.from_dict(columns, features=feats).data.table
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def write_format(fmt: Format, folder: Path, rows: Sequence[dict[str, Any]]) -> Path:
    """Write `rows` (alpaca rows, or messages rows for `messages`) as `fmt` under `folder`."""
    path = folder / FILES[fmt]
    if fmt == "alpaca":
        write_alpaca(path, rows)
    elif fmt == "messages":
        write_messages(path, rows)
    else:
        write_parquet(path, rows)
    return path
