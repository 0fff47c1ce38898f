"""Loading, program assembly and post-processing against the shared benchmark files."""

from __future__ import annotations

from pathlib import Path

import pytest

from wavecoder.evals.benchmarks import BENCHMARKS, load
from wavecoder.evals.benchmarks.humanevalpack import program
from wavecoder.evals.prompts import PROMPT_FORMATS, render, to_completion, truncate
from wavecoder.evals.samples import read_samples

EXPECTED_SHA = {
    "humaneval": "b796127e635a67f93fb35c04f4cb03cf06f38c8072ee7cee8833d7bee06979ef",
    "mbpp": "ccf64ceae9c5403bf50a044cb6d505bfd2a2963ee58338ba268fd65beab92a9f",
}


@pytest.mark.parametrize(
    ("name", "count", "first"),
    [
        ("humaneval", 164, "HumanEval/0"),
        ("humanevalplus", 164, "HumanEval/0"),
        ("mbpp", 500, "Mbpp/11"),
        ("mbpp-sanitized", 257, "Mbpp/11"),
        ("humanevalpack-synthesize-go", 164, "Go/0"),
        ("humanevalpack-fix-rust", 164, "Rust/0"),
    ],
)
def test_load_counts(benchmarks_dir: Path, name: str, count: int, first: str) -> None:
    _, problems, _ = load(name, benchmarks_dir)
    assert len(problems) == count
    assert problems[0].task_id == first


def test_dataset_sha256_recorded(benchmarks_dir: Path) -> None:
    from wavecoder.evals.benchmarks import sha256

    for name, digest in EXPECTED_SHA.items():
        _, _, path = load(name, benchmarks_dir)
        assert sha256(path) == digest


def test_unknown_benchmark_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="humaneval"):
        load("nope", None)


def test_go_import_handling(benchmarks_dir: Path) -> None:
    _, problems, _ = load("humanevalpack-synthesize-go", benchmarks_dir)
    p = problems[0]
    prog = program(p, p.canonical_solution, "synthesize")
    assert prog.startswith(p.extra["test_setup"])
    assert '"math"' in prog.split("func ")[0]  # math.Abs used in the body -> imported once
    assert prog.count('"math"') == 1  # the prompt's own import block was replaced, not duplicated
    commented = program(p, "    // strings.Split is not used\n    return false\n}\n", "synthesize")
    assert '"strings"' not in commented


def test_cpp_adds_missing_includes(benchmarks_dir: Path) -> None:
    _, problems, _ = load("humanevalpack-synthesize-cpp", benchmarks_dir)
    prog = program(problems[0], problems[0].canonical_solution, "synthesize")
    assert "#include<algorithm>" in prog and prog.count("#include<stdio.h>") == 1


def test_fix_continues_the_declaration(benchmarks_dir: Path) -> None:
    bench, problems, _ = load("humanevalpack-fix-java", benchmarks_dir)
    prog = bench.assemble(problems[0], problems[0].buggy_solution)
    assert prog.startswith(problems[0].extra["declaration"])


def test_prompt_formats_render(benchmarks_dir: Path) -> None:
    bench, problems, _ = load("humaneval", benchmarks_dir)
    p = problems[0]
    for fmt in PROMPT_FORMATS:
        text = render(fmt, bench, p)
        assert p.entry_point in text
    assert render("alpaca", bench, p).endswith("### Response:\n")
    assert "@@ Response" in render("magicoder", bench, p)


def test_replies_become_a_solution_or_a_continuation(benchmarks_dir: Path) -> None:
    bench, problems, _ = load("humaneval", benchmarks_dir)
    p = problems[0]
    code = f"{p.prompt}{p.canonical_solution}\n\nprint(has_close_elements([], 1))"
    sample = to_completion("alpaca", bench, p, f"Here you go:\n```python\n{code}\n```\n", 0)
    assert sample.solution.split() == (p.prompt + p.canonical_solution).split()
    base = to_completion("completion", bench, p, code, 0)  # a base model repeating the prompt
    assert base.completion.strip() == p.canonical_solution.strip() and not base.solution


def test_truncate_brace_languages() -> None:
    assert truncate("    return 1;\n}\n\nint main() {}\n", "cpp") == "    return 1;\n}\n"
    assert truncate("    return x\n\ndef other():\n    pass\n", "python") == "    return x\n"


def test_read_samples_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "s.jsonl"
    bad.write_text('{"task_id": "a", "completion": "x"}\n{"task_id": "a"}\n')
    with pytest.raises(ValueError, match=r"s.jsonl:2"):
        read_samples(bad)


def test_every_benchmark_has_a_runner_language() -> None:
    from wavecoder.evals.runners import RUNNER_LANGUAGES

    assert all(b.language in RUNNER_LANGUAGES for b in BENCHMARKS.values())
