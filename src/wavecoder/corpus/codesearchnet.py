"""CodeSearchNet in both of its published schemas, read into `Code` records.

* The released JSONL / JSONL.gz files (`python_train_0.jsonl.gz`, ...): fields `repo`, `path`,
  `func_name`, `original_string`, `language`, `code`, `code_tokens`, `docstring`,
  `docstring_tokens`, `url`, `partition`.
* The Hugging Face copy (`code_search_net`), whose columns are renamed (`repository_name`,
  `func_path_in_repository`, `func_code_string`, `func_documentation_string`, `func_code_url`,
  `split_name`, ...). Recent `datasets` releases refuse its loading script, so its parquet data
  files are read directly with pyarrow, from a local folder laid out like the hub repository
  (`<config>/<split>/*.parquet`, config = `all` or a language) or fetched with
  `huggingface_hub.snapshot_download` at a given revision (honours HF_HUB_OFFLINE and the cache).

`code` is taken as published (CodeSearchNet's `code` / `func_code_string`: for Python it keeps
the docstring, for the other languages the doc comment is not part of it), the span comes from
the url's `#Lstart-Lend`. Malformed lines (bad JSON, not UTF-8, missing or mistyped fields,
unknown language) are rejected with `file:line`, or stop the read when `strict`.

Not here: source trees (`wavecoder.corpus.trees`), the stage (`wavecoder.corpus.ingest`).
"""

from __future__ import annotations

import gzip
import json
import logging
import re
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wavecoder.records import Code, Rejected, code_id, normalize_language

log = logging.getLogger(__name__)

SOURCE = "codesearchnet"
HUB_REPO = "code-search-net/code_search_net"
HUB_REVISION = "refs/convert/parquet"
SPLITS = ("train", "valid", "test")
_SPLIT_ALIASES = {"validation": "valid", "dev": "valid", "val": "valid"}
# (released JSONL name, Hugging Face name) for every field we read.
_FIELDS = {
    "repo": ("repo", "repository_name"),
    "path": ("path", "func_path_in_repository"),
    "func_name": ("func_name", "func_name"),
    "language": ("language", "language"),
    "code": ("code", "func_code_string"),
    "docstring": ("docstring", "func_documentation_string"),
    "url": ("url", "func_code_url"),
    "split": ("partition", "split_name"),
}
_HUB_COLUMNS = [hub for _, hub in _FIELDS.values()]
_URL_LINES = re.compile(r"#L(\d+)(?:-L(\d+))?$")
_MAX_WARNINGS = 20


class InputError(ValueError):
    """Bad input in strict mode; the message names the file and line."""


def _everything(_key: str) -> bool:
    return True


@dataclass
class Reader:
    """Reads CodeSearchNet files; drops are kept in `rejected`, every outcome in `counts`.

    `owns(key)`: what this reader is to keep (a shard's share). A row is owned by its record id,
    a bad line by `line:FILE:LINE`, a file's count by `file:FILE`, so the shards' records,
    rejects and counts add up to one unsharded read, and a shard builds (normalises, hashes for
    dedup) only the rows it keeps."""

    strict: bool = False
    splits: Sequence[str] = SPLITS
    languages: Sequence[str] = ()
    owns: Callable[[str], bool] = _everything
    rejected: list[Rejected] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)

    def reject(self, where: str, reason: str, message: str) -> None:
        if not self.owns(f"line:{where}"):
            return
        text = f"{where}: {message}"
        if self.strict:
            raise InputError(f"{text} (strict mode stops at the first bad line)")
        if self.counts[f"rejected.{reason}"] < _MAX_WARNINGS:
            log.warning("%s (skipped; strict=true stops instead)", text)
        self.counts[f"rejected.{reason}"] += 1
        self.rejected.append(Rejected(f"line:{where}", "ingest", reason, text))

    def row_to_code(self, row: Any, where: str) -> Code | None:
        """One row of either schema as a `Code`, or None (rejected, or not a chosen split)."""
        if not isinstance(row, dict):
            self.reject(where, "malformed_row", f"expected a JSON object, got {type(row).__name__}")
            return None
        schema = 0 if "code" in row or "partition" in row else 1
        values: dict[str, Any] = {k: row.get(names[schema]) for k, names in _FIELDS.items()}
        bad = [k for k, v in values.items() if v is not None and not isinstance(v, str)]
        missing = [k for k in ("code", "language") if not values[k]]
        if missing or bad:
            what = ", ".join([f"missing {k}" for k in missing] + [f"{k} not a string" for k in bad])
            self.reject(where, "malformed_row", what)
            return None
        span = _span(values["url"] or "")
        key = code_id(source=SOURCE, repo=values["repo"] or "", path=values["path"] or "",
                      span=span, code=values["code"])  # fmt: skip
        if not self.owns(key):
            return None
        split = _SPLIT_ALIASES.get(values["split"] or "", values["split"] or "")
        if split and self.splits and split not in self.splits:
            self.counts[f"skipped.split.{split}"] += 1
            return None
        try:
            language = normalize_language(values["language"])
        except ValueError:
            self.reject(where, "unsupported_language", f"language {values['language']!r}")
            return None
        if self.languages and language not in self.languages:
            self.counts[f"skipped.language.{language}"] += 1
            return None
        self.counts["rows"] += 1
        return Code.new(
            language=language,
            code=values["code"],
            source=SOURCE,
            path=values["path"] or "",
            span=span,
            docstring=values["docstring"] or "",
            func_name=values["func_name"] or "",
            repo=values["repo"] or "",
        )

    def read_jsonl(self, path: Path) -> Iterator[Code]:
        """Rows of a CodeSearchNet `.jsonl` or `.jsonl.gz` file."""
        opener = gzip.open if path.name.endswith(".gz") else open
        self.counts["files.read"] += self.owns(f"file:{path}")
        try:
            with opener(path, "rb") as fh:
                for lineno, raw in enumerate(fh, 1):
                    code = self._line(raw, f"{path}:{lineno}")
                    if code is not None:
                        yield code
        except (OSError, EOFError, zlib.error) as exc:
            self.reject(str(path), "unreadable", f"cannot read: {exc}")

    def _line(self, raw: bytes, where: str) -> Code | None:
        if not raw.strip():
            return None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            self.reject(where, "invalid_utf8", f"not UTF-8 at column {exc.start + 1}")
            return None
        try:
            row = json.loads(text)
        except json.JSONDecodeError as exc:
            self.reject(where, "malformed_json", f"invalid JSON: {exc.msg} (column {exc.colno})")
            return None
        return self.row_to_code(row, where)

    def read_parquet(self, path: Path, *, split: str = "") -> Iterator[Code]:
        """Rows of one parquet data file of the Hugging Face copy."""
        import pyarrow.parquet as pq

        self.counts["files.read"] += self.owns(f"file:{path}")
        try:
            pf = pq.ParquetFile(path)
            columns = [c for c in _HUB_COLUMNS if c in pf.schema_arrow.names]
            row_no = 0
            for batch in pf.iter_batches(batch_size=2048, columns=columns):
                for row in batch.to_pylist():
                    row_no += 1
                    if split and not row.get("split_name"):
                        row["split_name"] = split
                    code = self.row_to_code(row, f"{path}:row {row_no}")
                    if code is not None:
                        yield code
        except (OSError, ValueError) as exc:  # pyarrow's errors derive from these
            self.reject(str(path), "unreadable", f"cannot read parquet: {exc}")

    def read_hub_folder(self, root: Path) -> Iterator[Code]:
        """All chosen data files of a folder laid out like the hub repository."""
        for path, split in hub_files(root, languages=self.languages, splits=self.splits):
            yield from self.read_parquet(path, split=split)


def _span(url: str) -> tuple[int, int] | None:
    match = _URL_LINES.search(url)
    if not match:
        return None
    start = int(match.group(1))
    return (start, int(match.group(2) or start))


def split_of_path(path: Path) -> str:
    """The split a hub data file belongs to, from its folder or file name ("" if unknown)."""
    for part in reversed(path.parts):
        name = part.split("-")[0].split(".")[0].lower()
        name = _SPLIT_ALIASES.get(name, name)
        if name in SPLITS:
            return name
    return ""


def hub_files(
    root: Path, *, languages: Sequence[str] = (), splits: Sequence[str] = SPLITS
) -> list[tuple[Path, str]]:
    """(parquet file, split) to read: the language configs asked for, else `all`, else every
    parquet file (never both `all` and a language config: that would read rows twice)."""
    if languages and all((root / lang).is_dir() for lang in languages):
        dirs = [root / lang for lang in languages]
    elif (root / "all").is_dir():
        dirs = [root / "all"]
    else:
        dirs = [root]
    found = []
    for d in dirs:
        for path in sorted(d.rglob("*.parquet")):
            split = split_of_path(path.relative_to(root))
            if not split or not splits or split in splits:
                found.append((path, split))
    return found


def looks_like_hub_folder(root: Path) -> bool:
    return any(root.glob("*/*/*.parquet")) or any(root.glob("data/*.parquet"))


def hub_patterns(languages: Sequence[str], splits: Sequence[str]) -> list[str]:
    configs = list(languages) or ["all"]
    names = [s if s != "valid" else "validation" for s in splits] or ["*"]
    return [f"{c}/{s}/*.parquet" for c in configs for s in names]


def download_hub(
    repo_id: str = HUB_REPO,
    *,
    revision: str = HUB_REVISION,
    languages: Sequence[str] = (),
    splits: Sequence[str] = SPLITS,
) -> Path:
    """Fetch (or find in the cache, e.g. with HF_HUB_OFFLINE=1) the parquet files of the hub
    copy at `revision`; returns the local snapshot folder, named by the resolved commit."""
    from huggingface_hub import snapshot_download

    folder = snapshot_download(
        repo_id=repo_id,
        repo_type="dataset",
        revision=revision,
        allow_patterns=hub_patterns(languages, splits),
    )
    return Path(folder)
