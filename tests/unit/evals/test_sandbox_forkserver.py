"""The pre-forked interpreter: every drop applied, fresh namespaces per program, Python semantics
of a fresh `python script.py`, and the fall back to the multi-process path when it cannot start."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import re
import resource
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from wavecoder.evals import forkserver, sandbox
from wavecoder.evals.runners import build_job
from wavecoder.evals.sandbox import Job, Limits, Step

PROBE = r"""
import json, os, resource, socket
status = dict(line.split(":\t", 1) for line in open("/proc/self/status").read().splitlines())
limits = {n: resource.getrlimit(getattr(resource, "RLIMIT_" + n.upper()))
          for n in ("cpu", "as", "nproc", "fsize", "nofile", "core")}
print(json.dumps({
    "ids": [os.getresuid(), os.getresgid(), os.getgroups()],
    "caps": {k: status[k].strip() for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")},
    "no_new_privs": status["NoNewPrivs"].strip(),
    "ns": {n: os.readlink(f"/proc/self/ns/{n}") for n in ("mnt", "pid", "net", "ipc", "uts")},
    "pids": sorted(p for p in os.listdir("/proc") if p.isdigit()),
    "pid": os.getpid(),
    "limits": limits,
    "cwd": os.getcwd(),
    "env": sorted(os.environ),
    "hostname": socket.gethostname(),
}))
"""


@pytest.fixture(autouse=True)
def _fast_path(sandbox_ok: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(forkserver.ENV_SWITCH, "1")
    monkeypatch.setattr(forkserver._POOL, "failures", {})


def run_py(code: str, *, timeout_s: float = 5.0, fast: bool = True) -> sandbox.StepResult:
    os.environ[forkserver.ENV_SWITCH] = "1" if fast else "0"
    result = sandbox.run(build_job("python", code, timeout_s=timeout_s))
    if fast:
        assert not forkserver._POOL.failures, forkserver._POOL.failures
    return result.last


def probe() -> dict[str, object]:
    r = run_py(PROBE)
    assert r.status == "ok", r.stderr
    out: dict[str, object] = json.loads(r.stdout)
    return out


def test_python_command_recognises_only_plain_script_runs() -> None:
    cmd = forkserver.python_command(("/x/bin/python3.11", "-s", "main.py", "a"))
    assert cmd == forkserver.PythonCommand("/x/bin/python3.11", ("-s",), "main.py", ("a",))
    for argv in (
        ("/x/bin/python3", "-c", "print(1)"),
        ("/x/bin/python3", "-m", "pytest"),
        ("/x/bin/python3", "-s", "/etc/x.py"),
        ("/x/bin/python3", "-X", "dev", "main.py"),
        ("node", "main.js"),
        ("./main",),
        (),
    ):
        assert forkserver.python_command(argv) is None, argv


def test_every_drop_is_applied() -> None:
    got = probe()
    uid = got["ids"][0][0]  # type: ignore[index]
    assert uid >= sandbox.UID_BASE
    assert got["ids"] == [[uid] * 3, [uid] * 3, []]
    assert set(got["caps"].values()) == {"0000000000000000"}  # type: ignore[attr-defined]
    assert got["no_new_privs"] == "1"
    assert got["pid"] == 2 and got["pids"] == ["1", "2"]  # its own PID namespace, root init
    assert got["cwd"] == "/tmp"
    want = sandbox.rlimit_values(Limits(timeout_s=5.0, memory_mb=2048))
    assert got["limits"] == {k: [v, v] for k, v in want.items()}
    assert "OPENAI_API_KEY" not in got["env"]  # type: ignore[operator]


def test_each_program_gets_fresh_namespaces_none_shared_with_the_host() -> None:
    got = probe()
    for name in ("mnt", "pid", "net", "ipc", "uts"):
        assert got["ns"][name] != os.readlink(f"/proc/self/ns/{name}"), name  # type: ignore[index]
    # nothing a program leaves in /dev/shm or SysV IPC reaches the next one; /var/tmp is
    # read-only (the root is)
    leave = (
        "import ctypes\nopen('/dev/shm/left', 'w')\n"
        "assert ctypes.CDLL(None).shmget(4242, 4096, 0o1600) >= 0\n"
        "try:\n    open('/var/tmp/left', 'w')\nexcept OSError as e:\n    assert e.errno == 30\n"
    )
    find = (
        "import ctypes, os\nprint(os.path.exists('/var/tmp/left'), "
        "os.path.exists('/dev/shm/left'), ctypes.CDLL(None).shmget(4242, 0, 0))\n"
    )
    assert run_py(leave).status == "ok"
    assert run_py(find).stdout.split() == ["False", "False", "-1"]


def test_python_semantics_match_a_fresh_interpreter() -> None:
    cases = {
        "import sys\nprint(sys.argv, __name__, __file__)": None,
        "import sys\nsys.exit(3)": None,
        "raise SystemExit('bye')": None,
        "def f():\n    raise KeyError('k')\nf()": None,
        "import atexit\natexit.register(lambda: print('atexit ran'))\nprint('x', end='')": None,
        "import threading, time\n"
        "threading.Thread(target=lambda: (time.sleep(0.2), print('thread'))).start()": None,
        "import pickle\nclass A: pass\nprint(type(pickle.loads(pickle.dumps(A()))).__name__)": None,
        "import sys\nprint(sys.path[0], 'numpy' in sys.modules)": None,
        "x = (": None,
        "import os\nos._exit(7)": None,
        "def f(n):\n    return 0 if n == 0 else 1 + f(n - 1)\nprint(f(998))": None,
        "def f(n):\n    return 0 if n == 0 else 1 + f(n - 1)\nprint(f(999))": None,
    }
    for code in cases:
        fast, slow = run_py(code), run_py(code, fast=False)
        assert (fast.status, fast.returncode, fast.stdout) == (
            slow.status,
            slow.returncode,
            slow.stdout,
        ), code
        assert fast.stderr == slow.stderr, code  # tracebacks start at the program, as usual


def test_rlimits_bind_in_the_forked_program() -> None:
    r = run_py("x = bytearray(4 * 1024 ** 3)")
    assert r.status == "failed" and "MemoryError" in r.stderr
    r = run_py("while True:\n    pass", timeout_s=1.0)  # CPU limit or deadline, never a hang
    assert r.status in ("timeout", "failed")


def test_falls_back_to_the_multiprocess_path_when_no_zygote_starts(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    forkserver._POOL.close_all()
    monkeypatch.setattr(forkserver, "_BOOT", "raise SystemExit('no zygote here')")
    with caplog.at_level(logging.WARNING, logger="wavecoder.evals.forkserver"):
        r = sandbox.run(build_job("python", "print('via the old path')", timeout_s=5))
    assert r.ok and r.last.stdout.strip() == "via the old path"
    (reason,) = forkserver._POOL.failures.values()
    assert "no zygote here" in reason
    assert "multi-process path" in caplog.text and "no zygote here" in caplog.text


def _children(pid: int) -> list[int]:
    kids = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            kids.append(int(entry))
    return kids


def test_survives_a_killed_spare_and_a_killed_zygote(caplog: pytest.LogCaptureFixture) -> None:
    assert run_py("print(1)").stdout == "1\n"
    (zygote,) = [z for k, z in forkserver._POOL._zygotes.items() if k[1] != "exec"]
    deadline = time.monotonic() + 5
    while not (spares := _children(zygote.proc.pid)) and time.monotonic() < deadline:
        time.sleep(0.01)  # it is forked right after the previous job's report
    assert len(spares) == 1  # PID 1 of the next program's namespaces, already forked
    os.kill(spares[0], signal.SIGKILL)
    assert run_py("print(2)").stdout == "2\n"  # a fresh spare takes the job
    os.kill(zygote.proc.pid, signal.SIGKILL)
    zygote.proc.wait()
    with caplog.at_level(logging.WARNING, logger="wavecoder.evals.forkserver"):
        assert run_py("print(3)").stdout == "3\n"  # rerun on the multi-process path
    assert "zygote lost" in caplog.text
    assert not _group(zygote.proc.pid)  # its spare PID 1 (which outlives it) was killed too
    assert run_py("print(4)").stdout == "4\n"  # and a new zygote after that
    assert not forkserver._POOL.failures


def _group(pgid: int) -> list[int]:
    members = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                members.append(int(entry))
    return members


CALLER_DIES_WITH_A_REPLY_UNREAD = """
import os, select, sys
from wavecoder.evals import forkserver, sandbox
from wavecoder.evals.runners import build_job

def wait_then_die(self, timeout_s):
    select.select([self.sock], [], [], 60)  # the report is there; leave it unread
    print(self.proc.pid, flush=True)
    os._exit(0)

forkserver.Zygote._wait = wait_then_die
sandbox.run(build_job("python", "print(1)"))
"""


def test_a_caller_that_dies_leaves_no_process_behind() -> None:
    # the zygote then reads ECONNRESET, not EOF: it used to die of it, leaving PID 1 paused
    proc = subprocess.run(
        [sys.executable, "-c", CALLER_DIES_WITH_A_REPLY_UNREAD],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, forkserver.ENV_SWITCH: "1"},
    )
    zygote = int(proc.stdout)
    deadline = time.monotonic() + 30  # generous: 10 s failed 2 in ~20 runs on a loaded 2-core VM
    while _group(zygote) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _group(zygote)


def _pid1_of(zygote: forkserver.Zygote) -> int:
    """The host pid of the namespace's PID 1 among the zygote's children."""
    for pid in _children(zygote.proc.pid):
        with contextlib.suppress(OSError):
            status = Path(f"/proc/{pid}/status").read_text()
            if re.search(r"^NSpid:\s+\d+\s+1$", status, re.M):
                return pid
    raise AssertionError("no PID 1 among the zygote's children")


def test_pid1_killed_from_outside_mid_run_reruns_the_step(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert run_py("print(0)").stdout == "0\n"
    (zygote,) = [z for k, z in forkserver._POOL._zygotes.items() if k[1] != "exec"]

    def kill_pid1() -> None:
        time.sleep(0.5)  # the program below is sleeping by now
        os.kill(_pid1_of(zygote), signal.SIGKILL)

    killer = threading.Thread(target=kill_pid1)
    killer.start()
    with caplog.at_level(logging.WARNING, logger="wavecoder.evals.forkserver"):
        r = run_py("import time\ntime.sleep(2)\nprint('done')")
    killer.join()
    assert r.status == "ok" and r.stdout == "done\n"  # the rerun's verdict, not a kill's
    assert "PID 1 killed from outside" in caplog.text


def test_a_program_killing_itself_is_its_own_verdict(caplog: pytest.LogCaptureFixture) -> None:
    code = "import os, signal\nprint('x', flush=True)\nos.kill(os.getpid(), signal.SIGKILL)"
    with caplog.at_level(logging.WARNING, logger="wavecoder.evals.forkserver"):
        fast = run_py(code)
    slow = run_py(code, fast=False)
    assert (fast.status, fast.returncode, fast.stdout) == ("failed", -9, "x\n")
    assert (slow.status, slow.stdout) == ("failed", "x\n")  # 137 there: a shell reports it
    assert not caplog.text  # not mistaken for a PID 1 killed from outside


def test_pid1_reaps_orphans_so_they_do_not_count_against_nproc() -> None:
    orphans = (
        "import os\n"
        "failed = 0\n"
        "for _ in range(60):\n"
        "    pid = os.fork()\n"
        "    if pid == 0:\n"
        "        try:\n"
        "            if os.fork() == 0:\n"
        "                os._exit(0)  # orphaned to PID 1 when its parent exits\n"
        "        except OSError:\n"
        "            os._exit(1)\n"
        "        os._exit(0)\n"
        "    failed += os.waitpid(pid, 0)[1] != 0\n"
        "print('failed forks:', failed)\n"
    )
    job = build_job("python", orphans, timeout_s=10)
    (step,) = job.steps
    small = dataclasses.replace(step, limits=dataclasses.replace(step.limits, nproc=16))
    r = sandbox.run(dataclasses.replace(job, steps=(small,))).last
    assert (r.status, r.stdout) == ("ok", "failed forks: 0\n"), r.stderr


def test_each_program_reseeds_random() -> None:
    code = "import random\nprint(random.getrandbits(64))"
    assert len({run_py(code).stdout for _ in range(3)}) == 3


@pytest.mark.parametrize("mode", forkserver.NETNS_MODES)
def test_network_namespace_per_slot_or_per_program(
    mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(forkserver.ENV_NETNS, mode)
    code = (
        "import os, socket\n"
        "print(os.readlink('/proc/self/ns/net'))\n"
        "print(sorted(l.split(':')[0].strip() for l in open('/proc/net/dev').readlines()[2:]))\n"
        "try:\n"
        "    socket.create_connection(('127.0.0.1', 9), timeout=1)\n"
        "except OSError as exc:\n"
        "    print(type(exc).__name__)\n"
    )
    try:
        first, second = (run_py(code).stdout.splitlines() for _ in range(2))
    finally:
        forkserver._POOL.close_all()  # the other tests expect one Python zygote
    host = os.readlink("/proc/self/ns/net")
    assert host not in (first[0], second[0])
    assert first[1:] == second[1:] == ["['lo']", "OSError"]  # lo only, and it is down
    assert (first[0] == second[0]) == (mode == "slot")


def test_a_bind_that_cannot_mount_fails_the_step_and_spares_the_fast_path() -> None:
    job = build_job("python", "print(1)")
    bad = Job(files=job.files, steps=job.steps, binds=(*job.binds, ("/nonexistent/x", "x")))
    r = sandbox.run(bad)  # the zygote for these binds cannot start: the old path reports it
    assert r.last.status == "error" and "/nonexistent/x" in r.last.stderr
    assert len(forkserver._POOL.failures) == 1
    forkserver._POOL.failures.clear()
    assert run_py("print(2)").stdout.strip() == "2"  # other jobs still take the fast path


def test_a_program_setup_error_is_a_clear_error_not_a_failed_program(tmp_path: Path) -> None:
    job = build_job("python", "print(1)")
    missing = str(tmp_path / "gone")
    bad = Job(files=job.files, steps=job.steps, binds=job.binds, overlays=((missing, "o"),))
    r = sandbox.run(bad).last  # a sandbox error on either path, never a program's failure
    assert r.status == "error" and "sandbox setup failed" in r.stderr, r
    forkserver._POOL.failures.clear()


def test_other_programs_are_one_exec_with_the_same_drops() -> None:
    show = "cat /proc/self/status; id -u; id -G; ls /proc; cat /proc/self/limits"
    step = Step(("sh", "-c", show), Limits(timeout_s=5, nproc=77))
    fast = sandbox.run(Job(files={}, steps=(step,))).last
    assert not forkserver._POOL.failures, forkserver._POOL.failures
    assert fast.status == "ok", fast.stderr
    for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert f"{cap}:\t0000000000000000" in fast.stdout
    assert "NoNewPrivs:\t1" in fast.stdout and "Max processes             77" in fast.stdout
    os.environ[forkserver.ENV_SWITCH] = "0"
    slow = sandbox.run(Job(files={}, steps=(step,))).last
    assert fast.stdout.split("\n1\n", 1)[0].count("\n") > 10
    # same uid, groups, /proc view and limits as the multi-process path
    assert fast.stdout.splitlines()[-25:] == slow.stdout.splitlines()[-25:]


def test_exec_failures_and_signals_read_like_the_multiprocess_path() -> None:
    cases = {  # a tool that cannot be executed is the sandbox's error, not the program's
        ("no-such-tool-xyz",): "error",
        ("sh", "-c", "kill -SEGV $$"): "failed",
        ("sh", "-c", "exit 5"): "failed",
    }
    for argv, expected in cases.items():
        step = Step(argv, Limits(timeout_s=5))
        fast = sandbox.run(Job(files={}, steps=(step,))).last
        assert not forkserver._POOL.failures
        os.environ[forkserver.ENV_SWITCH] = "0"
        slow = sandbox.run(Job(files={}, steps=(step,))).last
        os.environ[forkserver.ENV_SWITCH] = "1"
        assert fast.status == slow.status == expected, (argv, fast, slow)
        assert fast.returncode and slow.returncode, argv
    assert "cannot execute no-such-tool-xyz" in run_exec(("no-such-tool-xyz",)).stderr
    assert run_exec(("sh", "-c", "kill -SEGV $$")).returncode == -11  # not PID 1: signals work
    assert run_exec(("sh", "-c", "exit 5")).returncode == 5


def run_exec(argv: tuple[str, ...]) -> sandbox.StepResult:
    return sandbox.run(Job(files={}, steps=(Step(argv, Limits(timeout_s=5)),))).last


def test_host_rlimits_are_untouched() -> None:
    before = resource.getrlimit(resource.RLIMIT_NPROC)
    probe()
    assert resource.getrlimit(resource.RLIMIT_NPROC) == before


def test_a_kill_that_crosses_the_exit_does_not_confuse_the_next_job(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert run_py("print(0)").stdout == "0\n"
    (zygote,) = [z for k, z in forkserver._POOL._zygotes.items() if k[1] != "exec"]
    with caplog.at_level(logging.WARNING, logger="wavecoder.evals.forkserver"):
        zygote.sock.send(b"kill")  # as when the deadline passes just as the program exits
        assert run_py("print(1)").stdout == "1\n"
    assert not caplog.text and not forkserver._POOL.failures
