"""Stage `embed`: files aligned with ids, dtype, truncation report, shards, and resuming after
an interrupted run (only the missing chunks are embedded, the result is the same)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from wavecoder.corpus import embed
from wavecoder.corpus.embedders import EmbedderConfig, HashingEmbedder
from wavecoder.pipeline import StageContext
from wavecoder.records import Code
from wavecoder.store import Shard, StageDir, StoreError

HASHING = EmbedderConfig(backend="hashing", dim=8, n_features=1 << 12)


def make_codes(n: int = 30) -> list[Code]:
    langs = ["python", "go", "java"]
    bodies = [
        "return a + b",
        "return a * b - {i}",
        "print(x{i})",
        "return sorted(xs)[{i}]",
        "raise ValueError('bad {i}')",
    ]
    return [
        Code.new(
            language=langs[i % 3],
            source="test",
            path=f"f{i}.src",
            code=f"def fn_{i}(a, b, xs):\n    {bodies[i % 5].format(i=i)}\n",
            docstring=f"Function number {i}.",
        )
        for i in range(n)
    ]


def run_embed(
    tmp: Path, out: str, cfg: embed.Config, codes: list[Code], shard: Shard | None = None
) -> tuple[dict[str, Any], StageDir]:
    dedup = StageDir(tmp / "dedup")
    if not (dedup.path / "records.jsonl").exists():
        dedup.write_records("records", codes)
    sd = StageDir(tmp / out, shard=shard)
    sd.path.mkdir(parents=True, exist_ok=True)
    inputs = {"dedup": dedup.with_shard(shard)}  # the runner hands a shard its inputs as a shard
    ctx = StageContext(name="embed", cfg=cfg, out=sd, inputs=inputs, shard=shard)
    return embed.run(ctx), sd


def test_writes_aligned_embeddings(tmp_path: Path) -> None:
    codes = make_codes()
    stats, sd = run_embed(tmp_path, "embed", embed.Config(embedder=HASHING, chunk_size=7), codes)
    ids, vecs = embed.load_embeddings(sd)
    assert ids == [c.id for c in codes]
    assert vecs.shape == (30, 8) and vecs.dtype == np.float32
    assert stats == {"in": 30, "out": 30, "truncated": 0, "dim": 8}
    assert not (sd.path / "chunks").exists()  # removed after the merge
    info = sd.read_json("embedder")
    assert info["backend"] == "hashing" and info["count"] == 30
    assert (sd.path / "truncated.txt").read_text() == ""
    # row i is snippet i: re-embedding one snippet alone gives the same row
    emb = HashingEmbedder(HASHING)
    emb.fit([c.code for c in sorted(codes, key=lambda c: c.id)])  # fitted in id order
    np.testing.assert_allclose(emb.encode([codes[5].code]).vectors[0], vecs[5], atol=1e-5)


def test_float16_and_docstring_text(tmp_path: Path) -> None:
    codes = make_codes(10)
    cfg = embed.Config(embedder=HASHING, dtype="float16", text="docstring+code")
    _, sd = run_embed(tmp_path, "embed", cfg, codes)
    _, vecs = embed.load_embeddings(sd)
    assert vecs.dtype == np.float16
    assert embed.snippet_text(codes[0], "docstring+code").startswith("Function number 0.")
    assert embed.snippet_text(codes[0], "code") == codes[0].code


def test_resumes_after_an_interrupted_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    codes = make_codes(30)
    cfg = embed.Config(embedder=HASHING, chunk_size=7)  # 5 chunks
    _, ref = run_embed(tmp_path, "reference", cfg, codes)
    calls: list[int] = []
    original = HashingEmbedder.encode

    def crashing(self: HashingEmbedder, texts: list[str]) -> Any:
        if len(calls) == 2:
            raise KeyboardInterrupt("simulated crash")
        calls.append(len(texts))
        return original(self, texts)

    monkeypatch.setattr(HashingEmbedder, "encode", crashing)
    with pytest.raises(KeyboardInterrupt):
        run_embed(tmp_path, "embed", cfg, codes)
    assert len(list((tmp_path / "embed" / "chunks").glob("chunk-*.npz"))) == 2
    assert not (tmp_path / "embed" / "embeddings.npy").exists()

    def counting(self: HashingEmbedder, texts: list[str]) -> Any:
        calls.append(len(texts))
        return original(self, texts)

    monkeypatch.setattr(HashingEmbedder, "encode", counting)
    calls.clear()
    run_embed(tmp_path, "embed", cfg, codes)
    assert calls == [7, 7, 2]  # only chunks 2, 3 and 4 were embedded again
    np.testing.assert_array_equal(
        np.load(tmp_path / "embed" / "embeddings.npy"), np.load(ref.path / "embeddings.npy")
    )


def test_chunks_of_other_settings_are_discarded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    codes = make_codes(20)
    old = tmp_path / "embed" / "chunks"
    old.mkdir(parents=True)
    (old / "meta.json").write_text('{"config": {}, "ids_sha256": "x", "version": 0}')
    np.savez(
        old / "chunk-000000.npz", vectors=np.zeros((7, 3), np.float32), truncated=np.zeros(7, bool)
    )
    _, sd = run_embed(tmp_path, "embed", embed.Config(embedder=HASHING, chunk_size=7), codes)
    _, vecs = embed.load_embeddings(sd)
    assert vecs.shape == (20, 8) and np.abs(vecs[:7]).sum() > 0


def test_shards_split_the_ids_and_read_back_together(tmp_path: Path) -> None:
    codes = make_codes(40)
    cfg = embed.Config(embedder=HASHING, chunk_size=8)
    for i in range(2):
        run_embed(tmp_path, "embed", cfg, codes, shard=Shard(i, 2))
    ids, vecs = embed.load_embeddings(StageDir(tmp_path / "embed"))
    assert sorted(ids) == sorted(c.id for c in codes)
    assert vecs.shape == (40, 8)
    _, whole = run_embed(tmp_path, "whole", cfg, codes)
    whole_ids, whole_vecs = embed.load_embeddings(whole)
    row = {i: n for n, i in enumerate(whole_ids)}
    np.testing.assert_allclose(vecs, whole_vecs[[row[i] for i in ids]], atol=1e-5)


def test_reports_truncated_snippets(tmp_path: Path) -> None:
    pytest.importorskip("sentence_transformers")
    from tests.unit.corpus.test_embedders import build_tiny_st_model

    model = build_tiny_st_model(tmp_path / "model", max_seq_length=16)
    codes = [
        *make_codes(6),
        Code.new(
            language="python",
            source="test",
            path="long.py",
            code="def long():\n" + "    x = add(a, b)\n" * 40,
        ),
    ]
    cfg = embed.Config(
        embedder=EmbedderConfig(
            backend="sentence-transformers", model=str(model), device="cpu", local_files_only=True
        )
    )
    stats, sd = run_embed(tmp_path, "embed", cfg, codes)
    listed = (sd.path / "truncated.txt").read_text().split()
    assert codes[-1].id in listed
    assert stats["truncated"] == len(listed) >= 1
    assert sd.read_json("embedder")["max_seq_length"] == 16
    assert stats["dim"] == 32


def test_empty_input(tmp_path: Path) -> None:
    stats, sd = run_embed(tmp_path, "embed", embed.Config(embedder=HASHING), [])
    ids, vecs = embed.load_embeddings(sd)
    assert ids == [] and vecs.shape == (0, 8)
    assert stats["out"] == 0


def test_missing_embeddings_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="wavecoder embed"):
        embed.load_embeddings(StageDir(tmp_path))


def test_mixed_sharded_and_plain_outputs_are_refused(tmp_path: Path) -> None:
    codes = make_codes(12)
    cfg = embed.Config(embedder=HASHING)
    run_embed(tmp_path, "embed", cfg, codes)
    run_embed(tmp_path, "embed", cfg, codes, shard=Shard(0, 2))
    with pytest.raises(StoreError, match="unsharded and a sharded run mixed.*--force"):
        embed.load_embeddings(StageDir(tmp_path / "embed"))
