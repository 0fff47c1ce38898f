"""The sandbox's portable path: util-linux tools, a few dozen short-lived processes per step.

`unshare` creates the namespaces, a root `sh` inside them joins the slot's cgroup, builds the
minimal root (a bind of `rootfs.skeleton` plus `rootfs.plan`'s read-only binds, /proc, /dev/shm,
a fresh devpts, the job folder on /tmp, overlays) and pivots into it; `setpriv` drops to the
job's uid (no groups, no capabilities, `no_new_privs`) and `prlimit` sets the rlimits before the
step's argv runs. The calling thread joins a fresh session keyring first, which the step
inherits. The
deadline kills `unshare`, whose `--kill-child` takes PID 1 of the namespace, and with it the
rest. In `weak` mode only `prlimit`, a process group and the temp dir. Used when the fast path
(`forkserver`) is off or cannot start; the rules are the same. Types and output capture live in
`sandbox`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from wavecoder.evals import _zygote as kernel
from wavecoder.evals import cgroups, rootfs
from wavecoder.evals.sandbox import (
    MOUNT_ROOT,
    UNSHARE_FLAGS,
    Job,
    Limits,
    Step,
    StepResult,
    collect,
    rlimit_values,
    tail,
)

# The setup script reports its own failures on a pipe, its stdin (dash knows fds 0-9 only), and
# swaps /dev/null in before the step's argv runs: its failures read as a sandbox error, never as
# the program's.
_EXEC_FAILED = ("prlimit: failed to execute", "setpriv: failed to execute")


def execute(
    step: Step,
    job: Job,
    workdir: Path,
    uid: int,
    slot: int,
    env: dict[str, str],
    *,
    namespaces: bool,
) -> StepResult:
    if namespaces:
        group = cgroups.GROUPS.slot_group(slot)
        if group is not None:
            group.set(step.limits.memory_mb, step.limits.nproc)
        return _execute(_wrap(step, job, workdir, uid, group), step, cwd="/", env=env, sfd=True)
    return _execute(_wrap_weak(step), step, cwd=str(workdir), env=env, sfd=False)


def spawn(argv: list[str], **popen: Any) -> subprocess.Popen[bytes]:
    """`subprocess.Popen` from a short-lived thread that first joins a fresh, empty session
    keyring: the child inherits that one, not the caller's (which stays as it was)."""
    box: list[subprocess.Popen[bytes] | BaseException] = []

    def start() -> None:
        try:
            kernel.join_fresh_session_keyring()
            box.append(subprocess.Popen(argv, **popen))
        except BaseException as exc:  # handed to the caller's thread
            box.append(exc)

    thread = threading.Thread(target=start, name="sandbox-spawn")
    thread.start()
    thread.join()
    if isinstance(box[0], BaseException):
        raise box[0]
    return box[0]


def _rlimit_args(limits: Limits) -> list[str]:
    return [f"--{name}={value}" for name, value in rlimit_values(limits).items()]


# Runs as root inside the new namespaces, then drops to the job's uid for the step itself.
# $1 job folder, $2 uid, $3 skeleton (the new root); then the cgroup.procs files to join, the
# root's mounts (kind source target) and the overlays (name); the step's argv follows "--".
_SETUP = (
    r"""
set -eu
work="$1"; uid="$2"; R="$3"; shift 3
trap 'echo "sandbox setup failed" >&0' EXIT
while [ "$1" != "--" ]; do echo 0 > "$1"; shift; done; shift
mount --bind "$R" "$R"
while [ "$1" != "--" ]; do
  kind="$1"; src="$2"; dst="$R$3"; shift 3
  if [ "$kind" = dev ]; then mount --bind -o nosuid,noexec "$src" "$dst"
  else mount --bind -o ro,nosuid,nodev "$src" "$dst"; fi
done; shift
mount -t proc -o nosuid,nodev,noexec proc "$R/proc"
mount -t tmpfs -o "%(shm)s,nosuid,nodev" tmpfs "$R/dev/shm"
mount -t devpts -o "%(devpts)s,nosuid,noexec" devpts "$R/dev/pts"
mount --bind "$work" "$R/tmp"
if [ "$1" != "--" ]; then
  up="$R%(upper)s"; mount -t tmpfs -o "%(ovl)s,nosuid,nodev" tmpfs "$up"
  while [ "$1" != "--" ]; do
    mkdir "$up/up-$1" "$up/wk-$1"; chown "$uid:$uid" "$up/up-$1"
    opts="lowerdir=$R%(root)s/.lower/$1,upperdir=$up/up-$1,workdir=$up/wk-$1"
    mount -t overlay -o "$opts,nosuid,nodev" overlay "$R%(root)s/$1"; shift
  done
fi
shift
cd "$R"; %(pivot_root)s . .; umount -l .; cd /
mount -o remount,bind,ro,nosuid,nodev /
cd /tmp
trap - EXIT
exec </dev/null
setpriv --reuid="$uid" --regid="$uid" --clear-groups --inh-caps=-all \
  --bounding-set=-all --no-new-privs -- "$@"
"""  # noqa: UP031 - shell ${} clash
    % {
        "root": MOUNT_ROOT,
        "upper": rootfs.OVERLAY_UPPER,
        "ovl": rootfs.OVERLAY_TMPFS_OPTS,
        "shm": rootfs.SHM_OPTS,
        "devpts": rootfs.DEVPTS_OPTS,
        "pivot_root": shutil.which("pivot_root", path="/usr/sbin:/sbin:/usr/bin:/bin")
        or "pivot_root",
    }
)


def _wrap(
    step: Step, job: Job, workdir: Path, uid: int, group: cgroups.SlotGroup | None
) -> list[str]:
    entries = rootfs.plan(job.binds, job.overlays)
    skeleton = rootfs.skeleton(entries, job.overlays)
    procs = group.procs() if group is not None else []
    return [
        "unshare",
        *UNSHARE_FLAGS,
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
        str(skeleton),
        *procs,
        "--",
        *[part for entry in entries for part in entry],
        "--",
        *[name for _, name in job.overlays],
        "--",
        "prlimit",
        *_rlimit_args(step.limits),
        "--",
        *step.argv,
    ]


def _wrap_weak(step: Step) -> list[str]:
    return ["prlimit", *_rlimit_args(step.limits), "--", *step.argv]


def _execute(
    argv: list[str],
    step: Step,
    *,
    cwd: str,
    env: dict[str, str],
    sfd: bool,
) -> StepResult:
    """Run the wrapped step; with `sfd` its stdin is the setup's status pipe."""
    start = time.monotonic()
    status_r, status_w = os.pipe()
    try:
        proc = spawn(
            argv,
            stdin=status_w if sfd else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=env,
            start_new_session=True,
        )
    except OSError as exc:
        os.close(status_r)
        return StepResult(step.name, "error", None, "", f"sandbox error: {exc}", 0.0)
    finally:
        os.close(status_w)
    assert proc.stdout is not None and proc.stderr is not None
    try:
        out, err, status = collect(proc.stdout.fileno(), proc.stderr.fileno(), step.limits, start)
    finally:
        proc.stdout.close()
        proc.stderr.close()
    if status == "ok":  # it may have closed its output and kept running
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=max(start + step.limits.timeout_s - time.monotonic(), 0.0))
        status = "ok" if proc.returncode is not None else "timeout"
    if status != "ok":
        _kill(proc)
    returncode = proc.wait()
    with os.fdopen(status_r, "rb") as fh:
        setup_error = fh.read(4000).decode(errors="replace")
    stderr = tail(err, step.limits.output_bytes)
    if setup_error or (
        returncode in (126, 127) and any(m in stderr[-500:] for m in _EXEC_FAILED)
    ):  # the sandbox could not start the step: not the program's verdict
        status = "error"
        stderr = tail(err + setup_error.encode(), step.limits.output_bytes)
    elif status == "ok" and returncode != 0:
        status = "failed"
    return StepResult(
        name=step.name,
        status=status,
        returncode=returncode,
        stdout=tail(out, step.limits.output_bytes),
        stderr=stderr,
        duration_s=time.monotonic() - start,
    )


def _kill(proc: subprocess.Popen[bytes]) -> None:
    # Killing `unshare` makes the kernel SIGKILL its child (PID 1 of the namespace, via
    # --kill-child), and with it every process in the namespace. In weak mode, kill the group.
    for target in (lambda: os.killpg(proc.pid, signal.SIGKILL), proc.kill):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            target()
