"""The `eval` pipeline stage: generate with the model the `train` stage saved, then score.

A thin shell over `wavecoder.evals.api.evaluate`, the function `wavecoder eval generate` runs.
The stage folder holds one folder per benchmark (`samples.jsonl`, `results.jsonl`,
`summary.json`, and `descriptions.jsonl` for Explain); a benchmark whose summary exists is not
run again, so an interrupted stage resumes by benchmark (and the LLM cache replays finished
generations). Stats: `<benchmark>.pass@k` for every reported k.

The model: with the `transformers` backend and `llm.model` empty, the train stage's `model/`
(merged or fully fine-tuned), else its `adapter/` on the base model it names. With the `openai`
backend, `llm.model` names the trained weights as a server (vLLM, SGLang) serves them.
Programs run only with `allow_code_execution: true`; the run checks that, the sandbox and the
toolchains before its first stage starts, not after training.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wavecoder.config import ConfigError
from wavecoder.evals.prompts import PromptFormat
from wavecoder.evals.sandbox import SandboxMode
from wavecoder.evals.score import DEFAULT_KS
from wavecoder.llm.base import LLMConfig

VERSION = 1
INPUTS: tuple[str, ...] = ("train",)
SHARDABLE = False


def _local_llm() -> LLMConfig:
    return LLMConfig(backend="transformers", model="", endpoint="completions")


@dataclass(frozen=True)
class Config:
    """The `eval:` section of an experiment YAML."""

    benchmarks: tuple[str, ...] = ("humaneval", "mbpp")
    data: str = ""  # benchmark file, folder or hf://OWNER/NAME@REV/PATH ("" = pinned upstream)
    llm: LLMConfig = field(default_factory=_local_llm)
    prompt_format: PromptFormat = "alpaca"  # the training template (wavecoder.train.formatting)
    n_samples: int = 1  # Explain: descriptions per problem (stage 1)
    samples_per_description: int = 1  # Explain stage 2: programs per description
    temperature: float = 0.0
    max_tokens: int = 512
    limit: int = 0  # only the first N problems of each benchmark (0: all)
    allow_code_execution: bool = False
    sandbox: SandboxMode = "namespaces"
    timeout_s: float = 10.0
    workers: int = 0  # parallel programs (0: one per CPU)
    ks: tuple[int, ...] = DEFAULT_KS

    def __post_init__(self) -> None:
        from wavecoder.evals.benchmarks import canonical

        for name in self.benchmarks:  # our names or bigcode-evaluation-harness's
            try:
                canonical(name)
            except KeyError as exc:
                raise ValueError(exc.args[0]) from exc
        if min(self.n_samples, self.samples_per_description, self.max_tokens) < 1:
            raise ValueError("need n_samples, samples_per_description and max_tokens >= 1")
        if self.limit < 0 or any(k < 1 for k in self.ks):
            raise ValueError("need limit >= 0 and every k >= 1")


def preflight(cfg: Config) -> None:
    """Consent, sandbox and toolchains: checked before the run's first stage."""
    from wavecoder.evals.benchmarks import BENCHMARKS, canonical
    from wavecoder.evals.sandbox import namespaces_available
    from wavecoder.evals.toolchains import ToolchainMissing, find

    if not cfg.allow_code_execution:
        raise ConfigError(
            "eval runs the programs the model writes: set eval.allow_code_execution=true "
            "(they run in the sandbox, see docs/evaluation.md) or stop the run before eval "
            "(stop_after: train)"
        )
    if cfg.sandbox == "namespaces" and (reason := namespaces_available()):
        raise ConfigError(
            f"eval: sandbox unavailable: {reason}; set eval.sandbox=weak to accept weaker isolation"
        )
    if cfg.llm.backend != "transformers" and not cfg.llm.model:
        raise ConfigError("eval.llm.model is empty: name the served model of the trained weights")
    from wavecoder.preflight import check_llm

    check_llm(cfg.llm, key="eval.llm")  # its API key, before hours of training
    for language in sorted({BENCHMARKS[canonical(b)].language for b in cfg.benchmarks}):
        try:
            find(language)
        except ToolchainMissing as exc:
            raise ConfigError(f"eval: {exc}") from exc


def model_config(cfg: Config, train_dir: Path) -> LLMConfig:
    """The LLM client settings for the model the train stage saved in `train_dir`."""
    llm = cfg.llm
    if llm.backend != "transformers" or llm.model:
        return llm
    if (train_dir / "model").is_dir():
        return dataclasses.replace(llm, model=str(train_dir / "model"))
    summary_path = train_dir / "training_summary.json"
    if (train_dir / "adapter").is_dir() and summary_path.is_file():
        base = json.loads(summary_path.read_text(encoding="utf-8"))["base_model"]
        return dataclasses.replace(llm, model=base, adapter=str(train_dir / "adapter"))
    raise ConfigError(f"{train_dir}: the train stage saved neither model/ nor adapter/")


def run(ctx: Any, *, map_fn: Any = None, workers: int = 1) -> dict[str, Any]:
    """Generate and score each benchmark; with `map_fn` (an executor's map) the programs run on
    `workers` workers' sandboxes (`score_spread.py`); generation stays on this machine."""
    from wavecoder.evals.api import evaluate
    from wavecoder.evals.generate import GenerateOptions
    from wavecoder.evals.score import ScoreOptions
    from wavecoder.llm.base import build_llm

    cfg: Config = ctx.cfg
    preflight(cfg)
    gen = GenerateOptions(
        prompt_format=cfg.prompt_format,
        n=cfg.n_samples,
        temperature=cfg.temperature,
        max_tokens=cfg.max_tokens,
        samples_per_description=cfg.samples_per_description,
    )
    score = ScoreOptions(timeout_s=cfg.timeout_s, workers=cfg.workers, mode=cfg.sandbox, ks=cfg.ks)
    spread = None
    if map_fn is not None:
        from wavecoder.evals.score_spread import Spread

        spread = Spread(map_fn, workers)
    llm_cfg = model_config(cfg, ctx.inputs["train"].path)
    stats: dict[str, Any] = {"model": llm_cfg.model, "adapter": llm_cfg.adapter or None}
    with contextlib.ExitStack() as stack:
        llm = None
        for name in cfg.benchmarks:
            out = ctx.out.path / name
            summary_path = out / "summary.json"
            if not summary_path.is_file():  # a finished benchmark is not run again
                llm = llm or stack.enter_context(build_llm(llm_cfg, role="eval"))
                evaluate(
                    name,
                    llm=llm,
                    out=out,
                    data=Path(cfg.data) if cfg.data else None,  # sources.py reads hf:/ back
                    gen=gen,
                    score=score,
                    limit=cfg.limit,
                    progress=not ctx.quiet,
                    spread=spread,
                )
            summary = json.loads(summary_path.read_text(encoding="utf-8"))
            stats.update({f"{name}.{k}": v for k, v in summary.items() if k.startswith("pass@")})
    return stats
