"""Stage `judge`: the LLM discriminator checks every generated case rule by rule (reference §4).

Per task a rule list (the `[rule_id]` lines of `prompts/judge-<task>.txt`), each answered yes or
no with a reason, then an overall answer and reasons, in the paper's text format or as JSON. A
case is accepted only when the overall answer and every rule say yes. An unparseable verdict is
asked again once, then recorded as unparseable. Every judged case, with its analysis, joins the
good or the bad pool of its task (`pool.jsonl`, the example database).

In a pipeline run the judge runs round by round together with `generate` (`generate.run_pair`);
on its own it judges every example of `generate` that has no verdict yet. Writes
`records.jsonl` (one Verdict per example, all rounds; `overall` "" when there was no usable
verdict), `rejected.jsonl` (Rejected per example not accepted: `judge.rule.<rule>` for the
first rule answered no, `judge.overall_no`, `judge.unparseable`, `judge.llm_error`,
`judge.budget`; details and raw replies in `detail`), `pool.jsonl`, `usage.json`, `stats.json`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from wavecoder.instruct.roles import RoleConfig
from wavecoder.instruct.roles import fingerprint_config as fingerprint_config  # endpoints left out
from wavecoder.instruct.task import OutputFormat

VERSION = 1
INPUTS = ("generate", "dedup")


def _judge() -> RoleConfig:
    # the paper judged with GPT-4; greedy, room for seven rules with reasons
    return RoleConfig(model="gpt-4", temperature=0.0, max_tokens=1024)


@dataclass(frozen=True)
class Config:
    llm: RoleConfig = field(default_factory=_judge)
    output_format: OutputFormat = "json"  # json (JSON mode) | json_schema | text (paper's)
    few_shot_bad: int = 1  # bad cases shown to the judge (the repository: 1)
    few_shot_good: int = 0  # good cases too (the repository built them but never sent them)
    pool_max: int = 500  # the example database keeps the most recent cases per task and kind

    def __post_init__(self) -> None:
        if min(self.few_shot_good, self.few_shot_bad) < 0 or self.pool_max < 1:
            raise ValueError("need few_shot_* >= 0 and pool_max >= 1")


def defer(
    cfg: Config, *, inputs: dict[str, Any], seed: int, sections: dict[str, Any]
) -> str | None:
    """The judge on its own (`--from judge`) with no endpoint: how to connect one."""
    from wavecoder.instruct.dryrun import CONNECT
    from wavecoder.instruct.roles import teacher_configured

    return None if teacher_configured(cfg.llm) else CONNECT.format(roles="judge")


def run(ctx: Any, *, map_fn: Any = None, workers: int = 1) -> dict[str, Any]:
    """Judge what has no verdict yet; `map_fn`/`workers` spread each round (`distributed.py`)."""
    from wavecoder.instruct.stage import run_judge_only

    return run_judge_only(ctx, map_fn=map_fn, workers=workers)
