"""Hostile programs must fail (or be contained) without harming the host or the run.

Every test runs twice: through the pre-forked interpreter (the default fast path for Python
steps) and through the multi-process path (`WAVECODER_SANDBOX_FORKSERVER=0`)."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from pathlib import Path

import pytest

from wavecoder.evals import sandbox
from wavecoder.evals.runners import run_program
from wavecoder.evals.sandbox import Job, Limits, Step

pytestmark = pytest.mark.usefixtures("sandbox_ok", "sandbox_path")


def py(code: str, timeout_s: float = 5.0) -> sandbox.JobResult:
    job = __import__("wavecoder.evals.runners", fromlist=["build_job"]).build_job(
        "python", code, timeout_s=timeout_s
    )
    return sandbox.run(job)


def test_runs_as_unprivileged_uid_in_own_pid_namespace() -> None:
    r = py(
        "import os\n"
        "print(os.getuid(), os.getpid(), sorted(p for p in os.listdir('/proc') if p.isdigit()))"
    )
    assert r.ok, r.last.stderr
    uid, pid, pids = r.last.stdout.split(maxsplit=2)
    assert int(uid) >= sandbox.UID_BASE
    visible = eval(pids)
    assert len(visible) <= 3 and pid in visible  # a fresh PID namespace: the job's processes only
    assert int(pid) < 100


def test_fork_bomb_is_contained() -> None:
    start = time.monotonic()
    r = py(
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
        timeout_s=3,
    )
    assert r.last.status == "timeout"
    assert time.monotonic() - start < 10
    assert py("print('still fine')").ok  # the host can still start processes


def test_memory_bomb_fails() -> None:
    r = py("x = bytearray(8 * 1024 ** 3)\nprint('allocated')")
    assert not r.ok and "allocated" not in r.last.stdout
    assert "MemoryError" in r.last.stderr


def test_endless_output_is_capped() -> None:
    r = py("while True:\n    print('x' * 1000)", timeout_s=5)
    assert r.last.status in ("output_limit", "timeout")
    assert len(r.last.stdout) <= Limits().output_bytes


def test_sleep_times_out_and_kills_the_tree() -> None:
    start = time.monotonic()
    r = py("import time\ntime.sleep(60)", timeout_s=1)
    assert r.last.status == "timeout" and time.monotonic() - start < 5


def test_closing_output_then_sleeping_still_times_out() -> None:
    start = time.monotonic()
    r = py("import os, time\nos.close(1)\nos.close(2)\ntime.sleep(60)", timeout_s=1)
    assert r.last.status == "timeout" and time.monotonic() - start < 5


def test_stdin_is_closed() -> None:
    r = py("x = input()\nprint('read', repr(x))")
    assert not r.ok and "EOFError" in r.last.stderr


def test_cannot_write_or_delete_outside_its_directory(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    os.chmod(tmp_path, 0o777)  # even a world-writable host directory must be out of reach
    code = (
        "import os, shutil\n"
        f"for f in [{str(victim)!r}, '/etc/passwd', '/root/x']:\n"
        "    try:\n        os.remove(f)\n        print('removed', f)\n"
        "    except OSError as e:\n        print('no', e.errno)\n"
        f"for d in [{str(tmp_path)!r}, '/var/tmp', '/dev/shm', '/usr']:\n"
        "    try:\n        open(os.path.join(d, 'evil'), 'w').write('x')\n"
        "        print('wrote', d)\n"
        "    except OSError as e:\n        print('no', e.errno)\n"
        "open('inside.txt', 'w').write('ok')\n"
    )
    r = py(code)
    assert r.ok, r.last.stderr
    assert "removed" not in r.last.stdout
    assert victim.read_text() == "keep"
    for d in (tmp_path, Path("/var/tmp"), Path("/dev/shm"), Path("/usr")):
        assert not (d / "evil").exists()


def test_no_network_even_to_loopback_listener() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    accepted: list[object] = []

    def accept() -> None:
        server.settimeout(6)
        with contextlib.suppress(OSError):
            accepted.append(server.accept())

    thread = threading.Thread(target=accept)
    thread.start()
    r = py(
        f"import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
        "print('connected')"
    )
    thread.join()
    server.close()
    assert not r.ok and "connected" not in r.last.stdout
    assert not accepted


def test_environment_is_scrubbed_and_parent_proc_unreadable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-should-not-leak")
    code = (
        "import os\nprint(sorted(os.environ))\n"
        "print('SECRET' if 'sk-secret' in repr(dict(os.environ)) else 'clean')\n"
        f"try:\n    print(open('/proc/{os.getpid()}/environ', 'rb').read())\n"
        "except OSError as e:\n    print('no proc', e.errno)\n"
    )
    r = py(code)
    assert r.ok, r.last.stderr
    assert "sk-secret" not in r.last.stdout and "clean" in r.last.stdout
    assert "OPENAI_API_KEY" not in r.last.stdout


def test_cannot_signal_the_parent() -> None:
    r = py(f"import os, signal\nos.kill({os.getpid()}, signal.SIGKILL)\nprint('sent')")
    assert not r.ok and "sent" not in r.last.stdout  # the host pid is not even visible


def test_double_forked_daemon_does_not_outlive_the_job(tmp_path: Path) -> None:
    marker = f"wavecoder-daemon-{os.getpid()}-{time.monotonic_ns()}"
    code = (
        "import os, time, sys\n"
        "if os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
        f"        sys.argv[0] = {marker!r}\n        time.sleep(120)\n    os._exit(0)\n"
        "print(os.getuid())\n"
    )
    r = py(code, timeout_s=3)
    assert r.ok, r.last.stderr
    uid = int(r.last.stdout)
    time.sleep(0.5)
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            owner = os.stat(f"/proc/{pid}").st_uid
        except OSError:
            continue
        assert marker.encode() not in cmdline
        assert owner != uid, f"pid {pid} of the job's uid {uid} survived"


def test_weak_mode_runs_without_namespaces() -> None:
    job = Job(
        files={"a.py": "print('hi')"}, steps=(Step(("python3", "a.py"), Limits(timeout_s=5)),)
    )
    r = sandbox.run(job, mode="weak")
    assert r.ok and r.last.stdout.strip() == "hi"


def test_job_file_cannot_escape() -> None:
    with pytest.raises(ValueError, match="escapes"):
        sandbox.run(Job(files={"../x.py": ""}, steps=()))


def test_javascript_stderr_means_fail() -> None:
    from tests.unit.evals.conftest import require_language

    require_language("javascript")
    assert run_program("javascript", "console.assert(1 === 1)\n").status == "pass"
    assert run_program("javascript", "console.assert(1 === 2)\n").status == "fail"
