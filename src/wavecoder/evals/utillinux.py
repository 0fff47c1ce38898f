"""The sandbox's portable path: util-linux tools, about five short-lived processes per step.

`unshare` creates the namespaces, a root `sh` inside them mounts /proc, the tmpfs, the
read-only binds and the job directory on /tmp, `setpriv` drops to the slot's uid (no groups, no
capabilities, `no_new_privs`) and `prlimit` sets the rlimits before the step's argv runs. The
deadline kills `unshare`, whose `--kill-child` takes PID 1 of the namespace, and with it the
rest. In `weak` mode only `prlimit`, a process group and the temp dir. Used when the fast path
(`forkserver`) is off or cannot start; the rules are the same. Types and output capture live in
`sandbox`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

from wavecoder.evals.sandbox import (
    MOUNT_ROOT,
    TMPFS_TARGETS,
    UNSHARE_FLAGS,
    Job,
    Limits,
    Step,
    StepResult,
    collect,
    rlimit_values,
    tail,
)


def execute(
    step: Step, job: Job, workdir: Path, uid: int, env: dict[str, str], *, namespaces: bool
) -> StepResult:
    if namespaces:
        return _execute(_wrap(step, job, workdir, uid), step, cwd="/", env=env)
    return _execute(_wrap_weak(step), step, cwd=str(workdir), env=env)


def _rlimit_args(limits: Limits) -> list[str]:
    return [f"--{name}={value}" for name, value in rlimit_values(limits).items()]


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
""" % {"tmpfs": " ".join(TMPFS_TARGETS), "root": MOUNT_ROOT}  # noqa: UP031 - shell ${} clash


def _wrap(step: Step, job: Job, workdir: Path, uid: int) -> list[str]:
    plan: list[str] = []
    for src, name in job.binds:
        plan += ["bind", src, name]
    for src, name in job.overlays:
        plan += ["overlay", src, name]
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
        *plan,
        "--",
        "prlimit",
        *_rlimit_args(step.limits),
        "--",
        *step.argv,
    ]


def _wrap_weak(step: Step) -> list[str]:
    return ["prlimit", *_rlimit_args(step.limits), "--", *step.argv]


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
    if status == "ok" and returncode != 0:
        status = "failed"
    return StepResult(
        name=step.name,
        status=status,
        returncode=returncode,
        stdout=tail(out, step.limits.output_bytes),
        stderr=tail(err, step.limits.output_bytes),
        duration_s=time.monotonic() - start,
    )


def _kill(proc: subprocess.Popen[bytes]) -> None:
    # Killing `unshare` makes the kernel SIGKILL its child (PID 1 of the namespace, via
    # --kill-child), and with it every process in the namespace. In weak mode, kill the group.
    for target in (lambda: os.killpg(proc.pid, signal.SIGKILL), proc.kill):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            target()
