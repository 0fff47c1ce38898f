"""The finder of documented commands (tests/helpers/doc_commands.py): what it must not miss."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.doc_commands import (
    commands_in_line,
    epilog_commands,
    markdown_commands,
    subcommands,
)

PAGE = """\
Run `wavecoder show runs/tiny select -n 2` to look; `wavecoder train` alone is a name.

```bash
wavecoder run configs/paper.yaml --from train --to eval train.data=[a.jsonl] \\
    eval.allow_code_execution=true                    # fine-tune, then pass@1
wavecoder train -i DATA [DATA ...] -o OUTDIR
wavecoder eval selftest --data d --allow-code-execution [--sample 20]
accelerate launch --config_file f.yaml -m wavecoder train -i data.jsonl -o out
wavecoder run a.yaml && wavecoder status runs/a
```
`wavecoder eval score --benchmark humanevalpack-explain-<lang>` is a pattern.
"""


def test_markdown_blocks_continuations_comments_chains_and_spans(tmp_path: Path) -> None:
    (tmp_path / "p.md").write_text(PAGE)
    found = [(d.source, d.argv) for d in markdown_commands(tmp_path / "p.md", tmp_path)]
    assert found == [
        ("p.md:1", ("show", "runs/tiny", "select", "-n", "2")),
        (
            "p.md:5",
            (
                "run",
                "configs/paper.yaml",
                "--from",
                "train",
                "--to",
                "eval",
                "train.data=[a.jsonl]",
                "eval.allow_code_execution=true",
            ),
        ),
        ("p.md:7", ("eval", "selftest", "--data", "d", "--allow-code-execution", "--sample", "20")),
        ("p.md:8", ("train", "-i", "data.jsonl", "-o", "out")),
        ("p.md:9", ("run", "a.yaml")),
        ("p.md:9", ("status", "runs/a")),
    ]


def test_help_epilogs_and_subcommands() -> None:
    help_out = (
        "usage: wavecoder eval [-h] {score,generate} ...\n\npositional arguments:\n"
        "  {score,generate}\n    score     score a file\n    generate  generate\n\n"
        "options:\n  -h, --help\n\nexamples:\n  wavecoder eval score --samples s.jsonl -o o\n"
        "  wavecoder eval generate --model M -o o\n\nmore text\n"
    )
    assert subcommands(help_out) == ["score", "generate"]
    found = [d.argv[:2] for d in epilog_commands(help_out, "eval --help")]
    assert found == [("eval", "score"), ("eval", "generate")]
    assert commands_in_line("python -m wavecoder status runs/x # look") == [("status", "runs/x")]
