"""Where wavecoder keeps caches: one root for the LLM cache, benchmark downloads and toolchains.

`$WAVECODER_CACHE_DIR` when set, else `$XDG_CACHE_HOME/wavecoder`, else `~/.cache/wavecoder`.
Nothing here holds a secret: API keys never reach disk.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    explicit = os.environ.get("WAVECODER_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "wavecoder"
