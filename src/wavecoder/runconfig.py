"""The experiment config of a run: top-level settings plus one built `Config` per stage
section, loaded from YAML with dotted overrides, and saved beside the outputs. Not here: the
sections' own fields (each stage module's `Config`), the checks across stages (`pipeline`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wavecoder import config as cfgmod
from wavecoder.executors import (
    RayConfig,
    build_config,
)
from wavecoder.stages import StageSpec, load_stage


@dataclass(frozen=True)
class RunConfig:
    """A resolved experiment: run settings plus one built Config per stage section."""

    run_dir: Path
    seed: int
    stop_after: str | None
    sections: dict[str, Any]
    executor: str = "local"  # where the stages run: "local" or "ray" (wavecoder.executors)
    ray: RayConfig = field(default_factory=RayConfig)

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "run_dir": str(self.run_dir),
            "seed": self.seed,
            "stop_after": self.stop_after,
            "executor": self.executor,
            "ray": cfgmod.to_data(self.ray),
        }
        data.update({k: cfgmod.to_data(v) for k, v in self.sections.items()})
        return data


_TOP_KEYS = ("run_dir", "seed", "stop_after", "executor", "ray")


def build_run_config(data: dict[str, Any], stages: Sequence[StageSpec] | None = None) -> RunConfig:
    from wavecoder import pipeline  # the table, read when called (tests swap it)

    stages = stages or pipeline.STAGES
    names = [s.name for s in stages]
    unknown = sorted(set(data) - set(_TOP_KEYS) - set(names))
    if unknown:
        raise cfgmod.ConfigError(
            f"unknown config key(s): {', '.join(unknown)}; allowed at the top: "
            f"{', '.join(_TOP_KEYS + tuple(names))}"
        )
    stop_after = data.get("stop_after")
    if stop_after is not None and stop_after not in names:
        raise cfgmod.ConfigError(f"stop_after: {stop_after!r} is not a stage ({', '.join(names)})")
    seed = data.get("seed", 42)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise cfgmod.ConfigError(f"seed: expected an integer, got {seed!r}")
    sections = {}
    for spec in stages:
        section = data.get(spec.name) or {}
        if not isinstance(section, dict):
            raise cfgmod.ConfigError(f"{spec.name}: expected a mapping, got {section!r}")
        sections[spec.name] = cfgmod.build(load_stage(spec).Config, section, where=spec.name)
    executor, ray = build_config(data.get("executor"), data.get("ray"), names)
    run_dir = Path(data.get("run_dir") or "runs/default")
    return RunConfig(run_dir, seed, stop_after, sections, executor=executor, ray=ray)


def load_run_config(
    path: Path, overrides: Sequence[str] = (), stages: Sequence[StageSpec] | None = None
) -> RunConfig:
    data = cfgmod.apply_overrides(cfgmod.load_yaml(path), overrides)
    try:
        return build_run_config(data, stages)
    except cfgmod.ConfigError as exc:
        raise cfgmod.ConfigError(f"{path}: {exc}") from exc


def _save_config(rc: RunConfig) -> None:
    import yaml

    from wavecoder.store import atomic_path

    with atomic_path(rc.run_dir / "config.yaml") as tmp:
        tmp.write_text(yaml.safe_dump(rc.to_data(), sort_keys=False), encoding="utf-8")


def replace_section(rc: RunConfig, name: str, **changes: Any) -> RunConfig:
    """A copy of `rc` with fields of one section changed (tests and notebooks)."""
    sections = dict(rc.sections)
    sections[name] = dataclasses.replace(sections[name], **changes)
    return dataclasses.replace(rc, sections=sections)
