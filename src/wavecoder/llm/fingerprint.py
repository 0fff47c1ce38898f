"""Fingerprints of local model directories: the identity a local model has in the request cache.

A fingerprint hashes the small files that change what a model says (config, generation config,
tokenizer files and chat template, weights index, adapter config) in full, and every weights
file by name, size and three 1 MiB samples (head, middle, tail). Retraining changes the tensor
bytes, so a retrained checkpoint saved at the same path gets a new fingerprint, while copying a
directory keeps it; reading 3 MiB per file keeps this fast for multi-gigabyte checkpoints.
Not here: loading the model (see `hf_local.py`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

_WEIGHTS = (".safetensors", ".bin", ".pt", ".pth", ".gguf", ".model")
_SAMPLE = 1 << 20


def _hash_weights(path: Path, digest: hashlib._Hash) -> None:
    size = path.stat().st_size
    digest.update(f"{path.name}:{size}".encode())
    with path.open("rb") as handle:
        for offset in sorted({0, max(0, size // 2 - _SAMPLE // 2), max(0, size - _SAMPLE)}):
            handle.seek(offset)
            digest.update(handle.read(_SAMPLE))


def dir_fingerprint(path: Path) -> str:
    """A hex digest of a model or adapter directory (files directly inside it)."""
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: not a model directory")
    digest = hashlib.sha256()
    files = sorted(p for p in path.iterdir() if p.is_file())
    if not files:
        raise FileNotFoundError(f"{path}: empty model directory")
    for file in files:
        if file.name.endswith(_WEIGHTS):
            _hash_weights(file, digest)
        elif file.suffix in (".json", ".jinja", ".txt", ".model") or file.name == "merges.txt":
            digest.update(file.name.encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()[:20]


def hub_snapshot(repo_id: str, revision: str | None) -> Path | None:
    """The local snapshot directory of a hub model already in the HF cache, if any."""
    try:
        from huggingface_hub import snapshot_download

        local = snapshot_download(repo_id, revision=revision, local_files_only=True)
    except Exception:  # not cached yet, or no huggingface_hub: the caller falls back to the name
        return None
    return Path(local)


def model_identity(model: str, *, revision: str = "", adapter: str = "") -> str:
    """`local:<fp>` for a directory, `hf:<id>@<snapshot fp or revision>` for a hub id; + adapter."""
    path = Path(model).expanduser()
    if path.is_dir():
        ident = f"local:{dir_fingerprint(path)}"
    else:
        snapshot = hub_snapshot(model, revision or None)
        tag = dir_fingerprint(snapshot) if snapshot else (revision or "main")
        ident = f"hf:{model}@{tag}"
    if adapter:
        ident += f"+adapter:{dir_fingerprint(Path(adapter).expanduser())}"
    return ident
