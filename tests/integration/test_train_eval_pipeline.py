"""`wavecoder run` through train and eval: a tiny model is fine-tuned, then scored in the sandbox.

The model is the shared tiny random Llama, so its programs fail; what is checked is the wiring:
the eval stage finds the model train saved, generates with the training template, runs every
program, writes per-benchmark reports, resumes by benchmark, and refuses before training when
consent is missing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.requirements import require_benchmarks
from tests.helpers.tiny_model import tiny_llama_dir
from wavecoder import pipeline as pl
from wavecoder.config import ConfigError
from wavecoder.evals.stage import Config as EvalConfig
from wavecoder.evals.stage import model_config


def _rows(n: int) -> list[dict[str, str]]:
    return [
        {"instruction": f"Return x plus {i}.", "input": "", "output": f"return x + {i}\n"}
        for i in range(n)
    ]


def _config(tmp_path: Path, base: Path, **eval_over: Any) -> dict[str, Any]:
    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in _rows(8)), encoding="utf-8")
    section = {
        "benchmarks": ["humaneval", "mbpp"],
        "data": str(require_benchmarks()),
        "limit": 2,
        "max_tokens": 8,
        "ks": [1],
        "llm": {"device": "cpu", "cache_path": str(tmp_path / "llm.sqlite")},
        "allow_code_execution": True,
        **eval_over,
    }
    return {
        "run_dir": str(tmp_path / "run"),
        "train": {
            "data": [str(data)],
            "base_model": str(base),
            "recipe": "tiny-cpu",
            "settings": {"max_steps": 2},
        },
        "eval": section,
    }


def test_consent_is_checked_before_training(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    rc = pl.build_run_config(
        _config(tmp_path, tiny_llama_dir(tmp_path_factory), allow_code_execution=False)
    )
    with pytest.raises(ConfigError, match=r"eval\.allow_code_execution=true"):
        pl.run_pipeline(rc, start="train", quiet=True)
    assert not (tmp_path / "run" / "train").exists()


def test_train_then_eval_then_resume_by_benchmark(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    rc = pl.build_run_config(_config(tmp_path, tiny_llama_dir(tmp_path_factory)))
    results = pl.run_pipeline(rc, start="train", quiet=True)
    stats = results["eval"]
    assert stats is not None and stats["model"] == str(tmp_path / "run" / "train" / "model")
    eval_dir = tmp_path / "run" / "eval"
    for name in ("humaneval", "mbpp"):
        assert 0.0 <= stats[f"{name}.pass@1"] <= 1.0
        summary = json.loads((eval_dir / name / "summary.json").read_text())
        assert summary["prompt_format"] == "alpaca"
        assert summary["pass@1"] == stats[f"{name}.pass@1"]
        lines = (eval_dir / name / "results.jsonl").read_text().splitlines()
        outcomes = [json.loads(line) for line in lines]
        assert len(outcomes) == 2, "one result per problem (limit 2, n 1)"
        assert {o["status"] for o in outcomes} <= {"pass", "fail", "timeout", "error"}
        samples = (eval_dir / name / "samples.jsonl").read_text().splitlines()
        assert len(samples) == 2 and all("raw" in json.loads(s) for s in samples)

    # An eval stage interrupted after humaneval: only mbpp runs again.
    kept = (eval_dir / "humaneval" / "samples.jsonl").stat().st_mtime_ns
    (eval_dir / "done.json").unlink()
    for f in (eval_dir / "mbpp").iterdir():
        f.unlink()
    again = pl.run_pipeline(rc, start="train", quiet=True)
    assert again["train"] is None, "a finished train stage is not trained again"
    assert again["eval"] is not None and again["eval"]["mbpp.pass@1"] == stats["mbpp.pass@1"]
    assert (eval_dir / "humaneval" / "samples.jsonl").stat().st_mtime_ns == kept
    assert (eval_dir / "mbpp" / "summary.json").is_file()


def test_an_adapter_is_evaluated_on_the_base_it_names(tmp_path: Path) -> None:
    train_dir = tmp_path / "train"
    (train_dir / "adapter").mkdir(parents=True)
    (train_dir / "training_summary.json").write_text(json.dumps({"base_model": "org/base"}))
    llm = model_config(EvalConfig(), train_dir)
    assert (llm.backend, llm.model, llm.adapter) == (
        "transformers",
        "org/base",
        str(train_dir / "adapter"),
    )
    with pytest.raises(ConfigError, match="neither model/ nor adapter/"):
        model_config(EvalConfig(), tmp_path / "empty")


def test_eval_section_is_checked_when_the_config_loads() -> None:
    with pytest.raises(ConfigError, match=r"eval: unknown benchmark 'humaneva'"):
        pl.build_run_config({"eval": {"benchmarks": ["humaneva"]}})
    with pytest.raises(ConfigError, match=r"eval: need n_samples"):
        pl.build_run_config({"eval": {"samples_per_description": 0}})
    harness_name = pl.build_run_config({"eval": {"benchmarks": ["humanevalexplain-go"]}})
    assert harness_name.sections["eval"].benchmarks == ("humanevalexplain-go",)
