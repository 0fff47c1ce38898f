"""Where the generator-discriminator loop writes: the run directory's append logs, or memory.

`Logs.open` opens the five append logs of a generate/judge run (see `loop.py` for what each
holds); `Logs.memory` makes the same five as `MemoryLog`s, which a worker of a distributed run
(`distributed.py`) fills and hands back to the driver, the only process that writes the run
directory. Not here: what is written (`loop.py`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from wavecoder.records import Record
from wavecoder.store import StageDir


class Log(Protocol):
    """Where the loop writes one kind of line: `store.AppendLog`, or a worker's `MemoryLog`."""

    @property
    def path(self) -> Path | None: ...

    def append(self, record: Record | dict[str, Any]) -> None: ...

    def __contains__(self, key: str) -> bool: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Logs:
    """The loop's five logs; `judge` (pool, rejected, records) is None without a judge."""

    examples: Log
    rejected: Log
    judge: tuple[Log, Log, Log] | None

    @classmethod
    def open(cls, gen_out: StageDir, judge_out: StageDir | None) -> Logs:
        judge = None
        if judge_out is not None:
            judge = (judge_out.append_log("pool"), judge_out.append_log("rejected"),
                     judge_out.append_log("records", key="example_id"))  # fmt: skip
        return cls(gen_out.append_log("records", key="code_id"), gen_out.append_log("rejected"),
                   judge)  # fmt: skip

    def all(self) -> Iterable[Log]:
        return (self.examples, self.rejected, *(self.judge or ()))


class MemoryLog:
    """An append log kept in memory: the lines in append order, and their keys."""

    path: Path | None = None

    def __init__(self, *, key: str = "id", keys: Iterable[str] = ()) -> None:
        self.key = key
        self.rows: list[dict[str, Any]] = []
        self._keys = set(keys)

    def append(self, record: Record | dict[str, Any]) -> None:
        obj = record.to_dict() if isinstance(record, Record) else record
        self.rows.append(obj)
        self._keys.add(str(obj[self.key]))

    def __contains__(self, key: str) -> bool:
        return key in self._keys

    def close(self) -> None:
        pass


def memory_logs(*, judge: bool, generated: Iterable[str] = ()) -> Logs:
    """Five empty `MemoryLog`s; `generated`: code ids whose example an earlier run logged."""
    judge_logs = None
    if judge:
        judge_logs = (MemoryLog(), MemoryLog(), MemoryLog(key="example_id"))
    return Logs(MemoryLog(key="code_id", keys=generated), MemoryLog(), judge_logs)
