"""MBPP+ by evalplus's rules: loading (inputs rebuilt as evalplus does), the special oracles, the
plain-data decoder, and base / plus verdicts in the sandbox on a handful of tasks."""

from __future__ import annotations

import collections
import decimal
import fractions
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from wavecoder.evals import evalplus_rules
from wavecoder.evals.benchmarks import load, sha256
from wavecoder.evals.benchmarks.sources import read_rows
from wavecoder.evals.evalplus_oracle import decode, first_mismatch, matches
from wavecoder.evals.score import ScoreOptions, score_completions, summarize
from wavecoder.evals.types import Completion

IDS = ("Mbpp/2", "Mbpp/124", "Mbpp/737", "Mbpp/581")
REPO = Path(__file__).resolve().parents[3]


class Unlisted:
    """A class the decoder does not know: its instances cannot be checked."""


@pytest.fixture(scope="module")
def mbppplus(benchmarks_dir: Path) -> tuple:  # type: ignore[type-arg]
    bench, problems, path = load("mbppplus", benchmarks_dir)
    return bench, problems, path


def test_loader_rebuilds_inputs_like_evalplus(mbppplus: tuple) -> None:  # type: ignore[type-arg]
    bench, problems, _ = mbppplus
    assert bench.task == "evalplus" and len(problems) == 399
    by_id = {p.task_id: p for p in problems}
    assert by_id["Mbpp/2"].extra["evalplus_dataset"] == "mbpp"
    assert isinstance(evalplus_rules.inputs_of(by_id["Mbpp/2"], "base")[0][0], tuple)
    assert isinstance(evalplus_rules.inputs_of(by_id["Mbpp/124"], "base")[0][1], complex)
    assert evalplus_rules.inputs_of(by_id["Mbpp/793"], "plus") == []  # `{}` in this file


def test_loader_names_the_file_for_a_row_without_inputs(tmp_path: Path) -> None:
    bad = tmp_path / "mbppplus.jsonl"
    bad.write_text(json.dumps({"task_id": 2, "code": "", "prompt": "", "test": ""}) + "\n")
    with pytest.raises(ValueError, match=r"mbppplus\.jsonl.*MbppPlus\.jsonl\.gz"):
        load("mbppplus", bad)


def test_special_oracles() -> None:
    assert matches("mbpp", "similar_elements", (5, 4), (4, 5), [], 0)  # set equality
    assert not matches("mbpp", "similar_elements", [[1]], (4, 5), [], 0)  # unhashable: a fail
    assert matches("mbpp", "check_str", True, True, [], 0)  # "is not None", a bool as is
    assert not matches("mbpp", "check_str", False, True, [], 0)
    assert matches("mbpp", "sum_div", 0, 7, [], 0) and not matches("mbpp", "sum_div", 1, 7, [], 0)
    assert matches("mbpp", "are_equivalent", "anything", False, [], 0)
    assert matches("mbpp", "surface_Area", 35, 5, [3, 4], 1e-4)  # by evalplus's formula
    assert matches("mbpp", "digit_distance_nums", 7, 0, [123, 256], 0)
    assert not matches("humaneval", "sum_div", 0, 7, [], 0)  # MBPP+ oracles only for MBPP+


def test_forced_atol_carries_over_like_evalplus() -> None:
    outs = [pickle.dumps(v) for v in (1.0, 10**20 + 1)]
    # exact on input 0 (a float: atol becomes 1e-6), then allclose decides input 1
    assert first_mismatch("mbpp", "f", outs, [1.0, 10**20], [[], []], 0) is None
    assert first_mismatch("mbpp", "f", outs[1:], [10**20], [[]], 0) == (0, "wrong output")
    assert first_mismatch("mbpp", "f", outs[:1], [1.0, 2.0], [[], []], 0) == (1, "no output")


def test_decoder_admits_plain_data_only() -> None:
    values = [
        collections.Counter("abca"),
        collections.OrderedDict(a=1),
        collections.deque([1, 2], maxlen=5),
        collections.defaultdict(list, {"k": [1]}),
        fractions.Fraction(1, 3),
        decimal.Decimal("1.5"),
        np.float64(0.5),
        np.array([[1, 2], [3, 4]]),
        np.bool_(True),
        {1, 2},
        frozenset({3}),
        complex(1, 2),
        bytearray(b"xy"),
        [(1, "a"), {"b": None}],
    ]
    for value in values:
        got = decode(pickle.dumps(value, protocol=4))
        assert type(got) is type(value)
        assert np.array_equal(got, value) if isinstance(value, np.ndarray) else got == value
    refused = [
        b"cos\nsystem\n(S'true'\ntR.",
        b"cbuiltins\neval\n(S'1'\ntR.",
        b"cbuiltins\ngetattr\n.",
        b"cbuiltins\nbytearray\n(I1000000000000\ntR.",  # would allocate; refused
        pickle.dumps(Unlisted()),
    ]
    for data in refused:
        with pytest.raises(pickle.UnpicklingError):
            decode(data)


@pytest.mark.usefixtures("sandbox_ok")
def test_base_and_plus_verdicts(
    mbppplus: tuple, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[type-arg]
    monkeypatch.setenv("WAVECODER_CACHE_DIR", str(tmp_path))
    bench, problems, path = mbppplus
    problems = [p for p in problems if p.task_id in IDS]
    by_id = {p.task_id: p for p in problems}
    canon = {t: by_id[t].canonical_solution for t in IDS}
    comps = [Completion(t, 0, canon[t]) for t in IDS]
    comps += [
        Completion("Mbpp/2", 1, "def similar_elements(a, b):\n    return tuple(sorted("
                   "set(a) & set(b), reverse=True))\n"),  # order differs: set oracle passes
        Completion("Mbpp/2", 2, "def similar_elements(a, b):\n    return ()\n"),
        Completion("Mbpp/737", 1, canon["Mbpp/737"].replace("return re.search(regex, string)",
                   "return bool(re.search(regex, string))")),  # a bool for "not None"
        Completion("Mbpp/737", 2, "def check_str(s):\n    return 'yes'\n"),  # never None
        Completion("Mbpp/2", 3, canon["Mbpp/2"] + "\n_o = similar_elements\n"
                   "def similar_elements(a, b):\n    return _o(a, b) if len(a) < 5 else ()\n"),
    ]  # fmt: skip
    opts = ScoreOptions(timeout_s=5.0, ks=(1,))
    out = {
        (o.task_id, o.sample_index): o
        for o in score_completions(bench, problems, comps, opts, dataset_sha256=sha256(path))
    }
    assert all(out[(t, 0)].status == "pass" for t in IDS), [out[(t, 0)] for t in IDS]
    assert out[("Mbpp/2", 1)].status == "pass", out[("Mbpp/2", 1)]
    assert (out[("Mbpp/2", 2)].status, out[("Mbpp/2", 2)].stage) == ("fail", "base")
    assert out[("Mbpp/737", 1)].status == "pass"
    assert out[("Mbpp/737", 2)].status == "fail"
    assert (out[("Mbpp/2", 3)].status, out[("Mbpp/2", 3)].stage) == ("fail", "plus")
    summary = summarize(bench, list(out.values()), opts, dataset=path, dataset_sha256="x")
    assert summary["base_tests"]["pass@1"] > summary["pass@1"]


@pytest.mark.usefixtures("sandbox_ok")
def test_installed_cli_scores_mbppplus(benchmarks_dir: Path, tmp_path: Path) -> None:
    """`wavecoder eval score --benchmark mbppplus --data FILE` (docs/evaluation.md) end to end."""
    rows = read_rows(benchmarks_dir / "mbppplus/MbppPlus-767efcc.jsonl.gz")
    row = next(r for r in rows if r["task_id"] == "Mbpp/2")
    data = tmp_path / "MbppPlus.jsonl"
    data.write_text(json.dumps(row) + "\n")
    samples = tmp_path / "samples.jsonl"
    samples.write_text(
        json.dumps({"task_id": "Mbpp/2", "completion": row["canonical_solution"]}) + "\n"
        + json.dumps({"task_id": "Mbpp/2", "completion": "def similar_elements(a, b):\n"
                      "    return None\n"}) + "\n"
    )  # fmt: skip
    exe = Path(sys.executable).with_name("wavecoder")
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "WAVECODER_CACHE_DIR": str(tmp_path)}
    argv = [str(exe), "eval", "score", "--benchmark", "mbppplus", "--samples", str(samples)]
    argv += ["--data", str(data), "--allow-code-execution", "-o", str(tmp_path / "out"), "-k", "1"]
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["benchmark"] == "mbppplus" and summary["pass@1"] == 0.5
    assert summary["base_tests"]["pass@1"] == 0.5
