"""The run directory: where stages read and write their records.

A run directory holds one folder per stage (and per round, for stages that work in rounds). A
stage folder looks the same inside a run and as the `-o OUTDIR` of a standalone stage command:

    fingerprint.json   what produced it: stage, version, config section, upstream fingerprints
    records.jsonl      the stage's records, one JSON object a line
    rejected.jsonl     the records it dropped, each with its reason
    stats.json         counts (in, out, rejected.<reason>, ...)
    done.json          written last: the stage finished (fingerprint, seconds, stats)

Two write disciplines. Cheap stages write whole files atomically (temp file, fsync, rename) and
the done marker last, so a crash leaves no half file that looks finished. Expensive stages (LLM
calls, program execution) append one JSON line per finished unit, flushed at once, and skip the
keys already written when restarted; a torn last line from a crash is cut off with a warning.

Sharding (`--shard i/n`). A sharded writer puts a `.shard-0000i-of-0000n` suffix on every file
name (fingerprint.json is shared by all shards); a folder holds either unsharded files or the
parts of one shard count, never both (`StageDir.layout`; a mix is an error, not a silent union).
The contract that makes sharding exact, whatever the upstream stage's layout:

- an unsharded reader reads every part;
- a sharded reader of a folder sharded the same way reads exactly its own part, whole (so an
  upstream that partitioned by something other than the id, such as ingest by source file,
  still hands every record to exactly one shard);
- any other sharded reader reads every part and keeps the records it owns by `shard_key`.

So every upstream record reaches exactly one shard of the next stage; stages never filter their
inputs by shard themselves (`read_tagged` serves stages that need all records but own a part).
A folder is done when its `done.json` exists or when the done markers of all n shards do.

Not here: deciding when a stage is stale or running missing shards (`wavecoder.pipeline`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from wavecoder.records import Record, Rejected

log = logging.getLogger(__name__)
R = TypeVar("R", bound=Record)


class StoreError(RuntimeError):
    """A run directory file that cannot be read as written: names the file and line."""


@dataclass(frozen=True)
class Shard:
    """Shard `index` of `count`: it owns the ids whose hash modulo `count` is `index`."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
        if not m or not 0 <= int(m.group(1)) < int(m.group(2)):
            raise ValueError(f"bad shard {text!r}: expected i/n with 0 <= i < n, e.g. 0/4")
        return cls(int(m.group(1)), int(m.group(2)))

    def owns(self, key: str) -> bool:
        digest = hashlib.sha256(key.encode("utf-8")).digest()
        return int.from_bytes(digest[:8], "big") % self.count == self.index

    @property
    def suffix(self) -> str:
        return f".shard-{self.index:05d}-of-{self.count:05d}"

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


_SHARD_PART = re.compile(r"\.shard-(\d{5})-of-(\d{5})(?=\.|$)")
_SHARED = frozenset({"fingerprint.json"})  # one per folder, whatever the layout


def shard_of(filename: str) -> Shard | None:
    """The shard a file name belongs to (None for an unsharded file)."""
    m = _SHARD_PART.search(filename)
    return Shard(int(m.group(1)), int(m.group(2))) if m else None


def shard_key(obj: dict[str, Any]) -> str:
    """The key a record is sharded by: its `id` field, else its first field (`code_id`,
    `example_id`, `task_id`: the id of what it points at)."""
    if "id" in obj:
        return str(obj["id"])
    for value in obj.values():
        return str(value)
    return ""


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success fsync it and rename it over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


def write_json_atomic(path: Path, obj: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_jsonl_atomic(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """One JSON object per line, all or nothing (a crash leaves the old file or none)."""
    with atomic_path(path) as tmp, tmp.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-empty line; a bad line raises naming file:line."""
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise StoreError(f"{path}:{lineno}: invalid JSON: {exc.msg}") from exc
            yield lineno, obj


class AppendLog:
    """One JSON line per finished unit, flushed at once; reopening resumes after the last one.

    A process killed mid-write leaves at most one torn line at the end; opening the log cuts it
    off (with a warning) so the unit it belonged to simply runs again.
    """

    def __init__(self, path: Path, *, key: str = "id") -> None:
        self.path = path
        self.key = key
        path.parent.mkdir(parents=True, exist_ok=True)
        self._keys = self._recover()
        self._fh = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()

    def _recover(self) -> set[str]:
        keys: set[str] = set()
        if not self.path.exists():
            return keys
        data = self.path.read_bytes()
        good = 0
        for raw in data.splitlines(keepends=True):
            if not raw.endswith(b"\n"):
                break
            try:
                obj = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                break
            keys.add(str(obj[self.key]) if isinstance(obj, dict) and self.key in obj else "")
            good += len(raw)
        if good < len(data):
            log.warning(
                "%s: dropped a torn last line (%d bytes) left by an interrupted run",
                self.path,
                len(data) - good,
            )
            with open(self.path, "r+b") as fh:
                fh.truncate(good)
        keys.discard("")
        return keys

    def done_keys(self) -> set[str]:
        return set(self._keys)

    def __contains__(self, key: str) -> bool:
        return key in self._keys

    def append(self, record: Record | dict[str, Any]) -> None:
        obj = record.to_dict() if isinstance(record, Record) else record
        self._fh.write(json.dumps(obj, ensure_ascii=False) + "\n")
        self._fh.flush()  # survives the process being killed; fsync on close for the machine
        self._keys.add(str(obj[self.key]))

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()

    def __enter__(self) -> AppendLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class StageDir:
    """One stage's output folder (see the module docstring for its files)."""

    def __init__(self, path: Path, *, shard: Shard | None = None) -> None:
        self.path = Path(path)
        self.shard = shard

    def __repr__(self) -> str:
        return f"StageDir({str(self.path)!r})"

    def _file(self, name: str, ext: str) -> Path:
        suffix = self.shard.suffix if self.shard else ""
        return self.path / f"{name}{suffix}{ext}"

    def with_shard(self, shard: Shard | None) -> StageDir:
        return StageDir(self.path, shard=shard)

    def layout(self) -> int | None:
        """How the folder is written: None (nothing but a fingerprint yet), 0 (unsharded) or
        n (parts of n shards). A folder that mixes layouts raises `StoreError`."""
        if not self.path.is_dir():
            return None
        counts: set[int] = set()
        plain: list[str] = []
        for entry in self.path.iterdir():
            name = entry.name
            if name in _SHARED or name.startswith(".") or re.fullmatch(r"round-\d+", name):
                continue
            part = shard_of(name)
            if part is None:
                plain.append(name)
            else:
                counts.add(part.count)
        if len(counts) > 1 or (counts and plain):
            kinds = [f"{n}-shard parts" for n in sorted(counts)] + (
                ["unsharded files"] * bool(plain)
            )
            raise StoreError(
                f"{self.path} mixes {' and '.join(kinds)}; rerun the stage with --force to "
                f"start it over"
            )
        return counts.pop() if counts else (0 if plain else None)

    def completion(self) -> tuple[str, list[int]]:
        """("done" | "partial" | "pending", missing shard indexes) of the whole folder."""
        if (self.path / "done.json").exists():
            return "done", []
        count = self.layout()
        if count:
            have = {p.index for m in self.path.glob("done.shard-*.json") if (p := shard_of(m.name))}
            missing = [i for i in range(count) if i not in have]
            return ("done" if not missing else "partial"), missing
        if count == 0 or (self.path / "fingerprint.json").exists():
            return "partial", []
        return "pending", []

    def _sources(self, name: str, ext: str) -> list[tuple[Path, bool | None]]:
        """(file, mine) for each file of `name` this reader must look at. mine: True, every
        record is this reader's; False, none is; None, decide per record by `shard_key`."""
        plain = self.path / f"{name}{ext}"
        shards = sorted(
            p
            for p in self.path.glob(f"{name}.shard-*{ext}")
            if _SHARD_PART.fullmatch(p.name[len(name) : -len(ext)])  # not `name.x.shard-..`
        )
        if plain.exists() and shards:
            raise StoreError(
                f"{self.path}: both {plain.name} and {len(shards)} shard parts of it exist (an "
                f"unsharded and a sharded run mixed); rerun the stage with --force"
            )
        counts = {part.count for p in shards if (part := shard_of(p.name))}
        if len(counts) > 1:
            raise StoreError(
                f"{self.path}: {name}{ext} has parts of {sorted(counts)} shards; rerun the stage "
                f"with --force"
            )
        files = [plain] if plain.exists() else shards
        if self.shard is None:
            return [(f, True) for f in files]
        if shards and counts == {self.shard.count}:
            own = self._file(name, ext)
            return [(f, f == own) for f in shards]
        return [(f, None) for f in files]

    def parts(self, name: str, ext: str = ".jsonl") -> list[Path]:
        """The files of `name` this reader reads: every part for an unsharded reader, only its
        own part for a reader sharded like the folder (see the module docstring)."""
        return [f for f, mine in self._sources(name, ext) if mine is not False]

    # records
    def write_records(self, name: str, records: Iterable[Record]) -> int:
        count = 0
        with atomic_path(self._file(name, ".jsonl")) as tmp, open(tmp, "w", encoding="utf-8") as fh:
            for rec in records:
                fh.write(rec.to_json() + "\n")
                count += 1
        return count

    def read_records(self, name: str, cls: type[R]) -> Iterator[R]:
        """The records of `name` this reader owns (all of them for an unsharded reader)."""
        for rec, mine in self.read_tagged(name, cls):
            if mine:
                yield rec

    def read_tagged(self, name: str, cls: type[R]) -> Iterator[tuple[R, bool]]:
        """Every record of `name`, each with whether this reader's shard owns it (for stages
        that need all records, e.g. to fit a model, but process only their own)."""
        for part, mine in self._sources(name, ".jsonl"):
            for lineno, obj in read_jsonl(part):
                try:
                    rec = cls.from_dict(obj)
                except (TypeError, ValueError, KeyError) as exc:
                    raise StoreError(f"{part}:{lineno}: not a {cls.__name__}: {exc}") from exc
                yield rec, self._owns(mine, obj)

    def _owns(self, mine: bool | None, obj: Any) -> bool:
        if mine is not None:
            return mine
        return self.shard is None or (isinstance(obj, dict) and self.shard.owns(shard_key(obj)))

    def count_records(self, name: str) -> int:
        total = 0
        for part, mine in self._sources(name, ".jsonl"):
            if mine is False:
                continue
            if mine is True:
                with open(part, "rb") as fh:
                    total += sum(1 for line in fh if line.strip())
                continue
            total += sum(1 for _, obj in read_jsonl(part) if self._owns(None, obj))
        return total

    def write_rejected(self, records: Iterable[Rejected]) -> int:
        return self.write_records("rejected", records)

    def read_rejected(self) -> Iterator[Rejected]:
        return self.read_records("rejected", Rejected)

    def append_log(self, name: str, *, key: str = "id") -> AppendLog:
        return AppendLog(self._file(name, ".jsonl"), key=key)

    # small JSON files
    def write_json(self, name: str, obj: Any, *, sharded: bool = True) -> None:
        path = self._file(name, ".json") if sharded else self.path / f"{name}.json"
        write_json_atomic(path, obj)

    def read_json(self, name: str, *, sharded: bool = True) -> Any:
        path = self._file(name, ".json") if sharded else self.path / f"{name}.json"
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except json.JSONDecodeError as exc:
            raise StoreError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}") from exc

    # completion
    def is_done(self) -> bool:
        """This writer's work is done: its own shard's marker, or the whole folder is done."""
        if self.shard is not None and self._file("done", ".json").exists():
            return True
        return self.completion()[0] == "done"

    def mark_done(self, info: dict[str, Any]) -> None:
        self.write_json("done", info)

    def clear(self) -> None:
        """Remove the stage's outputs before a forced rerun: this shard's files when the folder
        is sharded the same way, else the whole folder (a layout that cannot be reused)."""
        if not self.path.exists():
            return
        try:
            same = self.shard is not None and self.layout() in (None, self.shard.count)
        except StoreError:
            same = False
        if not same:
            shutil.rmtree(self.path)
            return
        assert self.shard is not None
        for part in self.path.iterdir():
            if shard_of(part.name) == self.shard:
                if part.is_dir():
                    shutil.rmtree(part)
                else:
                    part.unlink()


class RunStore:
    """A run directory: one `StageDir` per stage, optionally per numbered round."""

    def __init__(self, root: Path, *, shard: Shard | None = None) -> None:
        self.root = Path(root)
        self.shard = shard

    def stage(self, name: str, *, round: int | None = None) -> StageDir:
        path = self.root / name
        if round is not None:
            path = path / f"round-{round:03d}"
        return StageDir(path, shard=self.shard)

    def rounds(self, name: str) -> list[int]:
        """The numbered rounds a stage has folders for, ascending."""
        found = []
        for p in (self.root / name).glob("round-*"):
            m = re.fullmatch(r"round-(\d+)", p.name)
            if m and p.is_dir():
                found.append(int(m.group(1)))
        return sorted(found)
