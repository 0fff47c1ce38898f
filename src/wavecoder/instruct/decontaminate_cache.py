"""The reference embeddings of decontamination, cached on disk between runs.

Every decontaminate run and every `wavecoder decontaminate --report-only` embeds the same ~3,100
benchmark solutions; with a neural model on a CPU that is minutes each time. An entry is one
`.npz` file under `<cache root>/decontaminate/embeddings/` (`wavecoder.paths.cache_dir()`)
holding the references' vectors, keyed by a SHA-256 of:

* the embedder: backend, model name and revision (the hub commit of a cached hub model, or the
  size and mtime of every file of a local model folder), the settings that change vectors
  (`max_seq_length`, `normalize`, fp16 on a GPU; `dim`, `n_features`, `fit_sample`), the device
  kind, and the entry format;
* the reference texts, in order (a changed benchmark file or problem set never reuses vectors);
* for a backend fit on the data (`hashing`: IDF and SVD fit on references + instances) also the
  instances' texts, since its reference vectors depend on them; its fitted state is stored too.

A hit is also checked against the model itself: the entry holds the vector of a fixed probe
text, which must come out the same now (cosine >= 0.999), so weights changed in place under the
same name and revision are noticed. An unreadable, truncated or stale entry is logged as a
warning and rebuilt. Entries are written atomically (temporary file + rename), so concurrent
runs never read a partial file: two cold runs both compute and the last rename wins with the
same vectors. The folder is kept under `MAX_BYTES` by removing the least recently used entries.
Not here: the nearest-neighbour search (`decontaminate_core.embed_nearest`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from wavecoder.corpus.embedders import Embedder, EmbedderConfig
from wavecoder.store import atomic_path

log = logging.getLogger(__name__)

FORMAT = 1
MAX_BYTES = 1 << 30  # a hashing entry holds its SVD (256 x 65,536 floats: 64 MiB); MiniLM's 5 MiB
PROBE = "def probe(values):\n    return sorted(set(values), key=str)\n"
PROBE_MIN_COSINE = 0.999  # GPU kernels and fp16 move a vector by far less; new weights by more
_VECTOR_FIELDS = {
    "hashing": ("dim", "n_features", "fit_sample"),
    "neural": ("max_seq_length", "normalize", "fp16_on_gpu"),  # the model: `name`
}


def cache_root() -> Path:
    from wavecoder.paths import cache_dir

    return cache_dir() / "decontaminate" / "embeddings"


def texts_digest(texts: Sequence[str]) -> str:
    """SHA-256 of the texts in order, each length-prefixed (so no two lists share a digest)."""
    h = hashlib.sha256()
    for t in texts:
        data = t.encode("utf-8", "surrogatepass")
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


def model_identity(embedder: Embedder, cfg: EmbedderConfig) -> dict[str, Any]:
    """What decides the vectors besides the texts: backend, model, revision, settings, device."""
    kind = "hashing" if cfg.backend == "hashing" else "neural"
    out: dict[str, Any] = {"format": FORMAT, "backend": cfg.backend, "name": embedder.name}
    out.update({k: getattr(cfg, k) for k in _VECTOR_FIELDS[kind]})
    if kind == "neural":
        device = str(getattr(embedder, "device", "cpu"))
        out["device"] = device.split(":")[0]
        out["fp16_on_gpu"] = bool(cfg.fp16_on_gpu and out["device"] == "cuda")
        out["revision"] = model_revision(embedder.name)
    return out


def model_revision(name: str) -> str:
    """The hub commit of a cached hub model, or a digest of a local folder's file sizes and
    mtimes; "" when neither can be told (the probe check still guards the entry)."""
    folder = Path(name)
    if folder.is_dir():
        h = hashlib.sha256()
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                st = p.stat()
                h.update(f"{p.relative_to(folder)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        return "files:" + h.hexdigest()[:16]
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(name, "config.json")
    except Exception:  # a malformed id: the model load itself reports it
        return ""
    return Path(found).parent.name if isinstance(found, str) else ""


def entry_key(identity: dict[str, Any], ref_texts: Sequence[str], fit_texts: Sequence[str]) -> str:
    data = {
        **identity,
        "references": texts_digest(ref_texts),
        "fit": texts_digest(fit_texts) if fit_texts else "",
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def reference_vectors(
    embedder: Embedder,
    cfg: EmbedderConfig,
    ref_texts: Sequence[str],
    item_texts: Sequence[str],
    *,
    cache: bool = True,
    root: Path | None = None,
) -> np.ndarray:
    """The references' vectors, from the cache or computed (and stored). A backend that needs
    fitting comes back fitted on references + instances either way."""
    fit_texts = [*ref_texts, *item_texts] if embedder.needs_fit else []
    if not cache:
        return _compute(embedder, ref_texts, fit_texts)
    identity = model_identity(embedder, cfg)
    key = entry_key(identity, ref_texts, fit_texts)
    path = (root or cache_root()) / f"{key[:32]}.npz"
    vectors = _load(path, key, embedder, len(ref_texts))
    if vectors is not None:
        log.info(
            "decontaminate: %d reference embeddings from the cache (%s): %s",
            len(ref_texts),
            embedder.name,
            path,
        )
        return vectors
    start = time.perf_counter()
    vectors = _compute(embedder, ref_texts, fit_texts)
    _store(path, key, identity, embedder, vectors)
    log.info(
        "decontaminate: %d reference embeddings not cached: computed in %.1f s (%s), stored in %s",
        len(ref_texts),
        time.perf_counter() - start,
        embedder.name,
        path,
    )
    return vectors


def _compute(embedder: Embedder, ref_texts: Sequence[str], fit_texts: Sequence[str]) -> np.ndarray:
    if embedder.needs_fit:  # the hashing backend: one projection for both sides
        embedder.fit(fit_texts)
    return np.asarray(embedder.encode(list(ref_texts)).vectors, np.float32)


def _probe(embedder: Embedder) -> np.ndarray:
    return np.asarray(embedder.encode([PROBE]).vectors[0], np.float32)


def _load(path: Path, key: str, embedder: Embedder, n_refs: int) -> np.ndarray | None:
    """The entry's vectors, the embedder fitted from it; None (with a warning when the file
    exists) when it is missing, unreadable, for other texts, or from other weights."""
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {name: np.array(z[name]) for name in z.files}
    except (FileNotFoundError, NotADirectoryError):
        return None
    except Exception as exc:  # truncated or corrupt: zipfile, numpy and OS errors alike
        log.warning("decontaminate: unreadable embedding cache %s (%s): rebuilding it", path, exc)
        return None
    problem = _check(arrays, key, embedder, n_refs)
    if problem:
        log.warning("decontaminate: embedding cache %s %s: rebuilding it", path, problem)
        return None
    with contextlib.suppress(OSError):  # recently used: kept when the folder is trimmed
        os.utime(path)
    return arrays["vectors"].astype(np.float32)


def _check(arrays: dict[str, np.ndarray], key: str, embedder: Embedder, n_refs: int) -> str:
    try:
        meta = json.loads(str(arrays["meta"]))
        vectors, probe = arrays["vectors"], arrays["probe"]
    except (KeyError, ValueError) as exc:
        return f"is incomplete ({exc})"
    if meta.get("key") != key:
        return "belongs to other texts or settings"
    if vectors.ndim != 2 or len(vectors) != n_refs:
        return f"holds {vectors.shape} vectors for {n_refs} references"
    if embedder.needs_fit:
        state = {k[len("state.") :]: v for k, v in arrays.items() if k.startswith("state.")}
        try:
            embedder.load_state(state)
        except (KeyError, ValueError) as exc:
            return f"has an unusable fitted state ({exc})"
    now = _probe(embedder)
    if now.shape != probe.shape:
        return "was made by a model of another dimension"
    cos = float(now @ probe) / max(float(np.linalg.norm(now) * np.linalg.norm(probe)), 1e-12)
    if cos < PROBE_MIN_COSINE:
        return f"was made by other weights (probe cosine {cos:.4f})"
    return ""


def _store(
    path: Path, key: str, identity: dict[str, Any], embedder: Embedder, vectors: np.ndarray
) -> None:
    arrays: dict[str, np.ndarray] = {
        "vectors": vectors,
        "probe": _probe(embedder),
        "meta": np.array(json.dumps({"key": key, **identity})),
    }
    if embedder.needs_fit:
        arrays.update({f"state.{k}": v for k, v in embedder.state().items()})
    try:
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **arrays)  # type: ignore[arg-type]
        trim(path.parent)
    except OSError as exc:  # a full or read-only cache disk costs time, never the run
        log.warning("decontaminate: cannot write the embedding cache %s: %s", path, exc)


def trim(folder: Path, max_bytes: int = MAX_BYTES) -> None:
    """Remove the least recently used entries beyond `max_bytes` (the newest always stays),
    and temporary files a killed writer left over a day ago."""
    entries = []
    for p in folder.iterdir():
        try:
            st = p.stat()
        except FileNotFoundError:  # removed by a concurrent run
            continue
        if p.name.endswith(".tmp"):
            if time.time() - st.st_mtime > 86_400:
                p.unlink(missing_ok=True)
        elif p.suffix == ".npz":
            entries.append((st.st_mtime, st.st_size, p))
    entries.sort(reverse=True)
    total = 0
    for i, (_, size, p) in enumerate(entries):
        total += size
        if i and total > max_bytes:
            p.unlink(missing_ok=True)
