"""Where a run's stages execute: in this process (`local`, the default) or on a Ray cluster.

An executor offers two things to the runner and to stages:

    run_stage(spec, section, out, *, inputs, seed, force, quiet, extra) -> Stats | None
        the same contract as `wavecoder.pipeline.run_stage` (the local executor is that function);
        the Ray executor runs a shardable stage as Ray tasks over N shards of the existing shard
        code path, so each part is exactly what `--shard i/n` writes
    map(fn, items) -> list
        `list(map(fn, items))`, results in the order of `items`; `fn` must be a picklable
        top-level function. Under Ray each item is a Ray task (retried like a shard), so the work
        units of one round (LLM requests, programs to score) spread over the cluster.

`current()` is the executor of the run in progress (the local one outside a run). A stage that
hands out work units takes `map_fn` and `workers` keywords in its `run` (or `run_pair`); the
runner passes the current executor's `map` and `workers()` when that is not the local one
(`spread_kwargs`), so without an executor the stage runs in its process as before.

The run config chooses with two top-level keys, `executor: local|ray` and a `ray:` section
(`RayConfig`); `wavecoder run --executor ray --address ...` overrides them. Neither is part of any
stage's fingerprint: where a stage ran does not change what it wrote. Importing this module does
not import ray (`wavecoder.ray_executor` does, when a Ray executor is opened).
"""

from __future__ import annotations

import contextlib
import inspect
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

from wavecoder import config as cfgmod

if TYPE_CHECKING:
    from wavecoder.pipeline import StageSpec, Stats
    from wavecoder.store import StageDir

ExecutorName = Literal["local", "ray"]
EXECUTORS: tuple[ExecutorName, ...] = ("local", "ray")
T = TypeVar("T")
U = TypeVar("U")


@dataclass(frozen=True)
class RayConfig:
    """The `ray:` section of a run config (used only with `executor: ray`)."""

    # null: RAY_ADDRESS when set, else a Ray started on this machine for the run; "auto": the
    # cluster this machine is a node of; "ray://head:10001": Ray Client to a remote head
    address: str | None = None
    shards: int | None = None  # shards per shardable stage; null: the cluster's CPU slots
    cpus_per_task: float = 1.0  # CPUs each shard task (or actor) reserves
    gpus: dict[str, float] = field(default_factory=dict)  # GPUs per task/actor, by stage name
    max_retries: int = 3  # reruns of a shard whose worker died or hit a transient I/O error
    num_cpus: int | None = None  # a Ray started here: CPUs it may use (null: all)

    def __post_init__(self) -> None:
        if self.shards is not None and self.shards < 1:
            raise ValueError(f"shards must be at least 1, got {self.shards}")
        if self.cpus_per_task <= 0:
            raise ValueError(f"cpus_per_task must be positive, got {self.cpus_per_task}")
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be 0 or more, got {self.max_retries}")
        for stage, n in self.gpus.items():
            if n < 0:
                raise ValueError(f"gpus.{stage} must be 0 or more, got {n}")


def build_config(kind: Any, section: Any, stage_names: Sequence[str]) -> tuple[str, RayConfig]:
    """(`executor`, `ray`) of a run config's data, checked like any section."""
    kind = kind or "local"
    if kind not in EXECUTORS:
        raise cfgmod.ConfigError(f"executor: {kind!r} is not one of {', '.join(EXECUTORS)}")
    if section is not None and not isinstance(section, dict):
        raise cfgmod.ConfigError(f"ray: expected a mapping, got {section!r}")
    ray_cfg = cfgmod.build(RayConfig, section or {}, where="ray")
    unknown = sorted(set(ray_cfg.gpus) - set(stage_names))
    if unknown:
        raise cfgmod.ConfigError(
            f"ray.gpus: {', '.join(unknown)} is not a stage ({', '.join(stage_names)})"
        )
    return kind, ray_cfg


class Executor(Protocol):
    name: str

    def run_stage(
        self,
        spec: StageSpec,
        section: Any,
        out: StageDir,
        *,
        inputs: dict[str, StageDir],
        seed: int,
        force: bool,
        quiet: bool,
        extra: dict[str, Any] | None,
    ) -> Stats | None: ...

    def map(self, fn: Callable[[T], U], items: Sequence[T]) -> list[U]: ...

    def workers(self) -> int: ...

    def close(self) -> None: ...


class LocalExecutor:
    """Everything in this process, one stage after another (what `wavecoder run` always did)."""

    name = "local"

    def run_stage(
        self,
        spec: StageSpec,
        section: Any,
        out: StageDir,
        *,
        inputs: dict[str, StageDir],
        seed: int,
        force: bool,
        quiet: bool,
        extra: dict[str, Any] | None,
    ) -> Stats | None:
        from wavecoder.pipeline import run_stage

        return run_stage(
            spec, section, out, inputs=inputs, seed=seed, force=force, quiet=quiet, extra=extra
        )

    def map(self, fn: Callable[[T], U], items: Sequence[T]) -> list[U]:
        return list(map(fn, items))

    def workers(self) -> int:
        return 1

    def close(self) -> None:
        pass


CPUS_ENV = "WAVECODER_CPUS"  # set by a Ray worker to its task's CPU share


def cpu_slots() -> int:
    """How many processes a stage may keep busy: its task's CPU share on a Ray worker (so 64
    shard tasks on a 64-core node do not each start 64 processes), else this machine's cores."""
    share = os.environ.get(CPUS_ENV, "")
    if share.isdigit() and int(share) > 0:
        return int(share)
    return os.cpu_count() or 1


_current: list[Executor] = []


def current() -> Executor:
    """The executor of the run in progress; the local one when none is open."""
    return _current[-1] if _current else LocalExecutor()


@contextlib.contextmanager
def using(executor: Executor) -> Iterator[Executor]:
    """Make `executor` the current one while the block runs."""
    _current.append(executor)
    try:
        yield executor
    finally:
        _current.pop()


def spread_kwargs(fn: Callable[..., Any]) -> dict[str, Any]:
    """`map_fn=` and `workers=` for a stage function that takes them, when the current
    executor spreads work (`{}` for the local one or a function without them)."""
    executor = current()
    if executor.name == "local" or "map_fn" not in inspect.signature(fn).parameters:
        return {}
    return {"map_fn": executor.map, "workers": executor.workers()}


@contextlib.contextmanager
def open_executor(kind: str, ray_cfg: RayConfig, run_dir: Path) -> Iterator[Executor]:
    """The executor `kind` for a run into `run_dir`, current while the block runs, closed after
    (a Ray instance it started is shut down; one it joined is left running)."""
    executor: Executor
    if kind == "ray":
        try:
            from wavecoder.ray_executor import RayExecutor
        except ModuleNotFoundError as exc:
            if exc.name != "ray":
                raise
            raise cfgmod.ConfigError(
                "executor: ray needs the package ray: pip install 'wavecoder[ray]'"
            ) from None
        executor = RayExecutor(ray_cfg, run_dir)
    else:
        executor = LocalExecutor()
    try:
        with using(executor):
            yield executor
    finally:
        executor.close()
