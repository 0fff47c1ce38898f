"""Per-program memory and process limits from cgroups, where this machine lets the scorer make one.

Rlimits bind each process on its own (four children under a 2 GB RLIMIT_AS hold 8 GB); a cgroup
binds the program as a whole. `group(name)` returns a group (made once, reused by its programs
in turn: a program's processes are all dead before the next one starts) or None. A zygote of the
fast path joins its own group once, at start, and its programs are forked into it: moving a
process between cgroups waits for an RCU grace period (milliseconds on a loaded machine), forking
inside one does not. The zygote's own memory and its two processes (itself and a spare PID 1)
are added to the limits (`ZYGOTE_MB`, `ZYGOTE_PIDS`), and its programs run with
`oom_score_adj` 1000, so the OOM killer takes them first. On the util-linux path each program
joins its slot's group (`slot_group`).

Preference: cgroup v2 (`memory.max`, `memory.swap.max`, `pids.max`) under the scorer's own
cgroup when that cgroup can delegate both controllers; else cgroup v1's memory and pids
hierarchies (hybrid hosts); else none, and `describe()` says why (the summary reports it). This
module does not kill programs: the PID namespace does."""

from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
_PAGE = 1 << 20
ZYGOTE_MB = 64  # a zygote's own resident memory, charged to the group its programs run in
ZYGOTE_PIDS = 2  # the zygote and its spare PID 1


@dataclass
class SlotGroup:
    """One slot's cgroup(s): v2 has one directory, v1 one per controller."""

    version: int
    memory: Path
    pids: Path
    _written: tuple[int, int] = (0, 0)

    def set(self, memory_mb: int, nproc: int) -> None:
        if self._written == (memory_mb, nproc):
            return
        limit = str(memory_mb * _PAGE)
        if self.version == 2:
            _write(self.memory / "memory.max", limit)
            with contextlib.suppress(OSError):  # absent without swap accounting
                _write(self.memory / "memory.swap.max", "0")
        else:  # memsw >= limit at every moment: raise memsw first, lower it last
            memsw = self.memory / "memory.memsw.limit_in_bytes"
            for f in (memsw, self.memory / "memory.limit_in_bytes", memsw):
                with contextlib.suppress(OSError):
                    _write(f, limit)
            if int((self.memory / "memory.limit_in_bytes").read_text()) != int(limit):
                raise OSError(f"cannot set {self.memory}/memory.limit_in_bytes")
        _write(self.pids / "pids.max", str(nproc))
        self._written = (memory_mb, nproc)

    def procs(self) -> list[str]:
        """The `cgroup.procs` files a process writes "0" to, to join."""
        dirs = [self.memory] if self.version == 2 else [self.memory, self.pids]
        return [str(d / "cgroup.procs") for d in dirs]

    def remove(self) -> None:
        for d in {self.memory, self.pids}:
            with contextlib.suppress(OSError):
                d.rmdir()


def _write(path: Path, value: str) -> None:
    with open(path, "w", encoding="ascii") as fh:
        fh.write(value)


class _Groups:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._probed = False
        self._base: tuple[int, Path, Path] | None = None
        self.reason = "not probed yet"
        self._slots: dict[str, SlotGroup] = {}

    def slot_group(self, slot: int) -> SlotGroup | None:
        """The util-linux path's group for `slot` (its programs join it in turn)."""
        return self.group(f"slot-{slot}")

    def group(self, name: str) -> SlotGroup | None:
        with self._lock:
            base = self.probe()
            if base is None:
                return None
            if name not in self._slots:
                version, mem, pids = base
                group = SlotGroup(version, mem / name, pids / name)
                try:
                    for d in {group.memory, group.pids}:
                        d.mkdir(exist_ok=True)
                except OSError as exc:
                    self._base, self.reason = None, f"cannot create a slot cgroup: {exc}"
                    return None
                self._slots[name] = group
            return self._slots[name]

    def probe(self) -> tuple[int, Path, Path] | None:
        """(version, memory dir, pids dir) of this scorer's parent group, or None."""
        if not self._probed:
            self._probed = True
            self._probe()
        return self._base

    def _probe(self) -> None:
        if os.environ.get("WAVECODER_SANDBOX_CGROUPS", "1") == "0":
            self.reason = "turned off (WAVECODER_SANDBOX_CGROUPS=0)"
            return
        reasons = []
        for attempt in (_v2, _v1):
            try:
                self._base = attempt()
            except OSError as exc:
                reasons.append(str(exc))
                continue
            self.reason = ""
            return
        self.reason = "; ".join(reasons)

    def close(self) -> None:
        with self._lock:
            for group in self._slots.values():
                group.remove()
            self._slots.clear()
            if self._base is not None:
                for d in {self._base[1], self._base[2]}:
                    with contextlib.suppress(OSError):
                        d.rmdir()


def _own(controller: str) -> str:
    """This process's cgroup path in the hierarchy of `controller` ("" for v2)."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, names, path = line.split(":", 2)
        if (controller == "" and names == "") or controller in names.split(","):
            return path.lstrip("/")
    raise OSError(f"no {controller or 'v2'} entry in /proc/self/cgroup")


def _v2() -> tuple[int, Path, Path]:
    mount = ROOT if (ROOT / "cgroup.controllers").exists() else ROOT / "unified"
    if not (mount / "cgroup.controllers").exists():
        raise OSError("cgroup v2 is not mounted")
    parent = mount / _own("")
    if not {"memory", "pids"} <= set((parent / "cgroup.controllers").read_text().split()):
        raise OSError(f"cgroup v2: memory and pids controllers not available in {parent}")
    base = parent / f"wavecoder-{os.getpid()}"
    base.mkdir(exist_ok=True)
    try:  # fails (EBUSY) when `parent` holds processes and is not the root: no delegation
        _write(base / "cgroup.subtree_control", "+memory +pids")
    except OSError as exc:
        base.rmdir()
        raise OSError(f"cgroup v2: cannot enable memory and pids under {base}: {exc}") from exc
    return 2, base, base


def _v1() -> tuple[int, Path, Path]:
    dirs = []
    for controller in ("memory", "pids"):
        top = ROOT / controller
        if not (top / "cgroup.procs").exists():
            raise OSError(f"cgroup v1: no {controller} hierarchy mounted")
        base = top / _own(controller) / f"wavecoder-{os.getpid()}"
        base.mkdir(exist_ok=True)
        dirs.append(base)
    return 1, dirs[0], dirs[1]


GROUPS = _Groups()


def describe() -> dict[str, str]:
    """What binds a program's memory and processes on this machine (for the run's summary)."""
    with GROUPS._lock:
        base = GROUPS.probe()
    if base is None:
        why = f"no cgroup ({GROUPS.reason})"
        return {
            "memory": f"RLIMIT_AS per process only; {why}",
            "processes": f"RLIMIT_NPROC of the program's own uid; {why}",
        }
    if base[0] == 2:
        return {
            "memory": "cgroup v2 memory.max per program (swap 0), and RLIMIT_AS per process",
            "processes": "cgroup v2 pids.max per program, and RLIMIT_NPROC",
        }
    return {
        "memory": "cgroup v1 memory.limit_in_bytes (+memsw) per program, and RLIMIT_AS",
        "processes": "cgroup v1 pids.max per program, and RLIMIT_NPROC",
    }
