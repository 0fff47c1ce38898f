"""Faults for the Ray executor's tests: a worker killed in the middle of a shard.

`install` is the test cluster's `worker_process_setup_hook`: in every Ray worker it wraps the
functions in `TARGETS` so that, when the test has armed one (`arm`), the first worker to call it
claims the arm, lets the call finish (the shard's files are half there: no done marker yet) and
then dies with `os._exit`, as a preempted node or an OOM kill would. A claimed arm is gone, so
Ray's retry of that shard runs normally. Only the tests use this; `src/` knows nothing of it.
"""

from __future__ import annotations

import functools
import importlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

FAULTS_ENV = "WAVECODER_TEST_FAULTS"
# embed: after a shard's chunks are saved and merged, before its done marker (resume from chunks)
# filter: after a shard's records are written, before its done marker (rerun from clean state)
TARGETS = ("wavecoder.corpus.embed:_merge", "wavecoder.corpus.filter:run")


def arm(folder: Path, target: str) -> Path:
    """Make the next call of `target` in any worker kill that worker; returns the file that
    says it happened (`<target>.killed`, holding the pid)."""
    (folder / f"{target}.arm").write_text("")
    return folder / f"{target}.killed"


def install() -> None:
    folder = os.environ.get(FAULTS_ENV)
    if not folder:
        return
    for target in TARGETS:
        modname, name = target.split(":")
        module = importlib.import_module(modname)
        setattr(module, name, _killing(getattr(module, name), Path(folder), target))


def _killing(fn: Callable[..., Any], folder: Path, target: str) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = fn(*args, **kwargs)
        try:
            (folder / f"{target}.arm").unlink()  # one worker wins the claim
        except FileNotFoundError:
            return result
        (folder / f"{target}.killed").write_text(str(os.getpid()))
        os._exit(1)

    return wrapper
