"""Dedup: exact and near duplicates, deterministic representatives, datasketch-equal MinHash."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np

from tests.unit.corpus.stage_helpers import records, rejected, run_stage, write_codes
from wavecoder.corpus import dedup
from wavecoder.corpus.minhash import MinHasher
from wavecoder.records import Code


def make(i: int, body: str, *, doc: str = "", path: str = "") -> Code:
    return Code.new(
        language="python", code=body, source="test", path=path or f"m{i}.py", docstring=doc
    )


def corpus() -> list[Code]:
    rng = random.Random(0)
    words = [f"name{i}" for i in range(400)]

    def body() -> str:
        lines = [
            f"    {rng.choice(words)} = {rng.choice(words)} + {rng.randint(0, 99)}"
            for _ in range(30)
        ]
        return "def f(x):\n" + "\n".join(lines) + "\n    return x\n"

    bases = [body() for _ in range(30)]
    codes = [make(i, b) for i, b in enumerate(bases)]
    # exact duplicate: differs only in whitespace and a comment
    codes.append(make(100, bases[0].replace("    return x", "    # done\n    return   x")))
    # near duplicate: one token of ~160 changed (5 of ~155 token 5-grams differ, Jaccard ~0.94)
    lines = bases[1].split("\n")
    lines[5] = lines[5].rsplit(" ", 1)[0] + " 12345"
    codes.append(make(101, "\n".join(lines), doc="Documented twin."))
    return codes


def test_exact_and_near_duplicates(tmp_path: Path) -> None:
    codes = corpus()
    write_codes(tmp_path / "filter", codes)
    stats = run_stage(dedup, tmp_path / "dedup", inputs={"filter": tmp_path / "filter"})
    assert stats["rejected.exact_duplicate"] == 1
    assert stats["rejected.near_duplicate"] == 1
    assert stats["out"] == 30
    dropped = {r.id: r for r in rejected(tmp_path / "dedup")}
    exact = [r for r in dropped.values() if r.reason == "exact_duplicate"]
    near = [r for r in dropped.values() if r.reason == "near_duplicate"]
    exact_pair = {codes[0].id, codes[30].id}
    assert exact[0].id in exact_pair and exact[0].detail.split()[2] in exact_pair
    # the documented near twin is ranked first, so it is the representative
    assert near[0].id == codes[1].id and codes[31].id in near[0].detail
    kept = {c.id for c in records(tmp_path / "dedup")}
    assert codes[31].id in kept and not kept & set(dropped)


def test_representatives_do_not_depend_on_input_order(tmp_path: Path) -> None:
    codes = corpus()
    shuffled = codes[:]
    random.Random(7).shuffle(shuffled)
    write_codes(tmp_path / "a", codes)
    write_codes(tmp_path / "b", shuffled)
    run_stage(dedup, tmp_path / "da", inputs={"filter": tmp_path / "a"})
    run_stage(dedup, tmp_path / "db", inputs={"filter": tmp_path / "b"})
    assert {c.id for c in records(tmp_path / "da")} == {c.id for c in records(tmp_path / "db")}
    assert rejected(tmp_path / "da") == rejected(tmp_path / "db")


def test_near_can_be_turned_off(tmp_path: Path) -> None:
    write_codes(tmp_path / "filter", corpus())
    stats = run_stage(
        dedup, tmp_path / "d", cfg=dedup.Config(near=False), inputs={"filter": tmp_path / "filter"}
    )
    assert stats["rejected.near_duplicate"] == 0 and stats["out"] == 31


def test_signatures_equal_datasketch_minhash() -> None:
    from datasketch import MinHash

    hasher = MinHasher(num_perm=32, ngram=5, seed=3)
    snippets = ["def f(x):\n    return x + 1 if x else 2", "x", "", "a b c d e f g"]
    hashes, offsets = hasher.shingle_hashes(snippets)
    sigs = hasher.signatures_of_hashes(hashes, offsets)
    bounds = [*offsets.tolist(), len(hashes)]
    for i in range(len(snippets)):
        m = MinHash(num_perm=32, seed=3, hashfunc=int, scheme="affine32")
        m.update_batch(hashes[bounds[i] : bounds[i + 1]].tolist())
        assert np.array_equal(m.hashvalues, sigs[i])
    assert offsets.tolist() == [0, 10, 11, 12]  # short snippets still get one shingle


def test_similar_code_has_similar_signatures() -> None:
    hasher = MinHasher()
    base = " ".join(f"tok{i} +" for i in range(200))
    near = base.replace("tok50 +", "other +")
    far = " ".join(f"zz{i} -" for i in range(200))
    a, b, c = hasher.signatures([base, near, far])
    assert np.mean(a == b) > 0.85 and np.mean(a == c) < 0.1
