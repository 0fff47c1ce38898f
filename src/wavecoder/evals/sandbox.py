"""The one place where untrusted code runs.

`run(job)` runs a job's steps (e.g. compile, then run) one after the other in one job folder,
stopping at the first that fails. In the default `namespaces` mode every step:

- sees a minimal root of its own (`rootfs`: pivot_root into the system's program and library
  trees, read-only, its toolchain's binds, fresh /proc, /dev/pts and /dev/shm, and its job folder
  on /tmp): no home, no checkout, no benchmark file, no /run, no host unix socket path;
- writes only its job folder, a tmpfs capped in size and inodes, and its own /dev/shm;
- runs as a uid never used before on this machine (allocated in blocks from a locked counter
  file, so two scorers never share one and no uid recurs across runs), with no capabilities, no
  supplementary groups, `no_new_privs`, and a fresh session keyring;
- in new mount, PID, IPC and UTS namespaces, and a network namespace with nothing configured;
- under rlimits on CPU time, address space, processes, file size and open files, and, where the
  machine lets the scorer make one, a cgroup (`cgroups`) bounding the whole program's memory and
  processes;
- with stdin closed, a scrubbed environment (only the variables the runner names), output
  capped, and the whole namespace killed at the deadline.

How: by default through `forkserver` (a pre-started interpreter per slot forks each step into
its namespaces). If that cannot serve a step, through util-linux (`utillinux`): same rules, more
processes; `report()` counts the steps each path ran and every fallback with its reason, and a
fallback's stall is part of that step's duration. Namespaces need root. Without them `run`
raises `SandboxUnavailable` unless the caller chose the explicit `weak` mode (own process group,
rlimits, a temp dir, scrubbed env; no uid drop, no network or filesystem isolation). A failure of
the sandbox itself is a step status `error`, never a program's `failed`.
This module knows nothing about benchmarks."""

from __future__ import annotations

import fcntl
import math
import os
import select
import shutil
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from wavecoder.evals.rootfs import CLEANER, MOUNT_ROOT, JobDir

SandboxMode = Literal["namespaces", "weak"]
# error: the sandbox could not run the step (setup or exec failure), not the program's verdict
StepStatus = Literal["ok", "failed", "timeout", "output_limit", "error"]

UID_BASE = 1_700_000_000  # far above any real account
UID_MAX = 4_000_000_000  # below (uid_t)-1 and the overflow uid range
UID_BLOCK = 256  # uids a scorer takes from the counter at a time
UID_STATE = Path("/var/lib/wavecoder/sandbox-next-uid")
SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"
# The namespaces every program gets; the availability probe checks exactly these.
UNSHARE_FLAGS = ("--mount", "--net", "--pid", "--ipc", "--uts", "--fork")
__all__ = ["MOUNT_ROOT"]


class SandboxUnavailable(RuntimeError):
    """The requested isolation cannot be provided on this system."""


@dataclass(frozen=True)
class Limits:
    timeout_s: float = 10.0
    cpu_s: int | None = None  # default: ceil(timeout_s) + 1
    memory_mb: int = 1024  # RLIMIT_AS per process; the cgroup's memory.max for the program
    nproc: int = 64  # RLIMIT_NPROC of the program's uid; the cgroup's pids.max
    file_size_mb: int = 32
    open_files: int = 256
    output_bytes: int = 65_536  # per stream; more than 8x this kills the step


@dataclass(frozen=True)
class Step:
    argv: tuple[str, ...]
    limits: Limits = Limits()
    env: Mapping[str, str] = field(default_factory=dict)
    name: str = "run"


@dataclass(frozen=True)
class Job:
    files: Mapping[str, str | bytes]
    steps: tuple[Step, ...]
    # (host path, name): host path bound read-only at MOUNT_ROOT/name (toolchains under /root ...)
    binds: tuple[tuple[str, str], ...] = ()
    # (host dir, name): host dir seen copy-on-write at MOUNT_ROOT/name (a warm build cache)
    overlays: tuple[tuple[str, str], ...] = ()
    disk_mb: int = 256  # the job folder's tmpfs: size
    inodes: int = 8192  # and files + folders


@dataclass(frozen=True)
class StepResult:
    name: str
    status: StepStatus
    returncode: int | None
    stdout: str
    stderr: str
    duration_s: float


@dataclass(frozen=True)
class JobResult:
    steps: tuple[StepResult, ...]

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(s.status == "ok" for s in self.steps)

    @property
    def last(self) -> StepResult:
        return self.steps[-1]

    @property
    def duration_s(self) -> float:
        return sum(s.duration_s for s in self.steps)


class _Slots:
    """Small integers for concurrent jobs: a slot names a zygote and a cgroup, not a uid."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._free: list[int] = []
        self._next = 0

    def take(self) -> int:
        with self._lock:
            if self._free:
                return self._free.pop()
            self._next += 1
            return self._next

    def give(self, slot: int) -> None:
        with self._lock:
            self._free.append(slot)


class _Uids:
    """A fresh uid per job: blocks from a counter file that every scorer on the machine locks,
    so uids never recur (until the ~2.3e9 range wraps) and never collide between scorers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next = self._end = 0

    def take(self) -> int:
        with self._lock:
            if self._next >= self._end:
                self._next, self._end = self._claim()
            self._next += 1
            return self._next - 1

    @staticmethod
    def _claim() -> tuple[int, int]:
        try:
            UID_STATE.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(UID_STATE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise SandboxUnavailable(f"cannot keep the uid counter {UID_STATE}: {exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            text = os.pread(fd, 32, 0).decode(errors="replace").strip()
            start = int(text) if text.isdigit() else UID_BASE
            if not UID_BASE <= start <= UID_MAX - UID_BLOCK:
                start = UID_BASE
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{start + UID_BLOCK}\n".encode(), 0)
            os.fsync(fd)
        finally:
            os.close(fd)  # releases the lock
        return start, start + UID_BLOCK


_SLOTS = _Slots()
_UIDS = _Uids()


class _Report:
    """Which path ran each step, and why the fast path did not (for the run's summary)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.paths: Counter[str] = Counter()
        self.fallbacks: Counter[str] = Counter()
        self.stall_s = 0.0

    def add(self, path: str, fallback: str = "", stall_s: float = 0.0) -> None:
        with self._lock:
            self.paths[path] += 1
            if fallback:
                self.fallbacks[fallback[:300]] += 1
                self.stall_s += stall_s

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "steps_by_path": dict(self.paths),
                "fallback_steps": dict(self.fallbacks),
                "fallback_stall_s": round(self.stall_s, 3),
            }

    def merge(self, snapshot: dict[str, Any]) -> None:
        """Add another process's counts (a worker's, in a spread scoring run)."""
        with self._lock:
            self.paths.update(snapshot["steps_by_path"])
            self.fallbacks.update(snapshot["fallback_steps"])
            self.stall_s += float(snapshot["fallback_stall_s"])

    def reset(self) -> None:
        with self._lock:
            self.paths.clear()
            self.fallbacks.clear()
            self.stall_s = 0.0


REPORT = _Report()


def report(mode: SandboxMode) -> dict[str, Any]:
    """What held for this process's programs so far: limits, paths, fallbacks."""
    from wavecoder.evals import cgroups, rootfs

    if mode == "weak":
        held = {
            "memory": "RLIMIT_AS per process only (weak mode)",
            "processes": "RLIMIT_NPROC of the scorer's uid (weak mode)",
            "job_folder": "a host directory, no size cap (weak mode)",
            "filesystem": "the host's, as the scorer's uid (weak mode)",
        }
    else:
        held = {
            **cgroups.describe(),
            "job_folder": f"tmpfs capped per job (default {Job.disk_mb} MiB, {Job.inodes} inodes)",
            "filesystem": "minimal read-only root (pivot_root), job folder on /tmp",
            "ptys": f"fresh devpts ({rootfs.DEVPTS_OPTS})",
            "keyrings": "fresh session keyring per program, a uid never used before",
        }
    return {"limits_held": held, **REPORT.snapshot()}


def namespaces_available() -> str | None:
    """None when `namespaces` mode works here, else the reason it does not."""
    if os.geteuid() != 0:
        return "the sandbox needs root to drop to an unprivileged uid inside new namespaces"
    for tool in ("unshare", "setpriv", "prlimit", "mount", "sh", "pivot_root"):
        if shutil.which(tool, path=SAFE_PATH + ":/usr/sbin:/sbin") is None:
            return f"{tool} (util-linux) is not installed"
    probe = ["unshare", *UNSHARE_FLAGS, "--mount-proc", "true"]
    proc = subprocess.run(
        probe, capture_output=True, text=True, env={"PATH": SAFE_PATH}, check=False
    )
    if proc.returncode != 0:
        return f"cannot create namespaces ({' '.join(probe)}: {proc.stderr.strip()[:200]})"
    return None


def run(job: Job, *, mode: SandboxMode = "namespaces") -> JobResult:
    """Run a job's steps in order in one fresh job folder; stop after the first failing step."""
    slot = _SLOTS.take()
    uid = _UIDS.take() if mode == "namespaces" else os.getuid()
    try:
        folder = JobDir(uid if mode == "namespaces" else None, job.disk_mb, job.inodes)
    except OSError as exc:
        _SLOTS.give(slot)
        return JobResult((_error(job.steps[0].name if job.steps else "setup", exc),))
    try:
        _write_files(folder.path, job.files)
        results: list[StepResult] = []
        for step in job.steps:
            result = _run_step(step, job, mode, folder.path, uid, slot)
            results.append(result)
            if result.status != "ok":
                break
        return JobResult(tuple(results))
    finally:
        CLEANER.put(folder)  # unmounted or removed on the cleaner's thread
        _SLOTS.give(slot)


def _error(name: str, exc: BaseException) -> StepResult:
    return StepResult(name, "error", None, "", f"sandbox error: {exc}", 0.0)


def _run_step(
    step: Step, job: Job, mode: SandboxMode, workdir: Path, uid: int, slot: int
) -> StepResult:
    start = time.monotonic()
    env = _step_env(step, mode, workdir)
    fallback = ""
    if mode == "namespaces":
        from wavecoder.evals import forkserver

        if forkserver.enabled():
            fast = forkserver.execute(step, job, workdir, uid, slot, env)
            if isinstance(fast, StepResult):
                REPORT.add("forkserver")
                return fast
            fallback = fast
    from wavecoder.evals import utillinux

    if mode == "weak":
        step, env = _host_view(step, job, env)
    result = utillinux.execute(step, job, workdir, uid, slot, env, namespaces=mode == "namespaces")
    total = time.monotonic() - start
    REPORT.add(
        "util-linux" if mode == "namespaces" else "weak", fallback, total - result.duration_s
    )
    return replace(result, duration_s=total)  # a fallback's stall is part of the step's time


def _host_view(step: Step, job: Job, env: dict[str, str]) -> tuple[Step, dict[str, str]]:
    """Weak mode has no binds: turn `MOUNT_ROOT/<name>` paths back into their host paths."""
    table = [(f"{MOUNT_ROOT}/{name}", src) for src, name in (*job.binds, *job.overlays)]

    def host(value: str) -> str:
        for inside, outside in table:
            value = value.replace(inside, outside)
        return value

    argv = tuple(host(a) for a in step.argv)
    return replace(step, argv=argv), {k: host(v) for k, v in env.items()}


def _write_files(workdir: Path, files: Mapping[str, str | bytes]) -> None:
    for name, content in files.items():
        path = (workdir / name).resolve()
        if workdir.resolve() not in path.parents:
            raise ValueError(f"job file {name!r} escapes the sandbox directory")
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def rlimit_values(limits: Limits) -> dict[str, int]:
    """prlimit's resource names -> value (soft = hard) for a step's limits."""
    return {
        "cpu": limits.cpu_s if limits.cpu_s is not None else int(limits.timeout_s) + 2,
        "as": limits.memory_mb * 1024 * 1024,
        "nproc": limits.nproc,
        "fsize": limits.file_size_mb * 1024 * 1024,
        "nofile": limits.open_files,
        "core": 0,
    }


def _step_env(step: Step, mode: SandboxMode, workdir: Path) -> dict[str, str]:
    home = "/tmp" if mode == "namespaces" else str(workdir)
    env = {"PATH": SAFE_PATH, "HOME": home, "TMPDIR": home, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
    env.update(step.env)
    return env


def collect(
    out_fd: int, err_fd: int, limits: Limits, start: float
) -> tuple[bytes, bytes, StepStatus]:
    """Read both pipes until EOF, keeping a bounded tail; stop at the deadline or on a flood.

    The caller closes the fds."""
    bufs = {out_fd: bytearray(), err_fd: bytearray()}
    seen = 0
    poller = select.poll()  # no fd of its own to create and close, unlike epoll
    for fd in (out_fd, err_fd):
        poller.register(fd, select.POLLIN)
    open_fds = 2
    status: StepStatus = "ok"
    while open_fds:
        left = start + limits.timeout_s - time.monotonic()
        if left <= 0:
            status = "timeout"
            break
        for fd, _ in poller.poll(max(1, math.ceil(left * 1000))):
            chunk = os.read(fd, 65536)
            if not chunk:
                poller.unregister(fd)
                open_fds -= 1
                continue
            buf = bufs[fd]
            buf += chunk
            seen += len(chunk)
            if len(buf) > 2 * limits.output_bytes:
                del buf[: len(buf) - limits.output_bytes]
        if seen > 8 * limits.output_bytes:
            status = "output_limit"
            break
    return bytes(bufs[out_fd]), bytes(bufs[err_fd]), status


def tail(data: bytes, limit: int) -> str:
    return data[-limit:].decode("utf-8", errors="replace")
