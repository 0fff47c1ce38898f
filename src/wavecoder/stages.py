"""What every stage is to the runner: its table entry (`StageSpec`), the context its `run`
receives, the errors that stop a run, and loading its module (the stage-module contract is in
`wavecoder.pipeline`'s docstring). Not here: the table itself (`pipeline.STAGES`), running.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from wavecoder.store import Shard, StageDir

Stats = dict[str, Any]


@dataclass(frozen=True)
class StageSpec:
    name: str
    module: str
    help: str


class PipelineError(RuntimeError):
    """A run that cannot go on; `exit_code` tells scripts why."""

    exit_code = 1


class StaleStageError(PipelineError):
    """A finished stage's settings changed: rerun it with --force or restore the settings."""

    exit_code = 3


class UsageError(PipelineError):
    """Options that contradict each other or the config (e.g. --force of a stage not run)."""

    exit_code = 2


@dataclass
class StageContext:
    """What a stage's `run` receives."""

    name: str
    cfg: Any
    out: StageDir
    inputs: dict[str, StageDir] = field(default_factory=dict)
    paths: list[Path] = field(default_factory=list)
    shard: Shard | None = None
    seed: int = 42
    quiet: bool = False
    round: int = 0


def stage_inputs(module: ModuleType, section: Any) -> tuple[str, ...]:
    """The upstream stages `module` reads with config `section` (see the module docstring)."""
    pick = getattr(module, "inputs", None)
    return tuple(pick(section)) if pick is not None else tuple(module.INPUTS)


def load_stage(spec: StageSpec) -> ModuleType:
    """Import the stage's module (`pkg.mod`, or `pkg.mod:attr` for a namespace inside one)."""
    modname, _, attr = spec.module.partition(":")
    try:
        module = importlib.import_module(modname)
        if attr:
            module = getattr(module, attr)
    except ModuleNotFoundError as exc:
        if exc.name and modname.startswith(exc.name):
            raise PipelineError(f"stage {spec.name!r}: module {spec.module} is missing") from exc
        raise PipelineError(
            f"stage {spec.name!r} needs the package {exc.name!r}; install the extra that "
            f"provides it (see README, 'Install')"
        ) from exc
    for attr in ("VERSION", "INPUTS", "Config", "run"):
        if not hasattr(module, attr):
            raise PipelineError(f"stage module {spec.module} lacks {attr}")
    return module
