"""Preflight checks that stages share: data paths, model ids, an LLM endpoint's API key.

Stages call these from their `preflight(cfg)` so a run fails before its first stage, with one
line naming the key, instead of after hours of work. Cheap and offline-aware: a local path must
exist (a model folder must hold `config.json` or `adapter_config.json`); anything else must be a
well-formed hub id. With `HF_HUB_OFFLINE=1` a hub model must already be in the local cache;
online, the hub is asked whether the model exists (an unreachable hub only logs a warning: the
download will say more). An OpenAI-compatible LLM aimed at api.openai.com needs its key's
environment variable set (the value is never read into a message). Not here: reading data or
loading models.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path

from wavecoder.config import ConfigError
from wavecoder.llm.base import LLMConfig

log = logging.getLogger(__name__)

_DATA_SUFFIXES = (".json", ".jsonl", ".parquet", ".gz")
_HUB_DATASET = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+(:[\w.\[\]%+-]+)?$")


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _looks_like_path(text: str) -> bool:
    return text.startswith(("/", ".", "~")) or text.count("/") > 1 or text.endswith(_DATA_SUFFIXES)


def check_data(items: Sequence[str], *, key: str) -> None:
    """Each item is an existing file or folder, or a hub dataset id `owner/name[:split]`."""
    for item in items:
        if Path(item).expanduser().exists():
            continue
        if _looks_like_path(item) or not _HUB_DATASET.match(item):
            raise ConfigError(
                f"{key}: {item}: no such file or folder (and not a hub dataset id "
                "owner/name[:split])"
            )


def check_model(name: str, *, key: str) -> None:
    """`name` is a local model folder or a hub model id that can be had (cached when offline)."""
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").exists() and not (path / "adapter_config.json").exists():
            raise ConfigError(f"{key}: {name} holds no config.json: not a saved model folder")
        return
    if path.exists() or _looks_like_path(name):
        raise ConfigError(f"{key}: {name}: no such model folder")
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(name)
    except HFValidationError as exc:
        raise ConfigError(
            f"{key}: {name!r} is neither a local model folder nor a hub model id (owner/name)"
        ) from exc
    if offline():
        _check_cached(name, key=key)
        return
    _check_on_hub(name, key=key)


def check_llm(cfg: LLMConfig, *, key: str) -> None:
    """An LLM role can be reached: a named model, and for api.openai.com its key variable set;
    a local (transformers) model exists."""
    if cfg.backend == "transformers":
        if cfg.model:
            check_model(cfg.model, key=f"{key}.model")
        return
    if not cfg.model:
        raise ConfigError(f"{key}.model is empty: name the model the endpoint serves")
    from wavecoder.llm.openai_compat import OPENAI_URL, base_urls

    if base_urls(cfg) == [OPENAI_URL] and not os.environ.get(cfg.api_key_env):
        raise ConfigError(
            f"{key}.api_key_env: the environment variable {cfg.api_key_env} is not set; export "
            f"the API key in it, or point {key}.base_url at a server that needs none"
        )


def _check_cached(name: str, *, key: str) -> None:
    from huggingface_hub import try_to_load_from_cache

    if not isinstance(try_to_load_from_cache(name, "config.json"), str):
        raise ConfigError(
            f"{key}: {name} is not in the local hub cache and HF_HUB_OFFLINE=1 forbids "
            f"downloading it; download it first (hf download {name}) or name a local folder"
        )


def _check_on_hub(name: str, *, key: str) -> None:
    from huggingface_hub import repo_exists

    try:
        exists = repo_exists(name)
    except Exception as exc:  # no network, proxy, hub down: the download will report it
        log.warning("%s: could not ask the hub about %s (%s); going on", key, name, exc)
        return
    if not exists:
        raise ConfigError(
            f"{key}: no model {name!r} on the Hugging Face hub (a private or gated one needs "
            "`hf auth login` or HF_TOKEN); check the spelling or name a local folder"
        )
