"""Stage `generate`: the LLM generator turns each selected raw code into one instruction case.

Reads `select` (which codes, in rank order) and `dedup` (their Code records). Each code gets a
task from the configured mix (default the paper's 57/16/16/11 generation/summarization/repair/
translation), deterministic from the run seed and the code id; a translation target from
`translate_targets` (never the source language); for repair, a bug put into the code
(`bugs.py`), or, with `repair_bugs: generator`, the teacher writes it.

In a pipeline run this stage runs together with `judge`, round by round (`run_pair`; see
`loop.py` for the interleaving and `docs/instruct.md`): the judge's verdicts feed the example
pools that later rounds' prompts draw from. On its own (`wavecoder generate`, or a run that
stops here) it needs `rounds: 1` and draws from the seed pools only. Writes `records.jsonl`
(Example, all rounds), `rejected.jsonl` (Rejected per code without an Example: `parse_error`,
`prefilter.<rule>`, `llm_error`, `llm_filtered`, `budget`; the raw replies in `detail`),
`usage.json` and `stats.json`. With no teacher configured, a pipeline run stops cleanly before
this stage and prints the prompts it would send with a token and cost estimate (`defer`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from wavecoder.config import ConfigError
from wavecoder.instruct.bugs import BUG_KINDS, BugKind
from wavecoder.instruct.roles import RoleConfig
from wavecoder.instruct.roles import fingerprint_config as fingerprint_config  # endpoints left out
from wavecoder.instruct.task import DEFAULT_TARGETS, PAPER_MIX, OutputFormat
from wavecoder.records import TASKS, Language

VERSION = 1
INPUTS = ("select", "dedup")
PAIRED_WITH = "judge"  # run round by round with the judge (pipeline.run_paired)


def _teacher() -> RoleConfig:
    # the repository's generator settings: GPT-3.5, temperature 1; 800 tokens as its unused flag
    return RoleConfig(model="gpt-3.5-turbo", temperature=1.0, max_tokens=800)


@dataclass(frozen=True)
class Config:
    llm: RoleConfig = field(default_factory=_teacher)
    output_format: OutputFormat = "json"  # json (JSON mode) | json_schema | text (key: value)
    mix: dict[str, float] = field(default_factory=lambda: dict(PAPER_MIX))
    translate_targets: tuple[Language, ...] = DEFAULT_TARGETS
    repair_bugs: Literal["inject", "generator"] = "inject"
    bug_kinds: tuple[BugKind, ...] = BUG_KINDS
    rounds: int = 4  # feedback rounds: round r draws from the pools at the end of round r-1
    few_shot_good: int = 1  # the repository's sample_size 1: one good, one bad per prompt
    few_shot_bad: int = 1
    dry_run_show: int = 2  # prompts printed in full when no teacher is configured

    def __post_init__(self) -> None:
        unknown = sorted(set(self.mix) - set(TASKS))
        if unknown:
            raise ValueError(
                f"mix: unknown task(s) {', '.join(unknown)}; tasks: {', '.join(TASKS)}"
            )
        if any(w < 0 for w in self.mix.values()) or sum(self.mix.values()) <= 0:
            raise ValueError("mix: weights must be >= 0 with a positive sum")
        if self.rounds < 1 or min(self.few_shot_good, self.few_shot_bad) < 0:
            raise ValueError("need rounds >= 1 and few_shot_* >= 0")


def run(ctx: Any, *, map_fn: Any = None, workers: int = 1) -> dict[str, Any]:
    """The generator alone (no judge, so no feedback): one round from the seed pools. With
    `map_fn` (an executor's map), the units run on `workers` workers (`distributed.py`)."""
    from wavecoder.instruct.stage import run_loop

    if ctx.cfg.rounds != 1:
        raise ConfigError(
            f"generate.rounds is {ctx.cfg.rounds}: rounds feed on the judge's verdicts, so "
            "generate alone needs generate.rounds=1 (or run generate and judge together: "
            "wavecoder run CONFIG)"
        )
    stats, _ = run_loop(ctx, None, map_fn=map_fn, workers=workers)
    return stats


def run_pair(
    ctx: Any, judge_ctx: Any, *, map_fn: Any = None, workers: int = 1
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Both stages round by round; `map_fn`/`workers` spread each round (`distributed.py`)."""
    from wavecoder.instruct.stage import run_loop

    gen, judge = run_loop(ctx, judge_ctx, map_fn=map_fn, workers=workers)
    assert judge is not None
    return gen, judge


def defer(
    cfg: Config, *, inputs: dict[str, Any], seed: int, sections: dict[str, Any]
) -> str | None:
    """None when the generator (and judge) can reach a model; else the dry-run report."""
    from wavecoder.instruct.dryrun import report
    from wavecoder.instruct.roles import teacher_configured

    judge = sections.get("judge")
    missing = [role for role, c in (("generate", cfg), ("judge", judge)) if c is not None
               and not teacher_configured(c.llm)]  # fmt: skip
    if not missing:
        return None
    return report(cfg, judge, inputs=inputs, seed=seed, missing=missing)
