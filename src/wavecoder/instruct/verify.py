"""Stage `verify` (optional, off by default): run each instance's code against unit tests.

Sits between `judge` and `decontaminate`. With `enabled: true` it takes every judged `Example`
(the accepted ones, and with `include_rejected` the rejected ones too, for the agreement's
recall), gets tests (the instance's own, else `verify.llm` writes them: `verify_tests`), runs
code + tests in the evaluation sandbox (`verify_exec`; only with `allow_code_execution: true`)
and writes, in its folder:

    records.jsonl   one `Execution` per instance (status, reason, tests, both output tails; for
                    repair also the buggy input's run), appended and flushed as each finishes
    rejected.jsonl  with `policy: drop`, `Rejected(id, "verify", "verify.<reason>")` for every
                    ACCEPTED instance that failed, timed out or did not compile (the policy
                    never touches rejected ones; `label` keeps them, the record is the label)
    agreement.json  the judge against execution (`agreement`)
    usage.json      the test writer's requests, tokens and cost

Summaries, languages without a runner (php, ruby, ...) and instances without usable tests are
recorded as `skipped` with the reason. Resuming: a rerun skips the instances already in
records.jsonl (the test writer's replies come back from the LLM cache). Disabled, it writes empty
files and `{"enabled": false}`, so decontaminate and export read the same folder either way.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from wavecoder.config import ConfigError
from wavecoder.evals.runners import RUNNER_LANGUAGES
from wavecoder.evals.sandbox import SandboxMode
from wavecoder.instruct.roles import RoleConfig
from wavecoder.records import Example, Execution, Rejected, Verdict

log = logging.getLogger(__name__)

VERSION = 1
INPUTS = ("generate", "judge")
SHARDABLE = False  # the agreement needs every instance
DROPPED = frozenset({"fail", "timeout", "compile_error"})
_OPERATIONAL = ("workers",)  # how hard it pushes, not what it writes


def _writer() -> RoleConfig:
    # greedy: the same instance gets the same tests on a rerun without the cache
    return RoleConfig(model="gpt-4o-mini", temperature=0.0, max_tokens=1024)


@dataclass(frozen=True)
class Config:
    """The `verify:` section of an experiment YAML."""

    enabled: bool = False
    llm: RoleConfig = field(default_factory=_writer)  # writes tests for instances without any
    policy: Literal["drop", "label"] = "drop"  # for accepted instances that fail
    include_rejected: bool = True  # run the judge's rejected ones too (the agreement's recall)
    languages: tuple[str, ...] = RUNNER_LANGUAGES  # run these; others are skipped with a reason
    allow_code_execution: bool = False
    sandbox: SandboxMode = "namespaces"
    timeout_s: float = 10.0
    workers: int = 0  # programs at a time (0: one per CPU)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.languages) - set(RUNNER_LANGUAGES))
        if unknown:
            raise ValueError(
                f"languages: no sandbox runner for {', '.join(unknown)} "
                f"(runners: {', '.join(RUNNER_LANGUAGES)})"
            )
        if self.timeout_s <= 0 or self.workers < 0:
            raise ValueError("need timeout_s > 0 and workers >= 0")


def fingerprint_config(cfg: Config) -> dict[str, Any]:
    """Disabled, only that; enabled, what decides the results (no endpoints, no workers)."""
    if not cfg.enabled:
        return {"enabled": False}
    from wavecoder.instruct.roles import fingerprint_config as role_data

    data = role_data(cfg)
    return {k: v for k, v in data.items() if k not in _OPERATIONAL}


def preflight(cfg: Config) -> None:
    """Consent, the sandbox, the toolchains and the test writer: before the run's first stage."""
    if not cfg.enabled:
        return
    if not cfg.allow_code_execution:
        raise ConfigError(
            "verify runs the generated code: set verify.allow_code_execution=true (it runs in "
            "the evaluation sandbox, see docs/verify.md) or verify.enabled=false"
        )
    from wavecoder.evals.sandbox import namespaces_available
    from wavecoder.evals.toolchains import ToolchainMissing, find
    from wavecoder.preflight import check_llm

    if cfg.sandbox == "namespaces" and (reason := namespaces_available()):
        raise ConfigError(
            f"verify: sandbox unavailable: {reason}; set verify.sandbox=weak to accept weaker "
            "isolation"
        )
    for language in cfg.languages:
        try:
            find(language)
        except ToolchainMissing as exc:
            raise ConfigError(
                f"verify: {exc}; or leave {language} out of verify.languages"
            ) from exc
    check_llm(cfg.llm, key="verify.llm")


def judged(ctx: Any, cfg: Config) -> list[tuple[Example, bool]]:
    """The judged examples to check, each with the judge's verdict (its last one)."""
    accepted = {
        v.example_id: v.accepted for v in ctx.inputs["judge"].read_records("records", Verdict)
    }
    return [
        (ex, accepted[ex.id])
        for ex in ctx.inputs["generate"].read_records("records", Example)
        if ex.id in accepted and (accepted[ex.id] or cfg.include_rejected)
    ]


def run(ctx: Any) -> dict[str, Any]:
    cfg: Config = ctx.cfg
    if not cfg.enabled:
        ctx.out.write_records("records", [])
        ctx.out.write_rejected([])
        return {"enabled": False}
    preflight(cfg)
    from wavecoder.instruct.verify_batch import check_all

    todo = judged(ctx, cfg)
    with ctx.out.append_log("records", key="example_id") as book:
        pending = [(ex, acc) for ex, acc in todo if ex.id not in book]
        if len(pending) < len(todo):
            log.info("verify: %d of %d instances done already", len(todo) - len(pending), len(todo))
        usage = check_all(pending, cfg, ctx.out, book.append)
    results = {e.example_id: e for e in ctx.out.read_records("records", Execution)}
    wanted = {ex.id for ex, _ in todo}
    executions = [results[i] for i in results if i in wanted]
    rejected = drops(executions) if cfg.policy == "drop" else []
    ctx.out.write_rejected(rejected)
    report = agreement_report(ctx, executions)
    ctx.out.write_json("agreement", report)
    return stats(executions, rejected, report, usage, cfg)


def drops(executions: Sequence[Execution]) -> list[Rejected]:
    """The accepted instances the `drop` policy removes, with their reasons."""
    out = []
    for e in executions:
        if not (e.accepted and e.status in DROPPED):
            continue
        if e.reason == "repair_buggy_passes":
            detail = f"{e.language}: the buggy input passes the same tests as the fix"
        else:
            prog = e.solution
            step = f" at {prog.step}" if prog and prog.step else ""
            output = (prog.stderr_tail or prog.stdout_tail)[-300:] if prog else ""
            detail = f"{e.language} {e.status}{step}: {output}"
        out.append(Rejected(e.example_id, "verify", f"verify.{e.reason or e.status}", detail))
    return out


def agreement_report(ctx: Any, executions: Sequence[Execution]) -> dict[str, Any]:
    from wavecoder.instruct.agreement import agreement, pairs_of

    verdicts = ctx.inputs["judge"].read_records("records", Verdict)
    return agreement(pairs_of(executions, verdicts))


def stats(
    executions: Sequence[Execution],
    rejected: Sequence[Rejected],
    report: dict[str, Any],
    usage: dict[str, Any] | None,
    cfg: Config,
) -> dict[str, Any]:
    accepted = [e for e in executions if e.accepted]
    out: dict[str, Any] = {"enabled": True, "policy": cfg.policy, "in": len(accepted)}
    out.update(out=len(accepted) - len(rejected), executed=len(executions))
    for key, n in sorted(Counter(f"status.{e.status}" for e in executions).items()):
        out[key] = n
    for e in executions:
        if e.status == "skipped":
            out.setdefault("skipped", Counter())[e.reason.split(":", 1)[0]] += 1
    if "skipped" in out:
        out["skipped"] = dict(sorted(out["skipped"].items()))
    for reason, n in sorted(Counter(r.reason for r in rejected).items()):
        out[f"rejected.{reason}"] = n
    if cfg.policy == "label":
        out["labelled"] = sum(1 for e in accepted if e.status in DROPPED)
    out["agreement.precision"] = report["precision"]
    out["agreement.recall"] = report["recall"]
    out["usage"] = usage
    return out


__all__ = ["INPUTS", "SHARDABLE", "VERSION", "Config", "fingerprint_config", "preflight", "run"]
