"""Licences of source files: the nearest enclosing LICENSE / COPYING file, as an SPDX expression.

`LicenseFinder(root).of(rel)` walks from the file's folder up to the tree's root and takes the
first folder that holds a licence file (LICENSE, LICENCE, COPYING, UNLICENSE, with any suffix:
LICENSE.md, COPYING.LESSER, LICENSE-MIT), so a vendored or sub-licensed folder inside a tree gets
its own licence. The text is identified by `licenseclassifier` (a pure-Python port of Go's
licensecheck, the detector behind pkg.go.dev; see docs/decisions.md for why not scancode): one
file with several licence texts gives `A AND B`; Rust-style alternatives side by side
(LICENSE-MIT, LICENSE-APACHE) give `A OR B`; an unidentified text gives "" (unknown).

`allowed(expression, licenses)` answers `filter.licenses`. Not here: the filter stage itself.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection
from functools import lru_cache
from pathlib import Path

from wavecoder.corpus.languages import language_of_path

UNKNOWN = "NOASSERTION"  # SPDX's word for "no licence known"; `filter.licenses` may list it
_LICENSE_FILE = re.compile(r"^(?:un)?licen[cs]e(?:[.\-_].*)?$|^copying(?:[.\-_].*)?$", re.I)
_ALTERNATIVES = re.compile(r"^licen[cs]e[\-_]", re.I)  # LICENSE-MIT beside LICENSE-APACHE
_MAX_BYTES = 256_000


def is_license_file(name: str) -> bool:
    return bool(_LICENSE_FILE.match(name)) and language_of_path(name) is None


@lru_cache(maxsize=4096)
def license_of_file(path: Path) -> str:
    """The SPDX ids one licence file's text holds, `A AND B` when it bundles several."""
    try:
        with path.open("rb") as fh:
            text = fh.read(_MAX_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return ""
    return license_of_text(text)


def license_of_text(text: str) -> str:
    from licenseclassifier import identify_license  # ~30 ms to load its corpus, once

    ids: list[str] = []
    for match in identify_license(text):
        if match.id not in ids:
            ids.append(match.id)
    return " AND ".join(ids)


class LicenseFinder:
    """Nearest enclosing licence of each file of one tree (one folder listing per folder)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._by_dir: dict[str, str] = {}

    def of(self, rel: str) -> str:
        """SPDX expression for the file at `rel` (POSIX, relative to the root), "" if none."""
        parts = rel.split("/")[:-1]
        walked: list[str] = []
        found = ""
        for depth in range(len(parts), -1, -1):
            folder = "/".join(parts[:depth])
            if folder in self._by_dir:
                found = self._by_dir[folder]
                break
            walked.append(folder)
            found = self._folder_license(self.root / folder if folder else self.root)
            if found:
                break
        for folder in walked:  # every folder on the way up shares the answer
            self._by_dir[folder] = found
        return found

    def _folder_license(self, folder: Path) -> str:
        try:
            names = sorted(e.name for e in os.scandir(folder) if e.is_file(follow_symlinks=False))
        except OSError:
            return ""
        files = [n for n in names if is_license_file(n)]
        ids: list[str] = []
        for name in files:
            expression = license_of_file(folder / name)
            if expression and expression not in ids:
                ids.append(expression)
        if len(ids) > 1 and all(_ALTERNATIVES.match(n) for n in files):
            return " OR ".join(ids)
        return " AND ".join(ids)


def allowed(expression: str, licenses: Collection[str]) -> bool:
    """Whether an SPDX expression satisfies an allow-list: every `AND` term allowed, any one
    `OR` alternative enough; "" (unknown) only when the list names NOASSERTION."""
    wanted = {x.casefold() for x in licenses}
    if not expression.strip():
        return UNKNOWN.casefold() in wanted
    return any(
        all(term.strip(" ()").casefold() in wanted for term in alternative.split(" AND "))
        for alternative in expression.split(" OR ")
    )
