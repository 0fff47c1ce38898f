"""Fixtures for the training tests: the shared tiny Llama, small data files in every format."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.tiny_model import tiny_llama_dir


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_llama_dir(tmp_path_factory)


@pytest.fixture(scope="session")
def tokenizer(tiny_llama: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_llama)


def alpaca_rows(n: int = 12) -> list[dict[str, Any]]:
    return [
        {
            "id": f"ex{i}",
            "instruction": f"Write a function that adds {i} to x.",
            "input": "" if i % 2 else f"x = {i}",
            "output": f"def add(x):\n    return x + {i}\n",
            "task": "code_generation",
            "language": "python",
        }
        for i in range(n)
    ]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path
