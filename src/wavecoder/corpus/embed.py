"""Stage `embed`: one vector per deduplicated snippet, for the k-center selection.

Reads the `Code` records of `dedup`, embeds their text in chunks (one progress step a chunk) and
writes, in its folder:
    embeddings.npy   float32 or float16, row i is the snippet on line i of ids.txt
    ids.txt          one Code id a line
    truncated.txt    ids of snippets longer than the model's max_seq_length (cut when embedded)
    embedder.json    backend, model, dim, dtype, max_seq_length, counts
Each finished chunk is saved under `chunks/` first, so an interrupted run resumes at the first
missing chunk; the merge into embeddings.npy is atomic and the chunks are removed after it. The
hashing backend's fitted state is saved there too, so resumed chunks use the same projection.
With `--shard i/n` every file name gets the shard suffix and only the shard's ids are embedded
(the store decides which those are; see `wavecoder.store`).
Not here: the embedding backends (`wavecoder.corpus.embedders`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from wavecoder.corpus.embedders import Embedder, EmbedderConfig, load_embedder
from wavecoder.records import Code
from wavecoder.store import StageDir, atomic_path, write_json_atomic

VERSION = 3  # 2: the hashing backend fits on the texts in id order; 3: it fits in float64
INPUTS = ("dedup",)
SHARDABLE = True
PLACEMENT = "actors"  # under Ray: one actor per GPU (or CPU slot) loads the model once

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Config:
    embedder: EmbedderConfig = field(default_factory=EmbedderConfig)
    # What is embedded: the code alone (the paper's repository) or the docstring, then the code.
    text: Literal["code", "docstring+code"] = "code"
    chunk_size: int = 4096  # snippets per saved chunk (the unit of resuming)
    dtype: Literal["float32", "float16"] = "float32"

    def __post_init__(self) -> None:  # checked when the config loads, before any stage runs
        if self.chunk_size < 1:
            raise ValueError(f"chunk_size must be at least 1, got {self.chunk_size}")


def snippet_text(code: Code, mode: Literal["code", "docstring+code"]) -> str:
    if mode == "docstring+code" and code.docstring:
        return f"{code.docstring}\n{code.code}"
    return code.code


def run(ctx: Any) -> dict[str, int | float | str]:
    cfg: Config = ctx.cfg
    if cfg.chunk_size < 1:
        raise ValueError(f"embed.chunk_size must be at least 1, got {cfg.chunk_size}")
    # every record (the hashing backend fits on all texts, so shards share one projection),
    # each tagged with whether this shard embeds it
    tagged = list(ctx.inputs["dedup"].read_tagged("records", Code))
    records = [r for r, _ in tagged]
    texts_all = [snippet_text(r, cfg.text) for r in records]
    mine = [i for i, (_, owned) in enumerate(tagged) if owned]
    ids = [records[i].id for i in mine]
    texts = [texts_all[i] for i in mine]
    out: StageDir = ctx.out
    suffix = out.shard.suffix if out.shard else ""
    work = _work_dir(out.path / f"chunks{suffix}", cfg, ids)
    embedder = load_embedder(cfg.embedder)
    # fitted in id order, so the projection does not depend on the order records arrive in
    by_id = sorted(range(len(records)), key=lambda i: records[i].id)
    _fit_or_restore(embedder, work / "state.npz", [texts_all[i] for i in by_id])
    dim, truncated = _embed_chunks(embedder, texts, work, cfg.chunk_size)
    _merge(out.path, suffix, work, ids, dim=dim, dtype=cfg.dtype, chunk_size=cfg.chunk_size)
    bad = [ids[i] for i in np.flatnonzero(truncated)]
    _write_lines(out.path / f"truncated{suffix}.txt", bad)
    max_len = getattr(embedder, "max_seq_length", None)
    if bad:
        log.warning(
            "embed: %d of %d snippets exceed max_seq_length=%s tokens and were cut",
            len(bad),
            len(ids),
            max_len,
        )
    info = {
        "backend": cfg.embedder.backend,
        "model": embedder.name,
        "dim": dim,
        "dtype": cfg.dtype,
        "max_seq_length": max_len,
        "count": len(ids),
        "truncated": len(bad),
    }
    out.write_json("embedder", info)
    shutil.rmtree(work)
    return {"in": len(records), "out": len(ids), "truncated": len(bad), "dim": dim}


def _work_dir(work: Path, cfg: Config, ids: list[str]) -> Path:
    """The chunk folder, emptied when it was made for other settings or other ids."""
    from wavecoder.config import to_data

    digest = hashlib.sha256("\n".join(ids).encode()).hexdigest()
    meta = {"config": to_data(cfg), "ids_sha256": digest, "version": VERSION}
    meta_path = work / "meta.json"
    if meta_path.exists() and json.loads(meta_path.read_text(encoding="utf-8")) != meta:
        log.warning("embed: %s holds chunks of other settings or inputs; starting over", work)
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    if not meta_path.exists():
        write_json_atomic(meta_path, meta)
    return work


def _fit_or_restore(embedder: Embedder, path: Path, texts: list[str]) -> None:
    if not embedder.needs_fit:
        return
    if path.exists():
        with np.load(path) as state:
            embedder.load_state(dict(state))
        return
    if not texts:
        return
    embedder.fit(texts)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **embedder.state())  # type: ignore[arg-type]


def _embed_chunks(
    embedder: Embedder, texts: list[str], work: Path, chunk_size: int
) -> tuple[int, np.ndarray]:
    """Embed every chunk not saved yet; returns (dim, truncated flags of all texts)."""
    from wavecoder.progress import track

    starts = range(0, len(texts), chunk_size)
    flags = []
    dim = embedder.dim
    for n, lo in enumerate(track(starts, total=len(starts), desc="embed chunks")):
        path = work / f"chunk-{n:06d}.npz"
        if not path.exists():
            enc = embedder.encode(texts[lo : lo + chunk_size])
            with atomic_path(path) as tmp, open(tmp, "wb") as fh:
                np.savez(fh, vectors=enc.vectors, truncated=enc.truncated)
        with np.load(path) as saved:
            flags.append(saved["truncated"])
            dim = int(saved["vectors"].shape[1])
    return dim, np.concatenate(flags) if flags else np.zeros(0, bool)


def _merge(
    folder: Path, suffix: str, work: Path, ids: list[str], *, dim: int, dtype: str, chunk_size: int
) -> None:
    target = folder / f"embeddings{suffix}.npy"
    with atomic_path(target) as tmp:
        mm = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.dtype(dtype), shape=(len(ids), dim))
        row = 0
        for n in range(-(-len(ids) // chunk_size)):
            with np.load(work / f"chunk-{n:06d}.npz") as saved:
                vecs = saved["vectors"]
            mm[row : row + len(vecs)] = vecs
            row += len(vecs)
        if row != len(ids):
            raise RuntimeError(f"{work}: chunks hold {row} vectors for {len(ids)} ids")
        mm.flush()
        del mm
    _write_lines(folder / f"ids{suffix}.txt", ids)


def _write_lines(path: Path, lines: list[str]) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")


def load_embeddings(sd: StageDir) -> tuple[list[str], np.ndarray]:
    """(ids, matrix) of an embed folder, all shard parts concatenated in shard order."""
    ids: list[str] = []
    parts = []
    for ids_path in sd.parts("ids", ".txt"):
        emb_path = ids_path.with_name(ids_path.name.replace("ids", "embeddings", 1)[:-4] + ".npy")
        part_ids = ids_path.read_text(encoding="utf-8").splitlines()
        vecs = np.load(emb_path, mmap_mode="r")
        if vecs.ndim != 2 or len(vecs) != len(part_ids):
            raise ValueError(
                f"{emb_path}: shape {vecs.shape} does not match the {len(part_ids)} "
                f"ids of {ids_path}"
            )
        ids.extend(part_ids)
        parts.append(vecs)
    if len(set(ids)) != len(ids):
        raise ValueError(
            f"{sd.path}: an id appears in more than one embeddings file (a sharded and an "
            f"unsharded run mixed?); rerun embed with --force"
        )
    if not parts:
        raise FileNotFoundError(f"no ids.txt / embeddings.npy in {sd.path}: run `wavecoder embed`")
    return ids, parts[0] if len(parts) == 1 else np.concatenate(parts)
