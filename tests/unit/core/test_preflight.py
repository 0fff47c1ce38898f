"""Mistakes in a config or on the command line fail before any stage runs or anything is
written, with one line naming the key (issue 11, items 3, 4, 5 and 7)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.unit.core.toy_stages import TOY_STAGES
from wavecoder import cli
from wavecoder import pipeline as pl
from wavecoder.config import ConfigError, load_yaml

REPO = Path(__file__).resolve().parents[3]
TINY = REPO / "configs" / "tiny.yaml"
PAPER = REPO / "configs" / "paper.yaml"
TRAIN_TO_EVAL = ["--from", "train", "--to", "eval"]  # after the overrides (see issue 14)


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = cli.main(argv)
    return code, capsys.readouterr().err


@pytest.fixture
def train_ready(tmp_path: Path) -> list[str]:
    """Overrides under which train's own preflight passes (a data file, a model folder)."""
    data = tmp_path / "data.jsonl"
    data.write_text('{"instruction": "a", "output": "b"}\n', encoding="utf-8")
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}", encoding="utf-8")
    return [f"train.data=[{data}]", f"train.base_model={model}", f"run_dir={tmp_path / 'run'}"]


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("train.data=[missing.jsonl]", "train.data: missing.jsonl: no such file"),
        ("train.data=[data/missing.jsonl]", "train.data: data/missing.jsonl: no such file"),
        ("train.base_model=nosuchmodel", "train.base_model: nosuchmodel is not in the local hub"),
        ("train.base_model=./no/such/dir", "train.base_model: ./no/such/dir: no such model"),
    ],
)
def test_train_inputs_are_checked_before_anything_runs(
    override: str, key: str, train_ready: list[str], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    argv = ["run", str(PAPER), *train_ready, override,
            "eval.allow_code_execution=true", "eval.sandbox=weak", "eval.benchmarks=[humaneval]",
            *TRAIN_TO_EVAL]  # fmt: skip
    code, err = _run(argv, capsys)
    assert code == 2 and key in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_an_eval_llm_without_its_key_fails_before_training(
    train_ready: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.delenv("WAVECODER_TEST_ABSENT_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    argv = ["run", str(PAPER), *train_ready,
            "eval.allow_code_execution=true", "eval.sandbox=weak", "eval.benchmarks=[humaneval]",
            "eval.llm.backend=openai", "eval.llm.model=my-model", "eval.llm.endpoint=chat",
            "eval.llm.api_key_env=WAVECODER_TEST_ABSENT_KEY", *TRAIN_TO_EVAL]  # fmt: skip
    code, err = _run(argv, capsys)
    assert code == 2 and "eval.llm.api_key_env" in err and "WAVECODER_TEST_ABSENT_KEY" in err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("select.budget=0", "select: budget must be positive"),
        ("select.budget=2.5", "select: budget: a count must be whole"),
        ("dedup.threshold=1.5", "dedup: threshold"),
        ("filter.min_chars=900", "filter: min_chars 900 > max_chars 800"),
        ("ingest.splits=[training]", "ingest: splits: 'training' not a CodeSearchNet partition"),
        ("select.language_budgets={klingon: 3}", "select: unknown language 'klingon'"),
        ("select.language_budgets={go: 3}", "select.language_budgets.go: the run ingests no go"),
        ("ingest.sources=[no/such/tree]", "ingest.sources: 'no/such/tree' does not exist"),
    ],
)
def test_value_ranges_fail_before_any_stage(
    override: str, key: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = _run(["run", str(TINY), f"run_dir={tmp_path / 'run'}", override], capsys)
    assert code == 2 and key in err, err
    assert not (tmp_path / "run").exists()


def test_a_secret_in_an_env_field_is_refused_unechoed_and_unwritten(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = "sk-proj-AbC123xyz789notarealkey"
    for key in ("eval.llm.api_key_env", "eval.llm.base_url_env"):
        code, err = _run(
            ["run", str(TINY), f"run_dir={tmp_path / 'run'}", f"{key}={secret}"], capsys
        )
        assert code == 2 and key in err and "not an environment variable name" in err
        assert secret not in err and "sk-proj" not in err
    assert not (tmp_path / "run").exists()


def test_a_refused_run_leaves_config_yaml_as_it_was(tmp_path: Path) -> None:
    data = {"run_dir": str(tmp_path / "run"), "seed": 1, "count": {"n": 4}}
    pl.run_pipeline(pl.build_run_config(data, TOY_STAGES), stages=TOY_STAGES)
    saved = (tmp_path / "run" / "config.yaml").read_bytes()
    changed = pl.build_run_config({**data, "count": {"n": 5}}, TOY_STAGES)
    with pytest.raises(pl.StaleStageError, match="count.n"):
        pl.run_pipeline(changed, stages=TOY_STAGES)
    stale_downstream = pl.build_run_config({**data, "square": {"delay_s": 0.001}}, TOY_STAGES)
    with pytest.raises(pl.StaleStageError, match="square.delay_s"):
        pl.run_pipeline(stale_downstream, stages=TOY_STAGES)
    assert (tmp_path / "run" / "config.yaml").read_bytes() == saved


def test_a_stale_downstream_stage_refuses_before_upstream_runs(tmp_path: Path) -> None:
    data = {"run_dir": str(tmp_path / "run"), "seed": 1, "count": {"n": 4}}
    pl.run_pipeline(pl.build_run_config(data, TOY_STAGES), stages=TOY_STAGES)
    (tmp_path / "run" / "count" / "done.json").unlink()  # count will rerun ...
    changed = pl.build_run_config({**data, "square": {"delay_s": 0.001}}, TOY_STAGES)
    with pytest.raises(pl.StaleStageError, match="square"):
        pl.run_pipeline(changed, stages=TOY_STAGES)
    assert not (tmp_path / "run" / "count" / "done.json").exists()  # ... but did not


def test_a_repeated_yaml_section_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("select:\n  budget: 3\nfilter: {}\nselect:\n  budget: 5\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"x.yaml:4: .*'select' appears twice \(lines 1 and 4\)"):
        load_yaml(path)
    merged = tmp_path / "merge.yaml"  # a key overriding a `<<:` merge is not a repeat
    merged.write_text("a: &b {budget: 3, metric: cosine}\nselect:\n  <<: *b\n  budget: 5\n")
    assert load_yaml(merged)["select"] == {"budget": 5, "metric": "cosine"}


def test_force_of_a_stage_the_run_does_not_visit_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["run", str(TINY), f"run_dir={tmp_path / 'run'}", "--force", "train"]
    code, err = _run(argv, capsys)
    assert code == 2
    assert "--force train: train is not among the stages" in err and "stop_after: export" in err
    assert not (tmp_path / "run").exists()


def test_ingest_without_sources_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = _run(["ingest", "-o", str(tmp_path / "out")], capsys)
    assert code == 2 and "ingest: no sources: pass -i SOURCE" in err
    assert not (tmp_path / "out" / "records.jsonl").exists()


def test_a_stage_that_writes_no_records_warns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = {"run_dir": str(tmp_path / "run"), "seed": 1, "count": {"n": 0}}
    with caplog.at_level(logging.WARNING, logger="wavecoder.pipeline"):
        pl.run_pipeline(pl.build_run_config(data, TOY_STAGES), stop="count", stages=TOY_STAGES)
    assert "count: wrote no records" in caplog.text
