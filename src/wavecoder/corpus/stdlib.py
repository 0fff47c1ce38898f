"""The embedded default corpus: documented functions of the running Python's standard library,
plus any installed packages the user names, so the pipeline has real input with no download.

This module only says where that code lives and what its provenance is (`Root`: folder, repo
label, licence, excludes); the tree walker and the tree-sitter extractor do the reading, so the
stdlib goes through exactly the path a source tree does. The stdlib's own tests and bundled
third-party code are left out (test/, tests/, idle_test/, site-packages/, ensurepip's wheels).

Not here: walking and parsing (`wavecoder.corpus.trees`), the stage (`wavecoder.corpus.ingest`).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import platform
import re
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STDLIB_EXCLUDES = (
    "test/",
    "tests/",
    "idle_test/",
    "site-packages/",
    "dist-packages/",
    "config-*/",
    "lib-dynload/",
    "ensurepip/_bundled/",
    "__phello__/",
)
PACKAGE_EXCLUDES = ("test/", "tests/", "testing/", "_vendor/", "vendored/")
_CLASSIFIER_SPDX = {
    "MIT License": "MIT",
    "BSD License": "BSD",
    "Apache Software License": "Apache-2.0",
    "Python Software Foundation License": "PSF-2.0",
    "ISC License (ISCL)": "ISC",
    "Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
    "GNU General Public License v3 (GPLv3)": "GPL-3.0",
    "GNU Lesser General Public License v3 (LGPLv3)": "LGPL-3.0",
}


@dataclass(frozen=True)
class Root:
    """A folder of Python code to read, with its provenance."""

    path: Path
    repo: str
    license: str
    exclude: tuple[str, ...]
    only: str = ""  # a single-module package: read just this file of `path`


def stdlib_root() -> Root:
    """The running interpreter's standard library folder (`sysconfig`'s `stdlib` path)."""
    path = Path(sysconfig.get_paths()["stdlib"])
    return Root(path, f"cpython-{platform.python_version()}", "PSF-2.0", STDLIB_EXCLUDES)


def package_root(name: str) -> Root:
    """The folder of installed package `name` (its import name), without importing it."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError) as exc:
        raise ValueError(f"package {name!r}: cannot locate it: {exc}") from exc
    if spec is None or (
        spec.origin in (None, "built-in", "frozen") and not spec.submodule_search_locations
    ):
        raise ValueError(f"package {name!r} is not installed as Python source")
    dist, version, license = _distribution(name.split(".")[0])
    repo = f"{dist}-{version}" if version else dist
    if spec.submodule_search_locations:
        path = Path(next(iter(spec.submodule_search_locations)))
        return Root(path, repo, license, PACKAGE_EXCLUDES)
    origin = Path(str(spec.origin))
    if origin.suffix != ".py":
        raise ValueError(f"package {name!r} is a compiled module ({origin.name}), not source")
    return Root(origin.parent, repo, license, PACKAGE_EXCLUDES, only=origin.name)


def _distribution(import_name: str) -> tuple[str, str, str]:
    """(distribution name, version, SPDX-ish licence) of an import name, as far as known."""
    dists = importlib.metadata.packages_distributions().get(import_name, [])
    if not dists:
        return import_name, "", ""
    meta = importlib.metadata.metadata(dists[0])
    return dists[0], importlib.metadata.version(dists[0]), license_of_metadata(meta)


def license_of_metadata(meta: Any) -> str:
    """License-Expression, else an OSI classifier, else a short License field, else ""."""
    expression = meta.get("License-Expression")
    if expression:
        return str(expression).strip()
    for classifier in meta.get_all("Classifier") or []:
        if classifier.startswith("License ::"):
            name = classifier.split("::")[-1].strip()
            return _CLASSIFIER_SPDX.get(name, name)
    text = str(meta.get("License") or "").strip()
    return text if text and len(text) <= 40 and not re.search(r"\n", text) else ""
