"""The sandbox's fast path: one pre-started interpreter ("zygote") per slot forks every step.

The zygote (`_zygote.py`, started once per slot, as root, holding nothing secret: a fresh exec
with a scrubbed environment, never a fork of the caller) keeps fresh mount, PID, IPC and UTS
namespaces and their PID 1 ready ahead of time, inside a network namespace of its own with
nothing configured (`WAVECODER_SANDBOX_NETNS=program`: a fresh one per program too). For a step
it forks the program into them, which applies the same mounts, rlimits and privilege drops as the
multi-process path and then either runs a Python script in the already-started interpreter
(`<python3.x> [-s -S -E -I -B -u] script.py`: that zygote is the step's own interpreter with its
flags and environment, so `sys.path` and site are the same) or `execve`s anything else (from a
bare `python -I -S` zygote). Output is read and capped here as on the other path; at the
deadline or on a flood the zygote SIGKILLs PID 1 and the kernel kills the rest of the namespace.
`WAVECODER_SANDBOX_FORKSERVER=0` turns the fast path off. If a zygote cannot start or dies, the
sandbox logs why and uses the multi-process path for that interpreter, environment and binds.
This module does not decide pass or fail."""

from __future__ import annotations

import atexit
import contextlib
import itertools
import json
import logging
import os
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wavecoder.evals import _zygote as rootfs_kernel
from wavecoder.evals import cgroups, rootfs, utillinux
from wavecoder.evals import sandbox as sb

log = logging.getLogger(__name__)
_PY_FLAGS = frozenset({"-s", "-S", "-E", "-I", "-B", "-u"})
_PYTHON = re.compile(r"python3(\.\d+)?")
ENV_SWITCH = "WAVECODER_SANDBOX_FORKSERVER"
# "slot" (default): one network namespace per zygote, nothing configured in it, its programs in
# turn; "program": a fresh one for every program (about 0.6 ms of kernel time more each)
ENV_NETNS = "WAVECODER_SANDBOX_NETNS"
NETNS_MODES = ("slot", "program")
# Pure stdlib modules that benchmark programs import (HumanEval, MBPP, HumanEvalPack Python),
# imported once by each Python zygote instead of by every program: `import typing` alone costs
# a fresh interpreter ~8 ms. Importing them has no side effect a program could observe beyond
# `sys.modules` (random reseeds itself in every forked child).
PRELOAD = (
    "bisect", "collections", "copy", "functools", "hashlib", "heapq", "itertools", "math",
    "operator", "random", "re", "string", "typing",
)  # fmt: skip
_REPLY_GRACE_S = 10.0  # after a kill, how long the zygote may take to report


class ZygoteError(RuntimeError):
    """A zygote could not be started or stopped answering."""


@dataclass(frozen=True)
class PythonCommand:
    interpreter: str
    flags: tuple[str, ...]
    script: str
    args: tuple[str, ...]


def python_command(argv: tuple[str, ...]) -> PythonCommand | None:
    """`<python3.x> [startup flags] script.py [args]` with the script in the job dir, else None."""
    if not argv or not _PYTHON.fullmatch(os.path.basename(argv[0])):
        return None
    i = 1
    while i < len(argv) and argv[i] in _PY_FLAGS:
        i += 1
    if i >= len(argv) or not argv[i].endswith(".py") or argv[i].startswith(("-", "/")):
        return None
    return PythonCommand(argv[0], tuple(argv[1:i]), argv[i], tuple(argv[i + 1 :]))


def enabled() -> bool:
    return os.environ.get(ENV_SWITCH, "1") != "0"


def netns_mode() -> str:
    mode = os.environ.get(ENV_NETNS, "slot")
    if mode not in NETNS_MODES:
        raise ValueError(f"{ENV_NETNS}={mode!r}: expected one of {', '.join(NETNS_MODES)}")
    return mode


# Mounts the zygote itself needs (its interpreter may live in a bind); each program redoes them.
_ZYGOTE_SETUP = r"""
set -eu
while [ "$1" != "--" ]; do echo 0 > "$1"; shift; done; shift
mount -t tmpfs -o size=16m,mode=755,nosuid,nodev tmpfs /var/tmp
mkdir -p "%(root)s"
while [ "$1" != "--" ]; do
  mkdir -p "%(root)s/$2"; mount --bind "$1" "%(root)s/$2"; mount -o remount,bind,ro "%(root)s/$2"
  shift 2
done
shift
exec "$@"
""" % {"root": sb.MOUNT_ROOT}  # noqa: UP031 - shell ${} clash


_SOURCE = Path(__file__).with_name("_zygote.py")
_BOOT = "import sys; f = sys.argv[1]; exec(compile(open(f).read(), f, 'exec'))"


_ZYGOTE_IDS = itertools.count(1)


class Zygote:
    """One pre-forked interpreter; serves one job at a time (its slot's)."""

    def __init__(
        self,
        interpreter: list[str],
        env: Mapping[str, str],
        binds: tuple[tuple[str, str], ...],
        options: Mapping[str, Any],
    ) -> None:
        # its own cgroup, joined once here: its programs are forked into it (see `cgroups`)
        self.group = cgroups.GROUPS.group(f"zygote-{next(_ZYGOTE_IDS)}")
        procs = self.group.procs() if self.group is not None else []
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        plan = [part for bind in binds for part in bind]
        argv = ["unshare", "--mount", "--propagation=private", "--", "sh", "-c", _ZYGOTE_SETUP]
        argv += ["zygote", *procs, "--", *plan, "--", *interpreter, "-c", _BOOT, str(_SOURCE)]
        try:
            self.proc = utillinux.spawn(  # with a fresh session keyring, not the scorer's
                [*argv, str(theirs.fileno()), json.dumps(dict(options))],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                env=dict(env),
                cwd="/",
                pass_fds=(theirs.fileno(),),
                start_new_session=True,
            )
        except OSError as exc:
            ours.close()
            raise ZygoteError(f"cannot start the zygote: {exc}") from exc
        finally:
            theirs.close()
        self.sock = ours
        self.pidfd = os.pidfd_open(self.proc.pid)

    def run(
        self, job: dict[str, Any], fds: list[int], limits: sb.Limits, start: float
    ) -> tuple[Any, ...]:
        """(reply, stdout, stderr, status) for one program; `fds` go with the job."""
        if self.proc.poll() is not None:  # its PID 1 would still take the job, and never answer
            raise ZygoteError(f"zygote gone: {self._stderr()}")
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            socket.send_fds(self.sock, [json.dumps(job).encode()], [out_w, err_w, *fds])
        except OSError as exc:
            for fd in (out_r, err_r):
                os.close(fd)
            raise ZygoteError(f"zygote gone: {exc}; {self._stderr()}") from exc
        finally:
            os.close(out_w)
            os.close(err_w)
        try:
            out, err, status = sb.collect(out_r, err_r, limits, start)
        finally:
            os.close(out_r)
            os.close(err_r)
        if status == "ok" and not self._wait(start + limits.timeout_s - time.monotonic()):
            status = "timeout"  # closed its output but kept running
        if status != "ok":
            self._send(b"kill")
        if not self._wait(_REPLY_GRACE_S):
            self.close()
            self.kill()
            raise ZygoteError("the zygote did not report a killed program in time")
        try:
            reply = self.sock.recv(1 << 16)
        except OSError:
            reply = b""
        if not reply:
            raise ZygoteError(f"zygote died: {self._stderr()}")
        return json.loads(reply), out, err, status

    def _wait(self, timeout_s: float) -> bool:
        """Whether a reply is there within `timeout_s`; a zygote that died raises."""
        fds = [self.sock.fileno(), self.pidfd]
        ready = select.select(fds, [], [], max(timeout_s, 0.0))[0]
        if fds[0] in ready:
            return True
        if ready:
            raise ZygoteError(f"zygote died: {self._stderr()}")
        return False

    def _send(self, msg: bytes) -> None:
        try:
            self.sock.send(msg)
        except OSError as exc:
            raise ZygoteError(f"zygote gone: {exc}; {self._stderr()}") from exc

    def _stderr(self) -> str:
        self.close()
        self.kill()  # its spare PID 1 holds a copy of its stderr
        assert self.proc.stderr is not None
        try:
            self.proc.wait(timeout=5)
            return self.proc.stderr.read().decode(errors="replace").strip()[-2000:]
        except subprocess.TimeoutExpired:
            return "(still running)"

    def close(self) -> None:
        self.sock.close()  # EOF: the zygote kills a running job and exits
        if self.pidfd >= 0:
            os.close(self.pidfd)
            self.pidfd = -1

    def kill(self) -> None:
        """The zygote and what it started (spare PID 1s share its process group)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)


class _Pool:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._zygotes: dict[tuple[Any, ...], Zygote] = {}
        self.failures: dict[tuple[Any, ...], str] = {}  # zygotes that could not serve, and why
        atexit.register(self.close_all)

    def take(self, key: tuple[Any, ...]) -> Zygote | None:
        with self._lock:
            return self._zygotes.pop(key, None)

    def give(self, key: tuple[Any, ...], zygote: Zygote) -> None:
        with self._lock:
            self._zygotes[key] = zygote

    def give_back(self, key: tuple[Any, ...], zygote: Zygote | None) -> None:
        if zygote is not None:
            self.give(key, zygote)

    def close_all(self) -> None:
        with self._lock:
            zygotes, self._zygotes = list(self._zygotes.values()), {}
        for z in zygotes:
            z.close()
            z.proc.wait()
            z.kill()  # a spare PID 1 left by a zygote that died abnormally

    def fail(self, key: tuple[Any, ...], reason: str) -> None:
        """Python steps with this key use the multi-process path from now on."""
        with self._lock:
            self.failures[key] = reason
        log.warning(
            "sandbox fast path off for %s, using the multi-process path: %s", key[1], reason
        )


_POOL = _Pool()


def execute(
    step: sb.Step, job: sb.Job, workdir: Path, uid: int, slot: int, env: dict[str, str]
) -> sb.StepResult | str:
    """Run one step through the slot's zygote; else why the fast path cannot serve it."""
    start = time.monotonic()
    cmd = python_command(step.argv)
    request: dict[str, Any] = {
        "uid": uid,
        "argv": list(step.argv),
        "mode": "exec",
        "env": env,
        "rlimits": sb.rlimit_values(step.limits),
        "mount_root": sb.MOUNT_ROOT,
        "overlays": [list(o) for o in job.overlays],
        "overlay_upper": rootfs.OVERLAY_UPPER,
        "overlay_opts": rootfs.OVERLAY_TMPFS_OPTS,
        "shm_opts": rootfs.SHM_OPTS,
        "devpts_opts": rootfs.DEVPTS_OPTS,
    }
    entries = rootfs.plan(job.binds, job.overlays)
    options: dict[str, Any] = {
        "netns": netns_mode(),
        "preload": [],
        "root": [list(e) for e in entries],
        "skeleton": str(rootfs.skeleton(entries, job.overlays)),
    }
    binds: tuple[tuple[str, str], ...] = ()
    if cmd is None:  # any other program: one fork + exec from a bare interpreter
        key: tuple[Any, ...] = (slot, "exec", job.binds, job.overlays, options["netns"])
        interpreter, zygote_env = [sys.executable, "-I", "-S"], {"PATH": sb.SAFE_PATH}
    else:  # a Python script: run it in the pre-started interpreter
        key = (slot, cmd.interpreter, cmd.flags, tuple(sorted(env.items())), job.binds)
        key += (job.overlays, options["netns"])
        interpreter, zygote_env, binds = [cmd.interpreter, *cmd.flags], env, job.binds
        request.update(mode="python", script=cmd.script, isolated="-I" in cmd.flags)
        options["preload"] = list(PRELOAD)
    if key in _POOL.failures:
        return _POOL.failures[key]
    zygote, fresh = _POOL.take(key), False
    fds: list[int] = []
    try:
        fds.append(rootfs_kernel.open_tree_clone(str(workdir)))
        if zygote is None:
            zygote, fresh = Zygote(interpreter, zygote_env, binds, options), True
        if zygote.group is not None:  # the program's limits, plus the zygote's own share
            zygote.group.set(
                step.limits.memory_mb + cgroups.ZYGOTE_MB, step.limits.nproc + cgroups.ZYGOTE_PIDS
            )
        reply, out, err, status = zygote.run(request, fds, step.limits, start)
    except OSError as exc:  # the job folder or the cgroup: this step cannot run here
        _POOL.give_back(key, zygote)
        return f"cannot hand the step to a zygote: {exc}"
    except ZygoteError as exc:
        if fresh:  # cannot start here: stop trying for this key
            _POOL.fail(key, str(exc))
            return str(exc)
        log.warning("sandbox zygote lost, step rerun on the multi-process path: %s", exc)
        return f"zygote lost: {exc}"
    finally:
        for fd in fds:
            os.close(fd)
    _POOL.give(key, zygote)
    if reply.get("lost"):
        log.warning("sandbox PID 1 killed from outside, step rerun on the multi-process path")
        return "PID 1 killed from outside"
    return _result(step, reply, out, err, status, start)


def _result(
    step: sb.Step,
    reply: dict[str, Any],
    out: bytes,
    err: bytes,
    status: sb.StepStatus,
    start: float,
) -> sb.StepResult:
    error: str = reply["setup_error"]
    returncode = os.waitstatus_to_exitcode(reply["status"])
    if error:  # the sandbox could not start the step (setup, or exec of the runner's argv)
        status = "error"
    elif status == "ok" and returncode != 0:
        status = "failed"
    return sb.StepResult(
        name=step.name,
        status=status,
        returncode=returncode,
        stdout=sb.tail(out, step.limits.output_bytes),
        stderr=sb.tail(err + error.encode(), step.limits.output_bytes),
        duration_s=time.monotonic() - start,
    )
