"""The one place where untrusted code runs.

`run(job)` writes a job's files into a fresh directory and runs its steps (e.g. compile, then run)
one after the other, stopping at the first that fails. In the default `namespaces` mode every step:

- runs as an unprivileged uid of its own (one per concurrent slot, so RLIMIT_NPROC of one job
  never starves another), with no capabilities, no supplementary groups and `no_new_privs`;
- in new mount, PID, IPC and UTS namespaces, fresh for every step, and a network namespace with
  nothing configured (the fast path's is one per slot, reused by its steps in turn; see
  `forkserver`): no network at all, a private /proc that shows only the job's processes, its
  directory bound on /tmp, and fresh tmpfs over the other world-writable places, so it cannot
  write outside its directory;
- under rlimits on CPU time, address space, processes, file size and open files;
- with stdin closed, a scrubbed environment (only the variables the runner names), output
  capped, and the whole namespace killed at the deadline (PID 1 of the namespace dies, and the
  kernel kills everything left in it, daemons included).

How: by default through `forkserver` (a pre-started interpreter per slot forks each step into
its namespaces; Python scripts run in that interpreter, anything else is one `execve`). If that
cannot start, through util-linux (`unshare`, `mount`, `setpriv`, `prlimit`): same rules, about
five extra processes per step. Namespaces need root (CAP_SYS_ADMIN, CAP_SETUID). Without them
`run` raises `SandboxUnavailable` unless the caller chose the explicit `weak` mode (own process
group, rlimits, temp dir, scrubbed env; no uid drop, no network or filesystem isolation).
This module knows nothing about benchmarks."""

from __future__ import annotations

import math
import os
import select
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

SandboxMode = Literal["namespaces", "weak"]
StepStatus = Literal["ok", "failed", "timeout", "output_limit"]

UID_BASE = 1_700_000_000  # far above any real account; one uid per concurrent slot
SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"
# The namespaces every program gets; the availability probe checks exactly these.
UNSHARE_FLAGS = ("--mount", "--net", "--pid", "--ipc", "--uts", "--fork")
TMPFS_TARGETS = ("/var/tmp", "/dev/shm", "/run/lock", "/dev/mqueue")
MOUNT_ROOT = "/var/tmp/.wc"  # read-only binds of toolchains live here inside the sandbox


class SandboxUnavailable(RuntimeError):
    """The requested isolation cannot be provided on this system."""


@dataclass(frozen=True)
class Limits:
    timeout_s: float = 10.0
    cpu_s: int | None = None  # default: ceil(timeout_s) + 1
    memory_mb: int = 1024  # RLIMIT_AS
    nproc: int = 64  # processes and threads of the slot's uid
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
    """Hands out small integers to concurrent jobs (uids UID_BASE + slot)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._free: list[int] = []
        self._next = 0

    def take(self) -> int:
        with self._lock:
            if self._free:
                return self._free.pop()
            self._next += 1
            return self._next + (os.getpid() % 10_000) * 1000

    def give(self, slot: int) -> None:
        with self._lock:
            self._free.append(slot)


_SLOTS = _Slots()


def namespaces_available() -> str | None:
    """None when `namespaces` mode works here, else the reason it does not."""
    if os.geteuid() != 0:
        return "the sandbox needs root to drop to an unprivileged uid inside new namespaces"
    for tool in ("unshare", "setpriv", "prlimit", "mount", "sh"):
        if shutil.which(tool, path=SAFE_PATH) is None:
            return f"{tool} (util-linux) is not installed"
    probe = ["unshare", *UNSHARE_FLAGS, "--mount-proc", "true"]
    proc = subprocess.run(
        probe, capture_output=True, text=True, env={"PATH": SAFE_PATH}, check=False
    )
    if proc.returncode != 0:
        return f"cannot create namespaces ({' '.join(probe)}: {proc.stderr.strip()[:200]})"
    return None


def run(job: Job, *, mode: SandboxMode = "namespaces") -> JobResult:
    """Run a job's steps in order in one fresh directory; stop after the first failing step."""
    slot = _SLOTS.take()
    workdir = Path(tempfile.mkdtemp(prefix="wavecoder-sbx-"))
    try:
        _write_files(workdir, job.files)
        uid = UID_BASE + slot
        if mode == "namespaces":
            os.chown(workdir, uid, uid)
        os.chmod(workdir, 0o700)
        results: list[StepResult] = []
        for step in job.steps:
            result = _run_step(step, job, mode, workdir, uid)
            results.append(result)
            if result.status != "ok":
                break
        return JobResult(tuple(results))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        _SLOTS.give(slot)


def _run_step(step: Step, job: Job, mode: SandboxMode, workdir: Path, uid: int) -> StepResult:
    env = _step_env(step, mode, workdir)
    if mode == "namespaces":
        from wavecoder.evals import forkserver

        if forkserver.enabled():
            fast = forkserver.execute(step, job, workdir, uid, env)
            if fast is not None:
                return fast
    from wavecoder.evals import utillinux

    return utillinux.execute(step, job, workdir, uid, env, namespaces=mode == "namespaces")


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
