"""What an OpenAI-compatible server says it serves: the weights identity behind a model name.

vLLM and SGLang list each served model in `GET /v1/models` with a `root` (the checkpoint path or
hub id the server loaded; with `--served-model-name` the name and the weights differ). When a
server reports one, it becomes part of the model's cache identity, so a reply cached from one
server's weights is never replayed for another's under the same name. Servers that report no
root (OpenAI, Ollama, llama.cpp) leave the identity as name@revision. A server that cannot be
reached reports nothing here; its requests then fail on their own. Not here: sending requests.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence

from wavecoder.llm.base import LLMError

log = logging.getLogger(__name__)
PROBE_TIMEOUT_S = 5.0


def served_root(
    url: str, model: str, *, api_key: str = "", timeout_s: float = PROBE_TIMEOUT_S
) -> str:
    """The `root` one endpoint reports for `model` ("" when it reports none or cannot answer)."""
    request = urllib.request.Request(url.rstrip("/") + "/models")
    if api_key:
        request.add_header("Authorization", f"Bearer {api_key}")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as reply:
            listing = json.loads(reply.read())
    except (OSError, ValueError, urllib.error.URLError) as exc:
        log.debug("no model listing from %s: %s", redact(url), exc)
        return ""
    entries = listing.get("data") if isinstance(listing, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and entry.get("id") == model:
            root = entry.get("root")
            return root if isinstance(root, str) else ""
    return ""


def served_weights(urls: Sequence[str], model: str, *, api_key_env: str) -> str:
    """The weights every endpoint reports for `model`; LLMError when two report different ones."""
    key = os.environ.get(api_key_env, "")
    roots = {redact(u): served_root(u, model, api_key=key) for u in urls}
    distinct = sorted({r for r in roots.values() if r})
    if len(distinct) > 1:
        listed = ", ".join(f"{u} serves {r}" for u, r in roots.items() if r)
        raise LLMError(f"the endpoints serve different weights as {model!r}: {listed}")
    return distinct[0] if distinct else ""


def redact(url: str) -> str:
    """`url` without user:password and query (safe for logs and summaries)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))
