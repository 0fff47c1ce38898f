"""The pre-started interpreter ("zygote") behind the sandbox's fast path: stdlib only.

`forkserver` runs this file as `python <flags> -c BOOT this-file fd`, as root, with a scrubbed
environment, in a private mount namespace that sees the toolchain binds; it holds nothing
secret. It keeps a spare PID 1, forked ahead of time into fresh mount, PID, network, IPC and UTS
namespaces (unshare, fork, setns back). A job (JSON and the stdout/stderr pipe ends, on the
socket `fd`) goes to that PID 1, which forks the program and reaps until it exits. The program
mounts a private /proc, fresh tmpfs over the world-writable places, the read-only binds and the
job directory on /tmp; sets the rlimits; drops to the slot's uid with no groups, no capabilities
(all five sets) and `no_new_privs`; then runs the script in this already-started interpreter
(`python` mode) or `execve`s the step's argv (`exec` mode). The zygote SIGKILLs PID 1 when asked
(the kernel then kills everything left in its PID namespace) and reports the program's wait
status. It never sees program text: the caller writes the files, the program reads them."""

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


def _mounts(job: dict[str, Any]) -> None:
    """Runs as root in the new mount namespace: the same plan as the multi-process path."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    for target in job["tmpfs"]:
        if os.path.isdir(target):
            _mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, "size=64m,mode=1777")
    root, uid = job["mount_root"], job["uid"]
    os.makedirs(root, exist_ok=True)
    for src, name in job["binds"]:
        dst = f"{root}/{name}"
        os.makedirs(dst, exist_ok=True)
        _mount(src, dst, None, MS_BIND)
        _mount(None, dst, None, MS_REMOUNT | MS_BIND | MS_RDONLY)
    for src, name in job["overlays"]:
        up, wk, dst = f"{root}/.up/{name}", f"{root}/.wk/{name}", f"{root}/{name}"
        for d in (up, wk, dst):
            os.makedirs(d, exist_ok=True)
        os.chown(up, uid, uid)
        _mount("overlay", dst, "overlay", 0, f"lowerdir={src},upperdir={up},workdir={wk}")
    _mount(job["workdir"], "/tmp", None, MS_BIND)
    os.chdir("/tmp")


def _drop(job: dict[str, Any]) -> None:
    """rlimits, then uid/gid/groups, every capability set, and no_new_privs."""
    for name, value in job["rlimits"].items():
        resource.setrlimit(_RLIMITS[name], (value, value))
    cap = 0
    while _LIBC.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0:
        cap += 1
    uid = job["uid"]
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)  # clears the permitted, effective and ambient sets
    header = struct.pack("Ii", _LINUX_CAPABILITY_VERSION_3, 0)
    _check(_LIBC.capset(header, bytes(24)), "capset")  # and the inheritable set
    _check(_LIBC.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")


def _program(job: dict[str, Any], ready_w: int) -> None:
    """In the new namespaces: fork the program under a root PID 1; mount, drop, then return.

    Errors go to `ready_w`; PID 1 writes the program's wait status there after a NUL and `S`.
    """
    try:
        os.closerange(3, ready_w)
        os.closerange(ready_w + 1, 1 << 16)
        pid = os.fork()  # PID 1 does nothing else (each page it touched would be copied)
        if pid != 0:
            _init(pid, ready_w)
        for sig in (signal.SIGTERM, signal.SIGCHLD, signal.SIGPIPE, signal.SIGXFSZ):
            signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, set())
        _mounts(job)
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


def _init(pid: int, ready_w: int) -> None:
    """PID 1 (root, like the multi-process path's shell): reap until the program exits.

    Its exit ends the namespace: the kernel kills whatever the program left behind."""
    status = 127 << 8
    while True:
        try:
            got, wait_status = os.waitpid(-1, 0)
        except ChildProcessError:
            break
        if got == pid:
            status = wait_status
            break
    os.write(ready_w, b"\0S%d" % status)
    os._exit(0)


_NAMESPACES = {
    CLONE_NEWNS: "mnt",
    CLONE_NEWPID: "pid",
    CLONE_NEWNET: "net",
    CLONE_NEWIPC: "ipc",
    CLONE_NEWUTS: "uts",
}


def _fork_in_new_namespaces(home: list[tuple[int, int]]) -> int:
    """fork() a child that is PID 1 of fresh namespaces; this process stays where it was."""
    _check(_LIBC.unshare(sum(_NAMESPACES)), "unshare")
    try:
        return os.fork()
    finally:
        if os.getpid() != 1:  # the parent: back to its own namespaces for the next job
            for fd, flag in home:
                _check(_LIBC.setns(fd, flag), "setns")


class _Spare:
    """PID 1 of fresh namespaces, forked ahead of time, waiting on `chan` for its job."""

    def __init__(self, home: list[tuple[int, int]], control: socket.socket) -> None:
        self.chan, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.ready_r, ready_w = os.pipe2(os.O_CLOEXEC)
        self.pid = _fork_in_new_namespaces(home)
        if self.pid == 0:  # PID 1: wait for the job, then set the program up
            os.close(control.detach())
            self.chan.close()
            msg, fds, _, _ = socket.recv_fds(theirs, 1 << 20, 2)
            if not msg:
                os._exit(0)
            self.job = json.loads(msg)
            os.dup2(fds[0], 1)
            os.dup2(fds[1], 2)
            os.close(theirs.detach())
            _program(self.job, ready_w)
            return
        theirs.close()
        os.close(ready_w)

    def start(self, msg: bytes, fds: list[int]) -> bool:
        try:
            socket.send_fds(self.chan, [msg], fds)
            return True
        except OSError:
            self.discard()
            return False
        finally:
            self.chan.close()

    def discard(self) -> None:
        self.chan.close()
        os.close(self.ready_r)
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)


def _serve_one(sock: socket.socket, home: list[tuple[int, int]], spare: _Spare) -> _Spare:
    """Hand one job to the spare PID 1, wait for it, report; return the next spare."""
    msg = b"kill"
    while msg == b"kill":  # a kill that crossed the previous program's exit is moot
        msg, fds, _, _ = socket.recv_fds(sock, 1 << 20, 2)
    if not msg:
        spare.discard()
        raise SystemExit(0)
    started = spare.start(msg, fds)
    if not started:  # it died while waiting: take a fresh one
        spare = _Spare(home, sock)
        if spare.pid == 0:
            return spare  # the program process
        started = spare.start(msg, fds)
    for fd in fds:
        os.close(fd)
    if not started:
        error = "sandbox setup failed: PID 1 of the new namespaces died before its job"
        sock.send(json.dumps({"status": 127 << 8, "setup_error": error}).encode())
        return _Spare(home, sock)
    _wait_job(sock, spare.pid, spare.ready_r)
    return _Spare(home, sock)  # forked now, while the caller is busy with its side


def _wait_job(sock: socket.socket, pid: int, ready_r: int) -> None:
    """Wait for the program's exit (or kill it when asked); report its wait status."""
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLIN)
    pidfd = os.pidfd_open(pid) if pid > 0 else os.open(os.devnull, os.O_RDONLY)
    poller.register(pidfd, select.POLLIN)
    killed = False
    try:
        while not any(fd == pidfd for fd, _ in poller.poll()):
            if not sock.recv(64):  # the caller went away: kill the job and leave
                os.kill(pid, signal.SIGKILL)
                raise SystemExit(0)
            os.kill(pid, signal.SIGKILL)  # "kill": PID 1 dies, the kernel kills the rest
            killed = True
    finally:
        os.close(pidfd)
    status = os.waitpid(pid, 0)[1] if pid > 0 else 127 << 8
    chunks = []
    while chunk := os.read(ready_r, 4096):
        chunks.append(chunk)
    os.close(ready_r)
    error, sep, program_status = b"".join(chunks).partition(b"\0S")
    if sep:
        status = int(program_status)  # else PID 1 was killed, or setup failed
    # PID 1 gone without a word, and not by our hand: the program's fate is unknown
    lost = not (sep or error or killed)
    report = {"status": status, "setup_error": error.decode(errors="replace"), "lost": lost}
    sock.send(json.dumps(report).encode())


def _serve() -> tuple[str, list[str], bool]:
    sock = socket.socket(fileno=int(sys.argv[2]))
    home = [
        (os.open(f"/proc/self/ns/{name}", os.O_RDONLY | os.O_CLOEXEC), flag)
        for flag, name in _NAMESPACES.items()
    ]
    gc.collect()
    gc.freeze()  # fewer copy-on-write faults in each forked program
    spare = _Spare(home, sock)
    while spare.pid != 0:
        spare = _serve_one(sock, home, spare)
    job = spare.job  # only the program process gets here
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
