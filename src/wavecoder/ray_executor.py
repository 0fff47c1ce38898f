"""The Ray executor: a run's stages as Ray tasks and actors, with the local run's outputs.

Each stage has a placement (its module's `PLACEMENT`, else a default from its other attributes):

    shards   SHARDABLE stages: N Ray tasks, shard i/N each, through `pipeline.run_stage` with a
             `Shard` (each part is exactly what `wavecoder run --shard i/N` writes)
    actors   the same shards, on one long-lived actor per GPU (or CPU slot) that loads its
             model once (embed)
    task     a stage that needs every record (dedup, select): one Ray task, unsharded, with
             the GPUs of `ray.gpus.<stage>`, reading its inputs from the shared run directory
    driver   in the driver's process: stages paired round by round (generate, judge) and the
             rest; those whose `run` takes `map_fn` (generate, judge, eval) get `self.map`
             from the runner, so their units of work run as Ray tasks

The driver does everything that can refuse a run first (the pipeline's checks, preflight,
fingerprints, config.yaml), then submits. It waits for every part of a stage before the next one;
the stage is done when all its shards' done markers are (the store's rule). A part whose worker
dies, or that hits a transient I/O error, is rerun by Ray (`ray.max_retries`) and resumes from
what it saved (embed's chunks, append logs) or from its clean state (atomic writes). A part Ray
gives up on leaves `failed[.shard-i-of-n].json` in the stage folder (`wavecoder status` shows it)
and the run stops naming it; rerunning the command retries only the unfinished parts.
Not here: what a worker does (`wavecoder.ray_worker`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any, Literal, TypeVar

import ray
from ray.exceptions import RayError, RayTaskError

from wavecoder import pipeline as pl
from wavecoder.executors import RayConfig
from wavecoder.progress import track
from wavecoder.ray_worker import Part, RunToken, StageWorker, TransientWorkerError, call, run_part
from wavecoder.ray_worker import write_token as _write_token
from wavecoder.store import Shard, StageDir, write_json_atomic

log = logging.getLogger(__name__)
Placement = Literal["shards", "actors", "task", "driver"]
PLACEMENTS: tuple[Placement, ...] = ("shards", "actors", "task", "driver")
RETRY_ON: list[type[BaseException]] = [TransientWorkerError, ConnectionError, TimeoutError]
T = TypeVar("T")
U = TypeVar("U")

_part_task: Any = ray.remote(run_part)
_map_task: Any = ray.remote(call)
_StageActor: Any = ray.remote(StageWorker)


class RemoteStageError(pl.PipelineError):
    """Parts of a stage that failed on the cluster; the exit code of their own error."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def placement(spec: pl.StageSpec, module: ModuleType) -> Placement:
    """Where a stage runs under Ray (see the module docstring)."""
    declared = getattr(module, "PLACEMENT", None)
    if declared is not None:
        if declared not in PLACEMENTS:
            raise pl.PipelineError(f"stage {spec.name!r}: PLACEMENT {declared!r} is not one of "
                                   f"{', '.join(PLACEMENTS)}")  # fmt: skip
        return declared  # type: ignore[no-any-return]
    paired_into = any(
        getattr(pl.load_stage(s), "PAIRED_WITH", None) == spec.name for s in pl.STAGES
    )
    if getattr(module, "PAIRED_WITH", None) or paired_into:
        return "driver"  # rounds that feed each other: their units go through map()
    return "shards" if getattr(module, "SHARDABLE", True) else "driver"


class RayExecutor:
    """Runs stages on the Ray cluster `cfg.address` names (a local one when None)."""

    name = "ray"

    def __init__(self, cfg: RayConfig, run_dir: Path) -> None:
        self.cfg = cfg
        self.run_dir = Path(run_dir).resolve()
        self._token: RunToken | None = None
        self._started = False
        self._actors: list[Any] = []  # the embed actors of the stage running now

    # --- the cluster ----------------------------------------------------------------------

    def _connect(self) -> RunToken:
        """Join (or start) Ray and write the run directory's token: on first use only, so a
        run with nothing left to do needs no cluster."""
        if self._token is not None:
            return self._token
        if not ray.is_initialized():
            local = self.cfg.address is None
            try:
                ray.init(
                    address=self.cfg.address,
                    num_cpus=self.cfg.num_cpus if local else None,
                    include_dashboard=False if local else None,
                    logging_level=logging.WARNING,
                )
            except (ConnectionError, ValueError, RuntimeError) as exc:  # no cluster, a bad address
                where = f"ray.address {self.cfg.address}" if self.cfg.address else "a local Ray"
                raise pl.UsageError(f"{where}: {_first_line(exc)} (see docs/ray.md)") from None
            self._started = True
        self._warn_missing_gpus()
        self._token = _write_token(self.run_dir)
        return self._token

    def _warn_missing_gpus(self) -> None:
        """GPUs asked for that the cluster does not have now: its tasks would wait (an
        autoscaler may add them, so this warns rather than refuses)."""
        have = float(ray.cluster_resources().get("GPU", 0))
        for stage, want in sorted(self.cfg.gpus.items()):
            if want > have:
                log.warning("ray.gpus.%s=%g but the cluster has %g GPUs now: %s waits until "
                            "GPUs join (set ray.gpus.%s=0 to run it on CPUs)", stage, want,
                            have, stage, stage)  # fmt: skip

    def close(self) -> None:
        if self._started and ray.is_initialized():
            ray.shutdown()
        self._started = False
        self._token = None

    def shard_count(self) -> int:
        """`ray.shards`, else the cluster's CPU slots (CPUs / cpus_per_task)."""
        if self.cfg.shards:
            return self.cfg.shards
        cpus = float(ray.cluster_resources().get("CPU", 1))
        return max(1, int(cpus // self.cfg.cpus_per_task))

    def _slots(self, gpus: float) -> int:
        """How many actors of this size the cluster holds at once."""
        res = ray.cluster_resources()
        if gpus:
            return max(1, int(float(res.get("GPU", 0)) // gpus))
        return max(1, int(float(res.get("CPU", 1)) // self.cfg.cpus_per_task))

    # --- the Executor API -----------------------------------------------------------------

    def run_stage(
        self,
        spec: pl.StageSpec,
        section: Any,
        out: StageDir,
        *,
        inputs: dict[str, StageDir],
        seed: int,
        force: bool,
        quiet: bool,
        extra: dict[str, Any] | None,
    ) -> pl.Stats | None:
        module = pl.load_stage(spec)
        where = placement(spec, module)
        if where == "driver":
            return pl.run_stage(
                spec, section, out, inputs=inputs, seed=seed, force=force, quiet=quiet, extra=extra
            )
        if force:  # cleared here, once: a retried part then resumes instead of starting over
            out.with_shard(None).clear()
        elif out.completion()[0] == "done":
            log.info("%s: done already, skipped", spec.name)
            return None
        token = self._connect()
        shards = self._shards(out, where)
        parts = [
            Part(spec.name, section, str(out.path.resolve()), shard,
                 {n: str(sd.path.resolve()) for n, sd in inputs.items()}, seed, extra,
                 cpus=max(1, int(self.cfg.cpus_per_task)))
            for shard in shards
        ]  # fmt: skip
        for part in parts:
            _failure_path(out, part.shard).unlink(missing_ok=True)
        log.info("%s: %d part(s) on Ray (%s)", spec.name, len(parts), where)
        stats = self._gather(spec.name, out, parts, self._submit(token, parts, where, spec.name),
                             quiet=quiet)  # fmt: skip
        ran = [s for s in stats if s is not None]
        return pl.sum_stats(ran) if ran else None

    def workers(self) -> int:
        """How many items of a `map` run at once: the cluster's CPU slots (or `ray.shards`)."""
        self._connect()
        return self.shard_count()

    def map(self, fn: Callable[[T], U], items: Sequence[T]) -> list[U]:
        """`list(map(fn, items))` as Ray tasks, results in order; a failed item raises its own
        error (after Ray's retries of lost workers and transient errors)."""
        if not items:
            return []
        self._connect()
        fn_ref = ray.put(fn)
        opts = self._task_options(0.0)
        refs = [_map_task.options(**opts).remote(fn_ref, item) for item in items]
        try:
            return list(ray.get(refs))
        except RayTaskError as exc:
            cause = _cause(exc)
            if isinstance(cause, RayError):
                raise RemoteStageError(
                    f"map over {len(items)} items: {_first_line(cause)}"
                ) from None
            raise cause from None
        except RayError as exc:  # a worker lost more often than max_retries allows
            raise RemoteStageError(f"map over {len(items)} items: {_first_line(exc)}") from None
        except KeyboardInterrupt:
            for ref in refs:
                ray.cancel(ref, force=True)
            raise

    # --- parts ----------------------------------------------------------------------------

    def _shards(self, out: StageDir, where: Placement) -> list[Shard | None]:
        """The parts still to run: the shards without a done marker (the folder's own shard
        count when it has one), or the whole stage."""
        count = out.layout()
        if where == "task" or count == 0:  # count 0: an unfinished unsharded run, resumed whole
            return [None]
        n = count or self.shard_count()
        return [s for i in range(n) if not out.with_shard(s := Shard(i, n)).is_done()]

    def _task_options(self, gpus: float) -> dict[str, Any]:
        return {
            "num_cpus": self.cfg.cpus_per_task,
            "num_gpus": gpus,
            "max_retries": self.cfg.max_retries,
            "retry_exceptions": RETRY_ON,
        }

    def _submit(
        self, token: RunToken, parts: list[Part], where: Placement, stage: str
    ) -> list[ray.ObjectRef]:
        gpus = float(self.cfg.gpus.get(stage, 0.0))
        if where != "actors":
            opts = self._task_options(gpus)
            return [_part_task.options(**opts, name=p.where).remote(token, p) for p in parts]
        n = min(len(parts), self._slots(gpus))
        actors = [
            _StageActor.options(num_cpus=self.cfg.cpus_per_task, num_gpus=gpus,
                                max_restarts=self.cfg.max_retries,
                                max_task_retries=self.cfg.max_retries).remote()
            for _ in range(n)
        ]  # fmt: skip
        self._actors = actors  # killed by _gather once every part is in
        calls: list[Any] = [actors[i % n].run for i in range(len(parts))]
        return [c.remote(token, p) for c, p in zip(calls, parts)]

    def _gather(
        self,
        stage: str,
        out: StageDir,
        parts: list[Part],
        refs: list[ray.ObjectRef],
        *,
        quiet: bool,
    ) -> list[pl.Stats | None]:
        """Wait for every part (one progress bar for the stage), record the ones Ray gave up
        on, and raise if any did."""
        by_ref = dict(zip(refs, parts))
        results: dict[int, pl.Stats | None] = {}
        failed: list[tuple[Part, BaseException]] = []
        try:
            done = _as_completed(refs)
            for ref, value, error in track(done, total=len(refs), desc=f"{stage} (Ray)"):
                if error is None:
                    results[refs.index(ref)] = value
                else:
                    failed.append((by_ref[ref], error))
        except KeyboardInterrupt:
            for ref in refs:
                ray.cancel(ref, force=True)
            raise
        finally:
            for actor in self._actors:
                ray.kill(actor)
            self._actors = []
        if failed:
            raise _failure(stage, out, failed, total=len(parts))
        return [results[i] for i in range(len(refs))]


def _as_completed(
    refs: list[ray.ObjectRef],
) -> Iterator[tuple[ray.ObjectRef, Any, BaseException | None]]:
    """(ref, value, None) or (ref, None, error) for each ref, as each finishes."""
    pending = list(refs)
    while pending:
        ready, pending = ray.wait(pending, num_returns=1)
        for ref in ready:
            try:
                yield ref, ray.get(ref), None
            except RayError as exc:
                yield ref, None, exc


def _failure_path(out: StageDir, shard: Shard | None) -> Path:
    return out.path / f"failed{shard.suffix if shard else ''}.json"


def _cause(error: BaseException) -> BaseException:
    """The stage's own exception inside a RayTaskError; the Ray error itself otherwise."""
    cause = getattr(error, "cause", None) if isinstance(error, RayTaskError) else None
    return cause if isinstance(cause, BaseException) else error


def _failure(
    stage: str, out: StageDir, failed: list[tuple[Part, BaseException]], *, total: int
) -> RemoteStageError:
    """Write each failed part's failure file; the error that stops the run."""
    for part, error in failed:
        cause = _cause(error)
        out.path.mkdir(parents=True, exist_ok=True)
        write_json_atomic(
            _failure_path(out, part.shard),
            {
                "stage": stage,
                "shard": str(part.shard) if part.shard else None,
                "error": type(cause).__name__,
                "message": _first_line(cause),
                "failed_at": datetime.now(UTC).isoformat(timespec="seconds"),
            },
        )
    part, error = failed[0]
    cause = _cause(error)
    code = getattr(cause, "exit_code", 2 if isinstance(cause, ValueError) else 1)
    more = f" (and {len(failed) - 1} more of {total} parts)" if len(failed) > 1 else ""
    return RemoteStageError(
        f"{part.where} failed on Ray{more}: {_first_line(cause)}; recorded in "
        f"{_failure_path(out, part.shard)}; rerun the same command to retry the unfinished parts",
        exit_code=int(code),
    )


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
