"""Stage `ingest`: raw code from CodeSearchNet, source trees or the Python stdlib -> `Code`.

Sources come from the command line (`wavecoder ingest -i SOURCE ...`) or, in a pipeline run,
from `ingest.sources`. Each source is one of:

    stdlib                      the running Python's standard library (+ `packages`)
    hf://OWNER/NAME[@REVISION]  the Hugging Face copy of CodeSearchNet, downloaded (or taken
                                from the cache with HF_HUB_OFFLINE=1) at `hub_revision`
    FILE.jsonl / FILE.jsonl.gz  a released CodeSearchNet file
    FILE.parquet                one data file of the Hugging Face copy
    DIR                         a folder laid out like the hub repository (<config>/<split>/
                                *.parquet) if it looks like one, else a source tree / checkout
    csn:DIR, hub:DIR, tree:DIR  the same, with the kind forced (csn: reads every *.jsonl[.gz])

Writes `records` (the `Code` records, in a stable order) and `rejected` (skipped files and
folders, unparsable functions, malformed lines, each with its reason); the stats count them all.
Source trees are parsed in worker processes (`workers`, 0 = one per core).

Not here: parsing (`parse`), file rules (`trees`), CodeSearchNet schemas (`codesearchnet`).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from wavecoder.config import ConfigError
from wavecoder.corpus import codesearchnet as csn
from wavecoder.corpus import stdlib, trees
from wavecoder.corpus.licenses import LicenseFinder
from wavecoder.progress import track
from wavecoder.records import Code, Rejected, normalize_language
from wavecoder.store import Shard

log = logging.getLogger(__name__)

VERSION = 2  # 2: licence of the nearest licence file, files with parse errors named
INPUTS: tuple[str, ...] = ()


@dataclass(frozen=True)
class Config:
    sources: tuple[str, ...] = ()  # a pipeline run's sources (`wavecoder ingest` takes -i)
    packages: tuple[str, ...] = ()  # installed packages added to the `stdlib` corpus
    languages: tuple[str, ...] = ()  # keep only these (empty: all six)
    splits: tuple[str, ...] = csn.SPLITS  # CodeSearchNet partitions to read
    hub_revision: str = csn.HUB_REVISION  # pin a commit sha for reproducible downloads
    exclude: tuple[str, ...] = ()  # gitignore-style patterns for source trees
    max_file_bytes: int = 1_000_000
    require_docstring: bool = False  # source trees; the stdlib corpus always requires one
    strict: bool = False  # stop at the first malformed CodeSearchNet line
    workers: int = 0  # processes parsing source trees; 0 = one per CPU core

    def __post_init__(self) -> None:  # checked when the config loads, before any stage runs
        for lang in self.languages:
            normalize_language(lang)
        bad = [s for s in self.splits if s not in csn.SPLITS]
        if bad:
            raise ValueError(f"splits: {', '.join(map(repr, bad))} not a CodeSearchNet "
                             f"partition; choose from {', '.join(csn.SPLITS)}")  # fmt: skip
        if self.max_file_bytes < 1 or self.workers < 0:
            raise ValueError("need max_file_bytes >= 1 and workers >= 0")


@dataclass
class _Run:
    cfg: Config
    shard: Shard | None
    rejected: list[Rejected] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)

    def owns(self, key: str) -> bool:
        return self.shard is None or self.shard.owns(key)


def preflight(cfg: Config) -> None:
    """A pipeline run's sources: set, and the local ones exist (before any stage runs)."""
    if not cfg.sources:
        raise ConfigError(
            "ingest.sources is empty: name what to read, e.g. ingest.sources=[stdlib] or "
            "[hf://code-search-net/code_search_net] (see docs/corpus.md)"
        )
    for source in cfg.sources:
        if source == "stdlib" or re.match(r"hf:/+", source):
            continue
        text = next((source[len(p) :] for p in ("csn:", "hub:", "tree:") if source.startswith(p)),
                    source)  # fmt: skip
        if not Path(text).expanduser().exists():
            raise ConfigError(f"ingest.sources: {source!r} does not exist")


def run(ctx: Any) -> dict[str, int | float | str]:
    cfg: Config = ctx.cfg
    languages = tuple(normalize_language(x) for x in cfg.languages)
    cfg = dataclasses.replace(cfg, languages=languages)
    state = _Run(cfg, ctx.shard)
    sources = [str(p) for p in ctx.paths] or list(cfg.sources)
    if not sources:
        raise ConfigError(
            "ingest: no sources: pass -i SOURCE (a file, a folder, hf://OWNER/NAME or 'stdlib') "
            "or set ingest.sources"
        )
    try:
        written = ctx.out.write_records("records", _unique(_read_all(sources, state), state))
    except csn.InputError as exc:  # strict=true: the first bad line, named, is the answer
        raise ConfigError(f"ingest: {exc}; fix the line or set strict=false") from None
    state.rejected.sort(key=lambda r: (r.reason, r.id))
    ctx.out.write_rejected(state.rejected)
    stats: dict[str, int | float | str] = dict(sorted(state.counts.items()))
    stats["out"] = written
    stats["rejected"] = len(state.rejected)
    return stats


def _unique(codes: Iterator[Code], state: _Run) -> Iterator[Code]:
    """Drop a record whose id was already written (the same input named twice)."""
    seen: set[str] = set()
    for code in codes:
        state.counts["in"] += 1
        if code.id in seen:
            state.counts["rejected.duplicate_id"] += 1
            state.rejected.append(
                Rejected(
                    code.id,
                    "ingest",
                    "duplicate_id",
                    f"{code.repo}/{code.path}:{code.span} read twice",
                )
            )
            continue
        seen.add(code.id)
        yield code


def _read_all(sources: Sequence[str], state: _Run) -> Iterator[Code]:
    for source in sources:
        log.info("ingest: reading %s", source)
        yield from _read_source(source, state)


def _read_source(source: str, state: _Run) -> Iterator[Code]:
    cfg = state.cfg
    if source == "stdlib":
        yield from _read_stdlib(state)
        return
    reader = csn.Reader(strict=cfg.strict, splits=cfg.splits, languages=cfg.languages,
                        owns=state.owns)  # fmt: skip
    kind, path = _classify(source, cfg)
    if kind == "tree":
        yield from _read_tree(
            trees.repo_name(path),
            path,
            state,
            license=None,  # each file's nearest licence file
            exclude=cfg.exclude,
            require_docstring=cfg.require_docstring,
            source="tree",
        )
        return
    if kind == "jsonl":
        files = (
            [path]
            if path.is_file()
            else sorted(p for p in path.rglob("*") if p.name.endswith((".jsonl", ".jsonl.gz")))
        )
        rows: Iterator[Code] = (code for f in files for code in reader.read_jsonl(f))
    elif kind == "parquet":
        rows = reader.read_parquet(path, split=csn.split_of_path(path))
    else:
        rows = reader.read_hub_folder(path)
    for code in track(rows, desc=f"ingest {path.name}"):
        if state.owns(code.id):
            yield code
    state.rejected.extend(reader.rejected)
    state.counts.update(reader.counts)


def _classify(source: str, cfg: Config) -> tuple[str, Path]:
    """(kind, local path) of a source string; downloads hf:// sources first."""
    hub = re.match(r"hf:/+", source)  # "hf://" may reach us as "hf:/" through pathlib
    if hub:
        repo_id, _, revision = source[hub.end() :].partition("@")
        folder = csn.download_hub(
            repo_id,
            revision=revision or cfg.hub_revision,
            languages=cfg.languages,
            splits=cfg.splits,
        )
        return "hub", folder
    forced = {"csn:": "jsonl", "hub:": "hub", "tree:": "tree"}
    for prefix, kind in forced.items():
        if source.startswith(prefix):
            return kind, _existing(source[len(prefix) :])
    path = _existing(source)
    if path.is_file():
        if path.name.endswith((".jsonl", ".jsonl.gz", ".json.gz")):
            return "jsonl", path
        if path.suffix == ".parquet":
            return "parquet", path
        raise ValueError(
            f"ingest: {path}: not a CodeSearchNet file (.jsonl, .jsonl.gz, "
            f".parquet); pass a folder to read a source tree"
        )
    return ("hub" if csn.looks_like_hub_folder(path) else "tree"), path


def _existing(text: str) -> Path:
    path = Path(text).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"ingest: source {text!r} does not exist")
    return path


def _read_stdlib(state: _Run) -> Iterator[Code]:
    roots = [stdlib.stdlib_root()]
    for name in state.cfg.packages:
        try:
            roots.append(stdlib.package_root(name))
        except ValueError as exc:
            raise ConfigError(
                f"ingest.packages: {exc}; install it or take it out of the list"
            ) from None
    for root in roots:
        yield from _read_tree(
            root.repo,
            root.path,
            state,
            license=root.license,
            exclude=(*root.exclude, *state.cfg.exclude),
            only=root.only,
            require_docstring=True,
            source="stdlib",
        )


def _read_tree(
    repo: str,
    root: Path,
    state: _Run,
    *,
    license: str | None,
    exclude: Sequence[str],
    require_docstring: bool,
    source: str,
    only: str = "",
) -> Iterator[Code]:
    """`license`: one for the whole tree (an installed package's metadata), or None to take
    each file's nearest enclosing licence file."""
    cfg = state.cfg
    finder = LicenseFinder(root) if license is None else None
    files: list[trees.SourceFile] = []
    for item in trees.walk_tree(root, exclude=exclude, languages=cfg.languages):
        if only and item.rel != only:
            continue
        if not state.owns(f"{repo}/{item.rel}"):
            continue
        if isinstance(item, trees.Skip):
            state.counts[f"files.skipped.{item.reason}"] += 1
            state.rejected.append(trees.skip_record(item, repo))
        else:
            files.append(dataclasses.replace(item, license=finder.of(item.rel)) if finder else item)
    work = partial(
        trees.extract_file,
        repo=repo,
        license=license or "",
        source=source,
        max_bytes=cfg.max_file_bytes,
        require_docstring=require_docstring,
    )
    for result in track(_map(work, files, cfg.workers), total=len(files), desc=f"ingest {repo}"):
        state.counts.update(result.counts)
        state.rejected.extend(result.rejected)
        yield from result.codes


def _map(work: Any, files: list[trees.SourceFile], workers: int) -> Iterator[trees.FileResult]:
    """`work` over `files` in order, in worker processes when there is enough to share."""
    n = workers or os.cpu_count() or 1
    if n <= 1 or len(files) < 16:
        yield from map(work, files)
        return
    with ProcessPoolExecutor(max_workers=n) as pool:
        yield from pool.map(work, files, chunksize=8)
