"""The minimal root a sandboxed program sees, and the job folder it may write.

`plan(binds, overlays)` lists what the root holds, as (kind, source, target) entries both sandbox
paths apply the same way: the system's program and library trees (`/usr` and its `/bin`, `/lib*`
links), a few loader and JVM files of `/etc`, five device nodes, a job's toolchain binds under
`MOUNT_ROOT`, and empty mount points (`/tmp` for the job folder, `/proc`, `/dev/pts`, `/dev/shm`).
Everything is read-only; nothing else of the host exists in it: no /home, /root, /run, /sys,
/work, no checkout, no benchmark file, no host socket path. `skeleton(plan)` is a directory made
once per plan (root-owned, on the host) holding that tree's directories, links, copied /etc files
and mount points, so a root is one bind of it plus the plan's mounts.

`JobDir` is the job folder: a tmpfs capped in size and inodes (namespaces mode), removed with one
unmount whatever a program left in it (by `CLEANER`, off the program's critical path); in weak
mode a plain directory, removed without recursion (`remove_tree`: `shutil.rmtree` raises
RecursionError on a few thousand nested folders)."""

from __future__ import annotations

import atexit
import contextlib
import functools
import glob
import logging
import os
import queue
import shutil
import tempfile
import threading
from pathlib import Path

from wavecoder.evals import _zygote as kernel

log = logging.getLogger(__name__)
MOUNT_ROOT = "/var/tmp/.wc"  # read-only binds of toolchains live here inside the sandbox
SYSTEM_TREES = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# what the dynamic loader, `alternatives` links and the JVM read; copied into the skeleton
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "localtime")
ETC_GLOBS = ("java-*",)
DEV_NODES = ("null", "zero", "full", "random", "urandom")
DEV_LINKS = {
    "fd": "/proc/self/fd",
    "stdin": "/proc/self/fd/0",
    "stdout": "/proc/self/fd/1",
    "stderr": "/proc/self/fd/2",
    "ptmx": "pts/ptmx",
}
MOUNT_POINTS = ("/tmp", "/proc", "/dev/pts", "/dev/shm")
OVERLAY_UPPER = f"{MOUNT_ROOT}/.ovl"  # a fresh tmpfs per program holds the overlays' upper dirs
# Per-program mounts both paths make (mount options of the kernel's tmpfs/devpts).
SHM_OPTS = "size=64m,mode=1777"
DEVPTS_OPTS = "newinstance,ptmxmode=0666,mode=0620,max=16"
OVERLAY_TMPFS_OPTS = "size=512m,mode=0755"

Plan = tuple[tuple[str, str, str], ...]


def under_system_tree(path: Path) -> bool:
    """Whether `path` is inside the root anyway (no bind needed)."""
    return any(path == Path(t) or Path(t) in path.parents for t in SYSTEM_TREES)


@functools.cache
def plan(binds: tuple[tuple[str, str], ...], overlays: tuple[tuple[str, str], ...]) -> Plan:
    """(kind, source, target): `tree` read-only bind of a directory, `dev` bind of a device
    node, `lower` read-only bind of an overlay's lower directory (its overlay is per program)."""
    entries: list[tuple[str, str, str]] = []
    for tree in SYSTEM_TREES:
        if os.path.isdir(tree) and not os.path.islink(tree):
            entries.append(("tree", tree, tree))
    entries += [("dev", f"/dev/{n}", f"/dev/{n}") for n in DEV_NODES if os.path.exists(f"/dev/{n}")]
    entries += [("tree", src, f"{MOUNT_ROOT}/{name}") for src, name in binds]
    entries += [("lower", src, f"{MOUNT_ROOT}/.lower/{name}") for src, name in overlays]
    return tuple(entries)


_SKELETONS: dict[Plan, Path] = {}
_SKEL_LOCK = threading.Lock()


def skeleton(entries: Plan, overlays: tuple[tuple[str, str], ...] = ()) -> Path:
    """A host directory with the root's directories, links, /etc copies and mount points."""
    key = entries + tuple(("overlay", "", name) for _, name in overlays)
    with _SKEL_LOCK:
        if key not in _SKELETONS:
            _SKELETONS[key] = _make_skeleton(entries, overlays)
        return _SKELETONS[key]


def _make_skeleton(entries: Plan, overlays: tuple[tuple[str, str], ...]) -> Path:
    top = Path(tempfile.mkdtemp(prefix="wavecoder-root-"))
    atexit.register(shutil.rmtree, top, True)
    os.chmod(top, 0o755)
    for tree in SYSTEM_TREES:
        if os.path.islink(tree):
            os.symlink(os.readlink(tree), top / tree.lstrip("/"))
    etc = top / "etc"
    etc.mkdir()
    names = list(ETC_FILES) + [Path(p).name for g in ETC_GLOBS for p in glob.glob(f"/etc/{g}")]
    for name in names:
        src = Path("/etc") / name
        if src.is_dir() and not src.is_symlink():
            shutil.copytree(src, etc / name, symlinks=True)
        elif src.is_symlink() or src.exists():
            shutil.copy2(src, etc / name, follow_symlinks=False)
    for kind, _, target in entries:
        path = top / target.lstrip("/")
        if kind == "dev":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
        else:
            path.mkdir(parents=True, exist_ok=True)
    for point in MOUNT_POINTS:
        (top / point.lstrip("/")).mkdir(parents=True, exist_ok=True)
    for name, target in DEV_LINKS.items():
        os.symlink(target, top / "dev" / name)
    for _, name in overlays:
        (top / MOUNT_ROOT.lstrip("/") / name).mkdir(parents=True, exist_ok=True)
    if overlays:
        (top / OVERLAY_UPPER.lstrip("/")).mkdir(parents=True, exist_ok=True)
    (top / "var" / "tmp").mkdir(parents=True, exist_ok=True)
    return top


class JobDir:
    """The job folder: a size- and inode-capped tmpfs owned by `uid`, or (weak) a plain dir."""

    def __init__(self, uid: int | None, disk_mb: int, inodes: int) -> None:
        _sweep_once()
        self.path = Path(tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-"))
        self.mounted = False
        if uid is None:
            os.chmod(self.path, 0o700)
            return
        opts = f"size={disk_mb}m,nr_inodes={inodes},mode=0700,uid={uid},gid={uid}"
        try:
            kernel._mount(
                "tmpfs", str(self.path), "tmpfs", kernel.MS_NOSUID | kernel.MS_NODEV, opts
            )
        except OSError:
            os.rmdir(self.path)
            raise
        self.mounted = True

    def close(self) -> None:
        """Remove it; never raises (a program must not be able to crash the scorer)."""
        try:
            if self.mounted:
                kernel._check(kernel._LIBC.umount2(str(self.path).encode(), 2), "umount")
                self.path.rmdir()
            else:
                remove_tree(self.path)
        except OSError as exc:
            log.warning("sandbox: could not remove job folder %s: %s", self.path, exc)


_PREFIX = "wavecoder-sbx-"
_SWEPT: list[bool] = []


def _sweep_once() -> None:
    """Unmount the job folders of scorers that died without cleaning up (SIGKILL), once per
    process: their names carry the creator's pid."""
    if _SWEPT:
        return
    _SWEPT.append(True)
    top = tempfile.gettempdir()
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return
    for line in lines:
        point = line.split()[4]
        name = os.path.basename(point)
        pid = name[len(_PREFIX) :].split("-", 1)[0]
        if os.path.dirname(point) != top or not name.startswith(_PREFIX) or not pid.isdigit():
            continue
        if int(pid) == os.getpid() or os.path.exists(f"/proc/{pid}"):
            continue
        with contextlib.suppress(OSError):
            kernel._check(kernel._LIBC.umount2(point.encode(), 2), "umount")
            os.rmdir(point)
            log.warning("sandbox: removed job folder %s left by a scorer that died", point)


class _Cleaner:
    """Removes job folders on a thread of its own: an unmount waits for an RCU grace period
    (milliseconds on a loaded machine), which the next program need not wait for. Bounded, so
    a backlog slows the run down instead of piling up; drained at exit."""

    def __init__(self) -> None:
        self._queue: queue.Queue[JobDir] = queue.Queue(maxsize=16)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def put(self, folder: JobDir) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="sandbox-cleaner")
                self._thread.daemon = True
                self._thread.start()
                atexit.register(self._queue.join)
        self._queue.put(folder)

    def _work(self) -> None:
        while True:
            folder = self._queue.get()
            folder.close()
            self._queue.task_done()

    def drain(self) -> None:
        self._queue.join()


CLEANER = _Cleaner()
_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def remove_tree(path: Path) -> None:
    """Delete a tree of any depth with one open directory at a time (no recursion, no long
    paths: a chain of 3,000 nested folders is far past PATH_MAX)."""
    names: list[str] = []  # from `path` down to the directory `fd` is open on
    fd = os.open(path, _DIR)
    try:
        while True:
            sub = _clear_files(fd)
            if sub is not None:
                with contextlib.suppress(OSError):  # a folder it made unreadable: open it
                    os.chmod(sub, 0o700, dir_fd=fd, follow_symlinks=False)
                child = os.open(sub, _DIR, dir_fd=fd)
                os.close(fd)
                fd, names = child, [*names, sub]
                continue
            if not names:
                break
            parent = os.open("..", _DIR, dir_fd=fd)
            os.close(fd)
            fd = parent
            os.rmdir(names.pop(), dir_fd=fd)
    finally:
        os.close(fd)
    os.rmdir(path)


def _clear_files(fd: int) -> str | None:
    """Unlink every non-directory in `fd`; return the name of one subdirectory, if any."""
    with os.scandir(fd) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                return entry.name
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.name, dir_fd=fd)
    return None
