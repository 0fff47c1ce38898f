"""What a Ray worker does for a run: prove it sees the run directory, then run one part of a stage
through the pipeline's own code path (`wavecoder.pipeline.run_stage`, with a `Shard` or without).

The run directory must be one filesystem every node mounts at the same path. A worker that cannot
see it must fail, not write a silent empty shard into a local folder of the same name, so the
driver writes a token file into the run directory when it connects (`write_token`) and every
part first checks that it reads that same token (`check_visible`): a node without the mount sees
no file, a node with a local folder of that name sees another token (or none).

Errors: `RunDirNotVisible` (exit 2, never retried: the node will not see it on a second try);
`TransientWorkerError` wraps the I/O errors that may pass (a stale NFS handle, EIO, a timeout) so
Ray retries the part; any other exception is the stage's own and is not retried. Plain Python:
`wavecoder.ray_executor` turns these functions into Ray tasks and actors.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from wavecoder.executors import CPUS_ENV
from wavecoder.pipeline import PipelineError, Stats, run_stage, stage_spec
from wavecoder.store import Shard, StageDir, write_json_atomic

TOKEN_FILE = ".wavecoder-executor.json"
TRANSIENT_ERRNOS = frozenset(
    {errno.ESTALE, errno.EIO, errno.EAGAIN, errno.ETIMEDOUT, errno.ECONNRESET, errno.EBUSY}
)
T = TypeVar("T")
U = TypeVar("U")


class RunDirNotVisible(PipelineError):
    """A worker's node does not see the run directory the driver writes to."""

    exit_code = 2


class TransientWorkerError(RuntimeError):
    """An I/O error that may pass on a second try; Ray retries the part."""


@dataclass(frozen=True)
class RunToken:
    """What a worker checks the run directory against; `cwd`: the driver's working directory,
    so relative paths in the config (ingest sources) mean the same on every node."""

    run_dir: str
    value: str
    cwd: str


@dataclass(frozen=True)
class Part:
    """One unit of a stage for one worker: the whole stage (shard None) or one shard of it."""

    stage: str
    section: Any
    out: str
    shard: Shard | None
    inputs: dict[str, str]
    seed: int
    extra: dict[str, Any] | None
    cpus: int = 1  # the task's CPU share: what the stage may keep busy (`cpu_slots`)

    @property
    def where(self) -> str:
        return f"{self.stage} shard {self.shard}" if self.shard else self.stage


def write_token(run_dir: Path) -> RunToken:
    """Write a fresh token into `run_dir` (on the driver, before anything is submitted)."""
    token = RunToken(str(run_dir.resolve()), uuid.uuid4().hex, os.getcwd())
    write_json_atomic(
        run_dir / TOKEN_FILE,
        {
            "token": token.value,
            "driver": socket.gethostname(),
            "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
        },
    )
    return token


def node_name() -> str:
    """This worker's node, as an operator finds it: host name and the Ray node's address."""
    host = socket.gethostname()
    try:
        import ray

        return f"{host} ({ray.util.get_node_ip_address()})"
    except Exception:  # outside Ray (tests of this module): the host name is enough
        return host


def check_visible(token: RunToken) -> None:
    """Raise RunDirNotVisible unless this node reads the driver's token in the run directory."""
    path = Path(token.run_dir) / TOKEN_FILE
    hint = (
        "every node must mount the run directory at the same path (NFS, Lustre, a cloud "
        "filesystem); see docs/ray.md"
    )
    try:
        seen = json.loads(path.read_text(encoding="utf-8")).get("token")
    except FileNotFoundError:
        raise RunDirNotVisible(
            f"node {node_name()} cannot see the run directory {token.run_dir} (no {TOKEN_FILE} "
            f"there): {hint}"
        ) from None
    except (OSError, ValueError) as exc:
        raise RunDirNotVisible(f"node {node_name()} cannot read {path}: {exc}; {hint}") from None
    if seen != token.value:
        raise RunDirNotVisible(
            f"node {node_name()} sees another {token.run_dir} than the driver (its "
            f"{TOKEN_FILE} holds another run's token): {hint}"
        )


def run_part(token: RunToken, part: Part) -> Stats | None:
    """Run `part` here, exactly as `wavecoder run` (or `--shard i/n`) would on the driver."""
    check_visible(token)
    if os.path.isdir(token.cwd):
        os.chdir(token.cwd)
    os.environ[CPUS_ENV] = str(part.cpus)
    spec = stage_spec(part.stage)
    out = StageDir(Path(part.out), shard=part.shard)
    inputs = {name: StageDir(Path(path)) for name, path in part.inputs.items()}
    try:
        return run_stage(
            spec, part.section, out, inputs=inputs, seed=part.seed, quiet=True, extra=part.extra
        )
    except OSError as exc:
        if exc.errno in TRANSIENT_ERRNOS:
            raise TransientWorkerError(f"{part.where} on {node_name()}: {exc}") from exc
        raise


class StageWorker:
    """A long-lived worker (a Ray actor) for stages that load a model: it keeps each model it
    loads, so one actor per GPU embeds shard after shard with one model load."""

    def __init__(self) -> None:
        from wavecoder.corpus.embedders import keep_models_loaded

        keep_models_loaded()

    def run(self, token: RunToken, part: Part) -> Stats | None:
        return run_part(token, part)


def call(fn: Callable[[T], U], item: T) -> U:
    """One item of `Executor.map`."""
    return fn(item)
