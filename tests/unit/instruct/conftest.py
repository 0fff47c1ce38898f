"""Fixtures of the instruction-data tests: a run directory whose `dedup` and `select` stages are
already done (a dozen snippets in the six corpus languages), the scripted teacher behind the local
OpenAI server, and an environment that reaches no real provider."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.openai_server import OpenAIServer
from tests.helpers.teacher import TeacherResponder
from wavecoder import pipeline as pl
from wavecoder.records import Code, Selected
from wavecoder.store import RunStore

SNIPPETS: list[tuple[str, str]] = [
    ("python", "def clamp(x, lo, hi):\n    if x < lo:\n        return lo\n    return min(x, hi)\n"),
    ("python", "def total(xs):\n    s = 0\n    for x in xs:\n        s = s + x\n    return s\n"),
    ("python", "def is_even(n):\n    return n % 2 == 0\n"),
    ("python", "def first(xs, default):\n    if xs:\n        return xs[0]\n    return default\n"),
    ("go", "func Max(a int, b int) int {\n\tif a > b {\n\t\treturn a\n\t}\n\treturn b\n}"),
    (
        "go",
        "func Sum(xs []int) int {\n\ts := 0\n"
        "\tfor _, x := range xs {\n\t\ts += x\n\t}\n\treturn s\n}",
    ),
    (
        "java",
        "public static int max(int a, int b) {\n    if (a > b) {\n"
        "        return a;\n    }\n    return b;\n}",
    ),
    ("java", "public boolean isEmpty(String s) {\n    return s == null || s.length() == 0;\n}"),
    ("javascript", "function add(a, b) {\n  const c = a + b;\n  return c;\n}"),
    (
        "javascript",
        "function last(xs) {\n  if (xs.length > 0) {\n"
        "    return xs[xs.length - 1];\n  }\n  return null;\n}",
    ),
    ("php", "function double($x) {\n    $y = $x * 2;\n    return $y;\n}"),
    ("ruby", "def square(x)\n  y = x * x\n  return y\nend"),
]


def make_codes() -> list[Code]:
    return [
        Code.new(language=lang, code=code, source="test", repo="r", path=f"f{i}", span=(1, 5))
        for i, (lang, code) in enumerate(SNIPPETS)
    ]


@pytest.fixture()
def run_dir(tmp_path: Path) -> Path:
    """A run directory with `dedup` and `select` done: every snippet selected, in order."""
    root = tmp_path / "run"
    store = RunStore(root)
    codes = make_codes()
    for name, records in (
        ("dedup", codes),
        ("select", [Selected(c.id, rank, 1.0 / (rank + 1)) for rank, c in enumerate(codes)]),
    ):
        sd = store.stage(name)
        sd.path.mkdir(parents=True)
        sd.write_records("records", records)
        sd.write_json("fingerprint", {"fingerprint": f"fp-{name}"}, sharded=False)
        sd.mark_done({"fingerprint": f"fp-{name}"})
    return root


@pytest.fixture()
def teacher() -> Iterator[tuple[OpenAIServer, TeacherResponder]]:
    with OpenAIServer() as srv:
        responder = TeacherResponder()
        srv.responder = responder
        yield srv, responder


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("WAVECODER_CACHE_DIR", str(tmp_path / "cache"))


def run_config(run_dir: Path, url: str, fmt: str = "json", **over: Any) -> pl.RunConfig:
    llm = {"base_url": url, "backoff_base_s": 0.01, "backoff_max_s": 0.05, "timeout_s": 5.0,
           "concurrency": 4}  # fmt: skip
    gen: dict[str, Any] = {"llm": {**llm, **over.pop("gen_llm", {})}, "output_format": fmt,
                           "rounds": 2, **over.pop("gen", {})}  # fmt: skip
    judge: dict[str, Any] = {"llm": {**llm, **over.pop("judge_llm", {})}, "output_format": fmt,
                             **over.pop("judge", {})}  # fmt: skip
    data = {"run_dir": str(run_dir), "stop_after": "judge", "generate": gen, "judge": judge}
    return pl.build_run_config({**data, **over})


def run(rc: pl.RunConfig) -> dict[str, Any]:
    return pl.run_pipeline(rc, start="generate", quiet=True)


def dataset(run_dir: Path) -> tuple[list[str], list[str], list[str], list[str]]:
    """Every line of the four logs, sorted (the dataset, independent of arrival order)."""
    out = []
    for stage, name in (("generate", "records"), ("generate", "rejected"), ("judge", "records"),
                        ("judge", "rejected")):  # fmt: skip
        path = run_dir / stage / f"{name}.jsonl"
        out.append(sorted(path.read_text().splitlines()) if path.exists() else [])
    return out[0], out[1], out[2], out[3]
