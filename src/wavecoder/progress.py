"""Progress bars and logging set-up shared by every stage.

`track` wraps an iterable in a tqdm bar that stays silent under `--quiet` and when stderr is not a
terminal (CI logs get no carriage-return noise). `setup_logging` gives wavecoder's own loggers INFO
and every library (httpx's per-request lines, openai, datasets, transformers) WARNING unless
`-v`; `-q` also silences the Hugging Face libraries' own progress bars (loading weights, dataset
maps). Not here: anything a stage computes.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_quiet = False


def set_quiet(quiet: bool) -> None:
    global _quiet
    _quiet = quiet


def is_quiet() -> bool:
    return _quiet


def track(iterable: Iterable[T], *, total: int | None = None, desc: str = "") -> Iterator[T]:
    """Iterate with a progress bar (tqdm) unless quiet or not on a terminal."""
    from tqdm.auto import tqdm  # imported here: `import wavecoder` stays light

    disable = True if _quiet else None  # None: tqdm turns itself off when stderr is no TTY
    yield from tqdm(
        iterable, total=total, desc=desc, disable=disable, dynamic_ncols=True, file=sys.stderr
    )


# The Hugging Face libraries read these when first imported; the CLI sets them before that.
_HF_PROGRESS_ENV = ("HF_HUB_DISABLE_PROGRESS_BARS", "HF_DATASETS_DISABLE_PROGRESS_BARS")


def setup_logging(*, quiet: bool = False, verbose: bool = False) -> None:
    """wavecoder's logs at INFO (WARNING with `quiet`, DEBUG with `verbose`); libraries' logs at
    WARNING unless `verbose`."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
        force=True,
    )
    own = logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO
    logging.getLogger("wavecoder").setLevel(own)
    set_quiet(quiet)
    if quiet:
        _silence_library_progress()


def _silence_library_progress() -> None:
    for name in _HF_PROGRESS_ENV:
        os.environ[name] = "1"
    # already imported (a library, a notebook): their switches, as their docs say
    if "huggingface_hub" in sys.modules:
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()
    if "datasets" in sys.modules:
        import datasets

        datasets.disable_progress_bars()
    if "transformers" in sys.modules:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
