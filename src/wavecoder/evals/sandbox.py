"""The one place where untrusted code runs.

`run(job)` writes a job's files into a fresh directory and runs its steps (e.g. compile, then run)
one after the other, stopping at the first that fails. In the default `namespaces` mode every step:

- runs as an unprivileged uid of its own (one per concurrent slot, so RLIMIT_NPROC of one job
  never starves another), with no capabilities, no supplementary groups and `no_new_privs`;
- in new mount, network, PID, IPC and UTS namespaces (util-linux `unshare`): no network at all,
  a private /proc that shows only the job's processes, its directory bound on /tmp, and fresh
  tmpfs over the other world-writable places, so it cannot write outside its directory;
- under rlimits on CPU time, address space, processes, file size and open files (`prlimit`);
- with stdin closed, a scrubbed environment (only the variables the runner names), output
  capped, and the whole namespace killed at the deadline (PID 1 of the namespace dies, and the
  kernel kills everything left in it, daemons included).

Namespaces need root (CAP_SYS_ADMIN, CAP_SETUID). Without them `run` raises `SandboxUnavailable`
unless the caller chose the explicit `weak` mode (own process group, rlimits, temp dir, scrubbed
env; no uid drop, no network or filesystem isolation). This module knows nothing about benchmarks.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shutil
import signal
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
_SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"
# The namespaces every program gets; the availability probe checks exactly these.
_NAMESPACES = ("--mount", "--net", "--pid", "--ipc", "--uts", "--fork")
_TMPFS_TARGETS = ("/var/tmp", "/dev/shm", "/run/lock", "/dev/mqueue")
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
        if shutil.which(tool, path=_SAFE_PATH) is None:
            return f"{tool} (util-linux) is not installed"
    probe = ["unshare", *_NAMESPACES, "--mount-proc", "true"]
    proc = subprocess.run(
        probe, capture_output=True, text=True, env={"PATH": _SAFE_PATH}, check=False
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
            argv = _wrap(step, job, workdir, uid) if mode == "namespaces" else _wrap_weak(step)
            cwd = "/" if mode == "namespaces" else str(workdir)
            result = _execute(argv, step, cwd=cwd, env=_step_env(step, mode, workdir))
            results.append(result)
            if result.status != "ok":
                break
        return JobResult(tuple(results))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        _SLOTS.give(slot)


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


def _rlimit_args(limits: Limits) -> list[str]:
    cpu = limits.cpu_s if limits.cpu_s is not None else int(limits.timeout_s) + 2
    return [
        f"--cpu={cpu}",
        f"--as={limits.memory_mb * 1024 * 1024}",
        f"--nproc={limits.nproc}",
        f"--fsize={limits.file_size_mb * 1024 * 1024}",
        f"--nofile={limits.open_files}",
        "--core=0",
    ]


# Runs as root inside the new namespaces, then drops to the slot's uid for the step itself.
# $1 work dir, $2 uid, then the mount plan; the step's argv follows "--".
_SETUP = r"""
set -eu
work="$1"; uid="$2"; shift 2
for t in %(tmpfs)s; do
  if [ -d "$t" ]; then mount -t tmpfs -o size=64m,mode=1777,nosuid,nodev tmpfs "$t"; fi
done
mkdir -p %(root)s
while [ "$1" != "--" ]; do
  kind="$1"; src="$2"; name="$3"; shift 3
  mkdir -p "%(root)s/$name"
  if [ "$kind" = bind ]; then
    mount --bind "$src" "%(root)s/$name"; mount -o remount,bind,ro "%(root)s/$name"
  else
    mkdir -p "%(root)s/.up/$name" "%(root)s/.wk/$name"; chown "$uid:$uid" "%(root)s/.up/$name"
    opts="lowerdir=$src,upperdir=%(root)s/.up/$name,workdir=%(root)s/.wk/$name"
    mount -t overlay overlay -o "$opts" \
      "%(root)s/$name"
  fi
done
shift
mount --bind "$work" /tmp
cd /tmp
setpriv --reuid="$uid" --regid="$uid" --clear-groups --inh-caps=-all --bounding-set=-all \
  --no-new-privs -- "$@"
""" % {"tmpfs": " ".join(_TMPFS_TARGETS), "root": MOUNT_ROOT}  # noqa: UP031 - shell ${} clash


def _wrap(step: Step, job: Job, workdir: Path, uid: int) -> list[str]:
    plan: list[str] = []
    for src, name in job.binds:
        plan += ["bind", src, name]
    for src, name in job.overlays:
        plan += ["overlay", src, name]
    return [
        "unshare",
        *_NAMESPACES,
        "--kill-child",
        "--mount-proc",
        "--propagation=private",
        "--",
        "sh",
        "-c",
        _SETUP,
        "sandbox",
        str(workdir),
        str(uid),
        *plan,
        "--",
        "prlimit",
        *_rlimit_args(step.limits),
        "--",
        *step.argv,
    ]


def _wrap_weak(step: Step) -> list[str]:
    return ["prlimit", *_rlimit_args(step.limits), "--", *step.argv]


def _step_env(step: Step, mode: SandboxMode, workdir: Path) -> dict[str, str]:
    home = "/tmp" if mode == "namespaces" else str(workdir)
    env = {"PATH": _SAFE_PATH, "HOME": home, "TMPDIR": home, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
    env.update(step.env)
    return env


def _execute(argv: list[str], step: Step, *, cwd: str, env: dict[str, str]) -> StepResult:
    start = time.monotonic()
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=cwd,
        env=env,
        start_new_session=True,
    )
    out, err, status = _collect(proc, step.limits, start)
    if status != "ok":
        _kill(proc)
    returncode = proc.wait()
    if status == "ok" and returncode != 0:
        status = "failed"
    return StepResult(
        name=step.name,
        status=status,
        returncode=returncode,
        stdout=_tail(out, step.limits.output_bytes),
        stderr=_tail(err, step.limits.output_bytes),
        duration_s=time.monotonic() - start,
    )


def _collect(
    proc: subprocess.Popen[bytes], limits: Limits, start: float
) -> tuple[bytes, bytes, StepStatus]:
    """Read both pipes until EOF, keeping a bounded tail; stop at the deadline or on a flood."""
    assert proc.stdout is not None and proc.stderr is not None
    out_fd, err_fd = proc.stdout.fileno(), proc.stderr.fileno()
    bufs = {out_fd: bytearray(), err_fd: bytearray()}
    seen = 0
    sel = selectors.DefaultSelector()
    for stream in (proc.stdout, proc.stderr):
        sel.register(stream, selectors.EVENT_READ)
    status: StepStatus = "ok"
    try:
        while sel.get_map():
            left = start + limits.timeout_s - time.monotonic()
            if left <= 0:
                status = "timeout"
                break
            for key, _ in sel.select(timeout=left):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    sel.unregister(key.fileobj)
                    continue
                buf = bufs[key.fd]
                buf += chunk
                seen += len(chunk)
                if len(buf) > 2 * limits.output_bytes:
                    del buf[: len(buf) - limits.output_bytes]
            if seen > 8 * limits.output_bytes:
                status = "output_limit"
                break
    finally:
        sel.close()
        proc.stdout.close()
        proc.stderr.close()
    return bytes(bufs[out_fd]), bytes(bufs[err_fd]), status


def _kill(proc: subprocess.Popen[bytes]) -> None:
    # Killing `unshare` makes the kernel SIGKILL its child (PID 1 of the namespace, via
    # --kill-child), and with it every process in the namespace. In weak mode, kill the group.
    for target in (lambda: os.killpg(proc.pid, signal.SIGKILL), proc.kill):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            target()


def _tail(data: bytes, limit: int) -> str:
    return data[-limit:].decode("utf-8", errors="replace")
