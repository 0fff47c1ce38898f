"""benchmarks/bench_stages.py: its CodeSearchNet file reads back cleanly, copies are distinct
code of the same size, and the script's --help runs (the full run takes minutes)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from wavecoder.corpus.codesearchnet import Reader
from wavecoder.records import Code

SCRIPT = Path(__file__).resolve().parents[3] / "benchmarks" / "bench_stages.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_stages", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _records(path: Path) -> Path:
    codes = [
        Code.new(language="python", code=f"def f{i}(x):\n    '''Add {i}.'''\n    return x + {i}\n",
                 source="stdlib", path=f"m{i}.py", span=(1, 3), docstring=f"Add {i}.",
                 func_name=f"f{i}", repo="cpython")
        for i in range(3)
    ]  # fmt: skip
    path.write_text("".join(json.dumps(c.to_dict()) + "\n" for c in codes))
    return path


def test_codesearchnet_file_reads_back_as_distinct_same_size_copies(tmp_path: Path) -> None:
    bench = _bench()
    out = tmp_path / "python_train_0.jsonl.gz"
    copies = bench.write_codesearchnet(_records(tmp_path / "records.jsonl"), 7, out)
    reader = Reader()
    rows = list(reader.read_jsonl(out))
    assert copies == 3
    assert len(rows) == 7 and not reader.rejected
    assert len({r.id for r in rows}) == 7 and len({r.code for r in rows}) == 7
    assert [len(r.code) for r in rows[3:6]] == [len(r.code) for r in rows[:3]]
    assert rows[0].code.startswith("def f0(x)") and rows[3].code.startswith("efg g1(y)")


def test_too_many_copies_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="at most 78"):
        _bench().write_codesearchnet(_records(tmp_path / "r.jsonl"), 79, tmp_path / "x.jsonl.gz")


def test_help_runs() -> None:
    done = subprocess.run([sys.executable, str(SCRIPT), "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "--ingest-shards" in done.stdout
