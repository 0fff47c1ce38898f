"""Progress bars and logging set-up shared by every stage.

`track` wraps an iterable in a tqdm bar that stays silent under `--quiet` and when stderr is not a
terminal (CI logs get no carriage-return noise). Not here: anything a stage computes.
"""

from __future__ import annotations

import logging
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


def setup_logging(*, quiet: bool = False, verbose: bool = False) -> None:
    level = logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
        force=True,
    )
    set_quiet(quiet)
