"""Licences: the nearest enclosing licence file as SPDX, carried on Code, filtered by allow-list."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.corpus.stage_helpers import records, rejected, run_stage, write_codes
from wavecoder.corpus import filter as filter_stage
from wavecoder.corpus import ingest
from wavecoder.corpus.licenses import LicenseFinder, allowed, license_of_text
from wavecoder.records import Code

TEXTS = Path(__file__).parents[2] / "fixtures" / "corpus" / "licenses"
MIT = (TEXTS / "MIT.txt").read_text()
BSD2 = (TEXTS / "BSD-2-Clause.txt").read_text()
REPO = Path(__file__).resolve().parents[3]


def _tree(root: Path) -> Path:
    """A Go-like tree: MIT at the top, a BSD-licensed folder inside, a Rust-style dual folder."""
    (root / "src" / "util").mkdir(parents=True)
    (root / "LICENSE").write_text(MIT)
    (root / "src" / "util" / "a.py").write_text("def top(x):\n    return x + 1\n")
    (root / "src" / "bsd" / "deep").mkdir(parents=True)
    (root / "src" / "bsd" / "COPYING").write_text(BSD2)
    (root / "src" / "bsd" / "deep" / "b.py").write_text("def bsd(x):\n    return x - 1\n")
    (root / "dual").mkdir()
    (root / "dual" / "LICENSE-MIT").write_text(MIT)
    (root / "dual" / "LICENSE-BSD").write_text(BSD2)
    (root / "dual" / "c.py").write_text("def dual(x):\n    return x * 2\n")
    return root


def test_texts_are_identified_as_spdx() -> None:
    assert license_of_text(MIT) == "MIT"
    assert license_of_text(BSD2) == "BSD-2-Clause"
    assert license_of_text(MIT + "\n\n" + BSD2) == "MIT AND BSD-2-Clause"
    assert license_of_text("All rights reserved. Released under the MIT license.") == ""


def test_nearest_enclosing_licence_file_wins(tmp_path: Path) -> None:
    finder = LicenseFinder(_tree(tmp_path / "t"))
    assert finder.of("src/util/a.py") == "MIT"
    assert finder.of("src/bsd/deep/b.py") == "BSD-2-Clause"
    assert finder.of("dual/c.py") == "BSD-2-Clause OR MIT"
    assert finder.of("top.py") == "MIT"
    assert LicenseFinder(tmp_path / "nolicence").of("x/y.py") == ""


def test_every_code_record_carries_its_licence(tmp_path: Path) -> None:
    root = _tree(tmp_path / "t")
    run_stage(ingest, tmp_path / "out", cfg=ingest.Config(workers=1), paths=[root])
    by_name = {c.func_name: c.license for c in records(tmp_path / "out")}
    assert by_name == {"top": "MIT", "bsd": "BSD-2-Clause", "dual": "BSD-2-Clause OR MIT"}


@pytest.mark.parametrize(
    ("expression", "licenses", "ok"),
    [
        ("MIT", ["MIT", "Apache-2.0"], True),
        ("mit", ["MIT"], True),
        ("GPL-3.0-only", ["MIT", "Apache-2.0"], False),
        ("GPL-3.0-only OR MIT", ["MIT"], True),
        ("MIT AND GPL-3.0-only", ["MIT"], False),
        ("", ["MIT"], False),
        ("", ["MIT", "NOASSERTION"], True),
    ],
)
def test_allow_list_follows_spdx_and_or(expression: str, licenses: list[str], ok: bool) -> None:
    assert allowed(expression, licenses) is ok


def test_filter_licenses_drops_the_rest_with_a_reason(tmp_path: Path) -> None:
    def code(name: str, license: str) -> Code:
        body = f"def {name}(x):\n    '''Return x.'''\n" + "    y = x\n" * 10 + "    return y\n"
        return Code.new(
            language="python", code=body, source="tree", func_name=name, license=license
        )

    codes = [code("a", "MIT"), code("b", "GPL-3.0-only"), code("c", ""), code("d", "Apache-2.0")]
    src = write_codes(tmp_path / "in", codes)
    cfg = filter_stage.Config(licenses=("MIT", "Apache-2.0"))
    stats = run_stage(filter_stage, tmp_path / "out", cfg=cfg, inputs={"ingest": src})
    assert {c.func_name for c in records(tmp_path / "out")} == {"a", "d"}
    dropped = {r.detail for r in rejected(tmp_path / "out") if r.reason == "license"}
    assert dropped == {
        "license: GPL-3.0-only is not in filter.licenses",
        "license: NOASSERTION is not in filter.licenses",
    }
    assert stats["rejected.license"] == 2


def test_permissive_only_dataset_through_the_command(tmp_path: Path) -> None:
    """The user's path: ingest a tree, then `wavecoder filter ... licenses=[MIT]`."""
    root = _tree(tmp_path / "t")
    exe = str(Path(sys.executable).with_name("wavecoder"))
    env = {
        **os.environ,
        "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
    }
    run = [exe, "ingest", "-i", str(root), "-o", str(tmp_path / "i"), "-q"]
    assert subprocess.run(run, env=env, capture_output=True).returncode == 0
    run = [exe, "filter", "-i", str(tmp_path / "i"), "-o", str(tmp_path / "f"), "-q"]
    proc = subprocess.run([*run, "min_chars=1", "licenses=[MIT]"], env=env, capture_output=True)
    assert proc.returncode == 0, proc.stderr
    kept = sorted(json.loads(x)["license"] for x in (tmp_path / "f" / "records.jsonl").open())
    assert kept == ["BSD-2-Clause OR MIT", "MIT"]
    reasons = [json.loads(x)["reason"] for x in (tmp_path / "f" / "rejected.jsonl").open()]
    assert reasons == ["license"]
