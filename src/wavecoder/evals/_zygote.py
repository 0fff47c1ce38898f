"""The pre-started interpreter ("zygote") behind the sandbox's fast path: stdlib only.

`forkserver` runs this file as `python <flags> -c BOOT this-file fd options`, as root, with a
scrubbed environment, in a private mount namespace that sees the toolchain binds; it holds
nothing secret. At start it empties its capability bounding set (every program inherits that),
moves into a network namespace of its own with nothing configured (`netns: slot`, the default;
with `netns: program` each program gets a fresh one instead) and imports the `preload` modules.
Then it pivots into the minimal root (`rootfs.plan`, read-only), so every program's mount
namespace is a copy of that, not of the host's.
Ahead of each job it unshares fresh mount, PID, IPC and UTS namespaces and starts their PID 1 (a
`pause()`-only thread of execution, see `_Spare`). A job (JSON, and on the socket `fd` the
stdout/stderr pipe ends and a detached copy of its job folder's tmpfs) is forked into them as
PID 2, inside the zygote's cgroup (joined at start, see `cgroups`): the program mounts a
private /proc, /dev/shm and devpts, its job folder on /tmp and its overlays; sets the rlimits;
drops to the job's uid with no groups, no capabilities, `no_new_privs` and a fresh session
keyring; then runs
the script in this already-started interpreter (`python` mode) or `execve`s the step's argv
(`exec` mode). When it exits, or when the caller asks, the zygote SIGKILLs PID 1 (the kernel then
kills everything left in the PID namespace) and reports the program's wait status. It never sees
program text: the caller writes the files, the program reads them."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import os
import resource
import select
import signal
import socket
import struct
import sys
import types
from typing import Any

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWPID, CLONE_NEWNET = 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 24, 38
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
_LIBC = ctypes.CDLL(None, use_errno=True)
_RLIMITS = {
    "cpu": resource.RLIMIT_CPU,
    "as": resource.RLIMIT_AS,
    "nproc": resource.RLIMIT_NPROC,
    "fsize": resource.RLIMIT_FSIZE,
    "nofile": resource.RLIMIT_NOFILE,
    "core": resource.RLIMIT_CORE,
}


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _mount(src: str | None, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    enc = [None if s is None else s.encode() for s in (src, target, fstype)]
    _check(
        _LIBC.mount(enc[0], enc[1], enc[2], ctypes.c_ulong(flags), data.encode() or None),
        f"mount {target}",
    )


_SYSCALLS = {  # the calls glibc has no wrapper for
    "x86_64": {"pivot_root": 155, "keyctl": 250, "open_tree": 428, "move_mount": 429},
    "aarch64": {"pivot_root": 41, "keyctl": 219, "open_tree": 428, "move_mount": 429},
}
AT_FDCWD, AT_RECURSIVE = -100, 0x8000
OPEN_TREE_CLONE, MOVE_MOUNT_F_EMPTY_PATH, MNT_DETACH = 1, 4, 2
KEYCTL_JOIN_SESSION_KEYRING = 1
_LIBC.syscall.restype = ctypes.c_long


def syscall(name: str, *args: Any) -> int:
    number = _SYSCALLS.get(os.uname().machine, {}).get(name)
    if number is None:
        raise OSError(38, f"{name}: no syscall number known for {os.uname().machine}")
    result = int(_LIBC.syscall(number, *args))
    if result < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{name}: {os.strerror(errno)}")
    return result


def open_tree_clone(path: str) -> int:
    """A detached copy of the mount at `path` (fd, close-on-exec), to attach elsewhere."""
    return syscall("open_tree", AT_FDCWD, path.encode(), OPEN_TREE_CLONE | os.O_CLOEXEC)


def join_fresh_session_keyring() -> None:
    """This thread's session keyring becomes a new empty one (children inherit it)."""
    syscall("keyctl", KEYCTL_JOIN_SESSION_KEYRING, None)


def enter_root(entries: list[list[str]], skeleton: str) -> None:
    """Pivot into a minimal root: a bind of `skeleton` plus the plan's read-only binds
    (`rootfs.plan`); the old root is detached, the new one made read-only."""
    _mount(skeleton, skeleton, None, MS_BIND)
    for kind, src, target in entries:
        dst = skeleton + target
        _mount(src, dst, None, MS_BIND)
        flags = MS_REMOUNT | MS_BIND | MS_NOSUID
        if kind != "dev":
            flags |= MS_RDONLY | MS_NODEV
        _mount(None, dst, None, flags)
    os.chdir(skeleton)
    syscall("pivot_root", b".", b".")
    _check(_LIBC.umount2(b".", MNT_DETACH), "detach the old root")
    os.chdir("/")
    _mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _mounts(job: dict[str, Any], tree: int) -> None:
    """Runs as root in the program's new mount namespace (a copy of the zygote's minimal root):
    fresh /proc, /dev/shm and devpts, the job folder on /tmp, overlays."""
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    with open("/proc/self/oom_score_adj", "w") as fh:  # the OOM killer takes it, not the zygote
        fh.write("1000")  # (raising needs no privilege)
    _mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, job["shm_opts"])
    _mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, job["devpts_opts"])
    syscall("move_mount", tree, b"", AT_FDCWD, b"/tmp", MOVE_MOUNT_F_EMPTY_PATH)
    os.close(tree)
    if job["overlays"]:
        upper, uid = job["overlay_upper"], job["uid"]
        _mount("tmpfs", upper, "tmpfs", MS_NOSUID | MS_NODEV, job["overlay_opts"])
        for _, name in job["overlays"]:
            up, wk = f"{upper}/up-{name}", f"{upper}/wk-{name}"
            for d in (up, wk):
                os.mkdir(d)
            os.chown(up, uid, uid)
            lower, dst = f"{job['mount_root']}/.lower/{name}", f"{job['mount_root']}/{name}"
            _mount("overlay", dst, "overlay", MS_NOSUID | MS_NODEV,
                   f"lowerdir={lower},upperdir={up},workdir={wk}")  # fmt: skip
    os.chdir("/tmp")


def _drop_bounding_set() -> None:
    """Once, in the zygote: its effective capabilities stay, but no exec can ever regain one."""
    cap = 0
    while _LIBC.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0:
        cap += 1
    if cap == 0:
        _check(-1, "drop the capability bounding set")


def _drop(job: dict[str, Any]) -> None:
    """rlimits, then uid/gid/groups, the other capability sets, and no_new_privs (the bounding
    set is inherited empty from the zygote)."""
    for name, value in job["rlimits"].items():
        resource.setrlimit(_RLIMITS[name], (value, value))
    uid = job["uid"]
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)  # clears the permitted, effective and ambient sets
    header = struct.pack("Ii", _LINUX_CAPABILITY_VERSION_3, 0)
    _check(_LIBC.capset(header, bytes(24)), "capset")  # and the inheritable set
    _check(_LIBC.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    join_fresh_session_keyring()  # after the uid change: the program's own, empty


def _program(job: dict[str, Any], fds: list[int], ready_w: int) -> None:
    """The program process, PID 2 of fresh namespaces: mount, drop, then exec or return.

    Setup errors go to `ready_w` (closed on exec)."""
    try:
        os.dup2(fds[0], 1)
        os.dup2(fds[1], 2)
        keep = sorted({ready_w, *fds[2:]})
        for low, high in zip([2, *keep], [*keep, 1 << 16], strict=True):
            os.closerange(low + 1, high)
        for sig in (signal.SIGTERM, signal.SIGCHLD, signal.SIGPIPE, signal.SIGXFSZ):
            signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, set())
        _mounts(job, fds[2])
        _drop(job)
    except BaseException as exc:
        os.write(ready_w, f"sandbox setup failed: {exc!r}".encode()[:4000])
        os._exit(127)
    if job["mode"] == "exec":
        try:
            os.execvpe(job["argv"][0], job["argv"], job["env"])  # ready_w closes on exec
        except OSError as exc:
            os.write(ready_w, f"cannot execute {job['argv'][0]}: {exc}\n".encode())
            os._exit(127)
    os.close(ready_w)
    # what a fresh interpreter sets up: SIGPIPE and SIGXFSZ ignored, SIGINT -> KeyboardInterrupt
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.default_int_handler)


_NAMESPACES = {  # fresh for every program ("net" only with `netns: program`)
    CLONE_NEWNS: "mnt",
    CLONE_NEWPID: "pid",
    CLONE_NEWNET: "net",
    CLONE_NEWIPC: "ipc",
    CLONE_NEWUTS: "uts",
}
CLONE_VM = 0x00000100
_WALL = 0x40000000
_INIT_STACK = 64 * 1024
_LIBC.clone.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
_PAUSE = ctypes.cast(_LIBC.pause, ctypes.c_void_p).value


class _Spare:
    """Fresh namespaces made ahead of time, and their PID 1.

    The zygote unshares them and stays in them until the job's program is forked (then it goes
    back home). PID 1 is a `clone(CLONE_VM)` child that runs only libc `pause()`, with every
    signal blocked and SIGCHLD ignored, so the kernel reaps whatever is orphaned to it: no copy
    of the interpreter, no Python code, nothing to set up or tear down but a small stack. It
    holds copies of the zygote's fds (it cannot close them) and its process group: the caller
    kills that group when a zygote dies. Killing PID 1 ends the namespace: the kernel kills
    everything left in it."""

    def __init__(self, flags: int) -> None:
        self.flags, self.pid = flags, 0
        # PID 1's stack: one buffer for every spare, as one PID 1 at a time is alive (`start`
        # follows `end`), and it must outlive the PID 1 that runs on it
        self.stack = ctypes.create_string_buffer(_INIT_STACK)
        self.start()

    def start(self) -> None:
        _check(_LIBC.unshare(self.flags), "unshare")
        top = (ctypes.addressof(self.stack) + _INIT_STACK) & ~0xF
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
        chld = signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # no child of ours is alive now
        try:
            pid = _LIBC.clone(_PAUSE, top, CLONE_VM | signal.SIGCHLD, None)
        finally:
            signal.signal(signal.SIGCHLD, chld)
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        if pid < 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"clone: {os.strerror(errno)}")
        self.pid, self.pidfd = pid, os.pidfd_open(pid)

    def end(self) -> None:
        """Kill PID 1 (and so the namespace) and reap it; the program must be reaped first.

        PID 1 only finishes exiting once every process of its namespace is reaped, and one
        cloned with CLONE_PARENT is this zygote's child, not PID 1's: reap every child
        (`__WALL`: whatever its exit signal) until PID 1 is among them."""
        self.kill()
        self.reap()

    def reap(self) -> None:
        """Wait for the killed PID 1, reaping every other child of ours (see `end`)."""
        while os.waitpid(-1, _WALL)[0] != self.pid:
            pass
        os.close(self.pidfd)
        self.pid = 0

    def kill(self) -> None:
        if self.pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)


class _CallerGone(Exception):
    """EOF or a reset on the job socket: the caller exited."""


def _go_home(home: list[tuple[int, int]]) -> None:
    for fd, flag in home:
        _check(_LIBC.setns(fd, flag), "setns")


def _serve_one(
    sock: socket.socket, home: list[tuple[int, int]], spare: _Spare
) -> dict[str, Any] | None:
    """Fork one job's program into the spare namespaces, wait for it, report.

    Returns the job in the program process (set up, privileges dropped), else None."""
    msg = b"kill"
    while msg == b"kill":  # a kill that crossed the previous program's exit is moot
        try:
            msg, fds, _, _ = socket.recv_fds(sock, 1 << 20, 8)
        except ConnectionResetError:
            msg = b""
        if not msg:
            raise _CallerGone
    job = json.loads(msg)
    ready_r, ready_w = os.pipe2(os.O_CLOEXEC)
    try:
        pid = os.fork()
    except OSError:  # its PID 1 died while waiting (ENOMEM): take fresh namespaces
        _go_home(home)
        spare.end()
        spare.start()
        pid = os.fork()
    if pid == 0:
        _program(job, fds, ready_w)
        return job  # type: ignore[no-any-return]
    _go_home(home)
    for fd in (*fds, ready_w):
        os.close(fd)
    _wait_job(sock, pid, spare, ready_r)
    return None


def _wait_job(sock: socket.socket, pid: int, spare: _Spare, ready_r: int) -> None:
    """Wait for the program's exit (or kill its namespace when asked); report its wait status."""
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLIN)
    pidfd = os.pidfd_open(pid)
    poller.register(pidfd, select.POLLIN)
    killed = False
    try:
        while not any(fd == pidfd for fd, _ in poller.poll()):
            try:
                msg = sock.recv(64)
            except ConnectionResetError:
                msg = b""
            if not msg:
                raise _CallerGone
            os.kill(spare.pid, signal.SIGKILL)  # "kill": PID 1 dies, the kernel kills the rest
            killed = True
    finally:
        os.close(pidfd)
    status = os.waitpid(pid, 0)[1]
    # killed but not by us: PID 1 killed from outside (it is gone by now), or the program's
    # own SIGKILL / CPU limit (PID 1 still pausing)
    sigkill = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    lost = not killed and sigkill and bool(select.select([spare.pidfd], [], [], 0.2)[0])
    spare.kill()  # whatever the program left behind dies with its namespace
    chunks = []
    while chunk := os.read(ready_r, 4096):
        chunks.append(chunk)
    os.close(ready_r)
    error = b"".join(chunks).decode(errors="replace")
    try:
        sock.send(json.dumps({"status": status, "setup_error": error, "lost": lost}).encode())
    except (BrokenPipeError, ConnectionResetError):
        raise _CallerGone from None
    # after the reply: PID 1's exit tears the namespaces down, which waits for an RCU grace
    # period; the caller handles the result meanwhile (the next job waits in the socket)
    spare.reap()


def _serve() -> tuple[str, list[str], bool]:
    sock = socket.socket(fileno=int(sys.argv[2]))
    options = json.loads(sys.argv[3])
    _drop_bounding_set()
    _mount(None, "/", None, MS_REC | MS_PRIVATE)  # every program's mount namespace copies this
    fresh = dict(_NAMESPACES)
    if options["netns"] != "program":  # one for this slot's programs in turn (docs: Sandbox)
        _check(_LIBC.unshare(CLONE_NEWNET), "unshare the network namespace")
        del fresh[CLONE_NEWNET]
    for name in options["preload"]:  # stdlib modules programs import: once here, not per program
        __import__(name)
    home = [
        (os.open(f"/proc/self/ns/{name}", os.O_RDONLY | os.O_CLOEXEC), flag)
        for flag, name in fresh.items()
    ]
    enter_root(options["root"], options["skeleton"])  # every program's root copies this one
    gc.collect()
    gc.freeze()  # fewer copy-on-write faults in each forked program
    zygote, spare = os.getpid(), _Spare(sum(fresh))
    try:
        while (job := _serve_one(sock, home, spare)) is None:  # the program process leaves
            spare.start()
    except BaseException as exc:
        if os.getpid() != zygote:
            raise
        spare.kill()  # it cannot notice this process exit; the kernel kills its namespace
        if isinstance(exc, _CallerGone):
            raise SystemExit(0) from None
        raise
    return job["script"], job["argv"], bool(job["isolated"])


def _run(script: str, argv: list[str], isolated: bool) -> None:
    """Run `script` as `python <flags> script` would, in this interpreter (privileges dropped)."""
    main = types.ModuleType("__main__")
    path = os.path.join(os.getcwd(), script)
    main.__dict__.update(__file__=path, __builtins__=__builtins__, __cached__=None)
    sys.modules["__main__"] = main
    sys.argv[:] = argv[argv.index(script) :]
    if not isolated:
        sys.path[0] = os.path.dirname(os.path.realpath(path))
    depth = 0
    frame: types.FrameType | None = sys._getframe()
    while frame is not None:  # the frames above the program, which a fresh run does not have
        depth, frame = depth + 1, frame.f_back
    sys.setrecursionlimit(sys.getrecursionlimit() + depth + 2)  # + the two exec() calls
    try:
        with open(path, "rb") as fh:
            code = compile(fh.read(), path, "exec")
        exec(code, main.__dict__)
        status = 0
    except SystemExit as exc:
        status = _exit_status(exc)
    except BaseException as exc:
        tb = exc.__traceback__
        tb = tb.tb_next if tb is not None else None  # start at the program, not at this frame
        sys.excepthook(type(exc), exc.with_traceback(tb), tb)
        status = 1
    os._exit(_finalize(status))


def _exit_status(exc: SystemExit) -> int:
    """What the interpreter makes of an uncaught SystemExit."""
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code & 0xFF
    print(exc.code, file=sys.stderr)
    return 1


def _finalize(status: int) -> int:
    """The parts of interpreter shutdown a program can observe: threads, atexit, flushed output.

    Module teardown and the final garbage collection are skipped (about 10 ms a program)."""
    import atexit
    import threading

    shutdown = getattr(threading, "_shutdown", None)
    if shutdown is not None:
        shutdown()  # wait for non-daemon threads
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            status = 120 if status == 0 else status
    return status


if __name__ == "__main__":
    _run(*_serve())
