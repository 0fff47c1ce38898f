"""A stage's fingerprint: what made its output (its section as data, code VERSION, the seed,
its inputs' fingerprints), and how two fingerprints differ, in the words of a stale-stage error.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import ModuleType
from typing import Any

from wavecoder import config as cfgmod
from wavecoder.records import stable_hash
from wavecoder.stages import StageSpec, load_stage
from wavecoder.store import StageDir


def fingerprinted(section: Any) -> Any:
    """A config section as data, less the fields marked `metadata={"fingerprint": False}`:
    settings that do not change what a stage writes (where it also publishes it)."""
    data = cfgmod.to_data(section)
    if dataclasses.is_dataclass(section) and isinstance(data, dict):
        for f in dataclasses.fields(section):
            if f.metadata.get("fingerprint") is False:
                data.pop(f.name, None)
    return data


def fingerprint_record(
    spec: StageSpec,
    module: ModuleType,
    section: Any,
    seed: int,
    inputs: dict[str, StageDir],
    *,
    known: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The stage's fingerprint; upstream fingerprints come from disk unless `known` (a plan
    of stages about to run) gives them. `extra`: other sections its output depends on, as
    fingerprint data (`paired_sections`)."""
    upstream = {}
    for name, sd in sorted(inputs.items()):
        if known and name in known:
            upstream[name] = known[name]
            continue
        fp = sd.read_json("fingerprint", sharded=False)
        upstream[name] = fp["fingerprint"] if fp else "external"
    body = {
        "stage": spec.name,
        "version": int(module.VERSION),
        "seed": seed,
        "config": {spec.name: section_data(module, section), **(extra or {})},
        "inputs": upstream,
    }
    return {"fingerprint": stable_hash(body, length=20), **body}


def _path_key(path: Path) -> str:
    """A source path as fingerprint data: absolute when it exists (the same file from another
    working directory), else as written (a hub id, `stdlib`)."""
    return str(path.resolve()) if path.exists() else str(path)


def section_data(module: ModuleType, section: Any) -> Any:
    """What of a section the fingerprint hashes: the module's `fingerprint_config(section)`
    (LLM stages leave out endpoints and budgets), else `fingerprinted(section)`."""
    custom = getattr(module, "fingerprint_config", None)
    return custom(section) if custom is not None else fingerprinted(section)


def paired_sections(module: ModuleType, sections: dict[str, Any]) -> dict[str, Any] | None:
    """The paired stage's section as fingerprint data: part of a PAIRED_WITH stage's
    fingerprint in a run (its verdicts shape the prompts of later rounds)."""
    paired = getattr(module, "PAIRED_WITH", None)
    if not paired or paired not in sections:
        return None
    from wavecoder.pipeline import stage_spec

    return {paired: section_data(load_stage(stage_spec(paired)), sections[paired])}


def describe_change(old: dict[str, Any], new: dict[str, Any]) -> str:
    changes = []
    for key in cfgmod.diff_keys(old.get("config", {}), new["config"]):
        changes.append(key)
    if old.get("version") != new["version"]:
        changes.append(f"{new['stage']} code version {old.get('version')} -> {new['version']}")
    if old.get("seed") != new["seed"]:
        changes.append(f"seed {old.get('seed')} -> {new['seed']}")
    for name in cfgmod.diff_keys(old.get("inputs", {}), new["inputs"]):
        changes.append(f"upstream stage {name} was rerun")
    return ", ".join(changes) or "unknown change"
