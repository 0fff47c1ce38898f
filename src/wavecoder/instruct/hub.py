"""Pushing an export to the Hugging Face Hub: a dataset repository with the card and the data.

`push` creates the repository if needed (`create_repo(..., exist_ok=True)`) and uploads the
card, the data files and the report in one `upload_folder` commit; the stage's own bookkeeping
(fingerprint, stats, rejected records) stays local. The token comes only from the `HF_TOKEN`
environment variable and is handed to the client object, never written or logged; a locally
saved `huggingface-cli login` token is deliberately not used, so a run pushes only where its
environment says. Not here: what the folder holds (`export`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Protocol, cast

from wavecoder.config import ConfigError
from wavecoder.pipeline import PipelineError

TOKEN_ENV = "HF_TOKEN"
#: What goes up: the card, the data files, the report and its plots.
UPLOAD = ["README.md", "data/*", "report/*"]
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


class HubError(PipelineError):
    """A push the hub refused or that could not reach it (exit code 1)."""


class HubApi(Protocol):
    """The calls of `huggingface_hub.HfApi` a push makes (tests pass a recorder)."""

    def create_repo(self, repo_id: str, **kwargs: Any) -> Any: ...

    def create_branch(self, repo_id: str, **kwargs: Any) -> Any: ...

    def upload_folder(self, **kwargs: Any) -> Any: ...


def check(repo_id: str) -> None:
    """Raise `ConfigError` on what would make a push fail after the export's work."""
    if not _REPO_ID.match(repo_id):
        raise ConfigError(f"export.hub_repo: {repo_id!r} is not a hub id; expected owner/name")
    if not os.environ.get(TOKEN_ENV):
        raise ConfigError(
            f"export.hub_repo is {repo_id!r} but {TOKEN_ENV} is not set: export a token with "
            "write access (https://huggingface.co/settings/tokens) or unset export.hub_repo"
        )


def client() -> HubApi:
    from huggingface_hub import HfApi

    return cast(HubApi, HfApi(token=os.environ[TOKEN_ENV]))


def push(
    folder: Path,
    *,
    repo_id: str,
    private: bool = True,
    revision: str | None = None,
    message: str = "wavecoder export",
    api: HubApi | None = None,
) -> str:
    """Upload `folder`'s card, data and report to the dataset repo `repo_id`; returns the
    commit's URL (or the repository id when the client reports none)."""
    check(repo_id)
    api = api or client()
    try:
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        if revision:
            api.create_branch(repo_id, branch=revision, repo_type="dataset", exist_ok=True)
        info = api.upload_folder(
            repo_id=repo_id,
            repo_type="dataset",
            folder_path=str(folder),
            allow_patterns=UPLOAD,
            commit_message=message,
            revision=revision,
        )
    except (OSError, ValueError) as exc:  # HfHubHTTPError is an OSError; bad arguments ValueError
        raise HubError(
            f"push of {folder} to the hub dataset {repo_id} failed: {exc}; the export is "
            "written: rerun it with --force export --to export to push again"
        ) from exc
    return str(getattr(info, "commit_url", None) or repo_id)
