"""The two LLM roles' settings, the requests they send, and which raw code becomes which unit.

`RoleConfig` is an `LLMConfig` plus the sampling settings of the role (temperature,
max_tokens), so a YAML `llm:` section holds everything about one role: backend, model, base URL,
key variable, concurrency, temperature, max_tokens, price, budget. `Plan` streams the units of
one round from `select` (which codes, in which rank) and `dedup` (their Code records), assigning
tasks, translation targets and bugs as pure functions of (seed, code id). Not here: sending
(`loop.py`), the prompts' text (`render.py`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from wavecoder.instruct.bugs import BUG_KINDS, Bug, BugKind, inject_bug
from wavecoder.instruct.task import Unit, assign_task, pick_target, without
from wavecoder.llm.base import LLMConfig, Message, Request, ResponseFormat
from wavecoder.records import Code, Example, Language, Selected, Task
from wavecoder.store import Shard, StageDir, read_jsonl


@dataclass(frozen=True)
class RoleConfig(LLMConfig):
    """One role's endpoint (all of `LLMConfig`) and its sampling settings."""

    temperature: float = 1.0
    max_tokens: int = 800


#: How a role reaches its model and how hard it pushes: not part of a stage's fingerprint, so a
#: new endpoint, concurrency or budget never makes finished instruction data stale. What the
#: model is (backend, model, revision, endpoint kind) and how it samples stay in.
OPERATIONAL = frozenset({
    "base_url", "base_urls", "base_url_env", "api_key_env", "concurrency", "min_concurrency",
    "max_retries", "timeout_s", "backoff_base_s", "backoff_max_s", "dead_after",
    "dead_cooldown_s", "cache", "cache_path", "cache_namespace", "price_input_per_mtok",
    "price_output_per_mtok", "prices_file", "budget_usd", "batch_size", "device",
})  # fmt: skip


def fingerprint_config(section: Any) -> dict[str, Any]:
    """A generate/judge section as its fingerprint sees it (without `OPERATIONAL` llm keys)."""
    from wavecoder.config import to_data

    data = to_data(section)
    data["llm"] = {k: v for k, v in data["llm"].items() if k not in OPERATIONAL}
    return dict(data)


def teacher_configured(cfg: LLMConfig) -> bool:
    """Whether the role can reach a model: a local backend, a base URL or a key in the env."""
    if cfg.backend != "openai":
        return True
    return bool(
        cfg.base_url
        or cfg.base_urls
        or os.environ.get(cfg.base_url_env)
        or os.environ.get(cfg.api_key_env)
    )


_CASE_SCHEMA = {
    "type": "object",
    "properties": {k: {"type": "string"} for k in
                   ("task_name", "instruction", "information", "solution")},
    "required": ["task_name", "instruction", "information", "solution"],
    "additionalProperties": False,
}  # fmt: skip
_YES_NO = {"type": "string", "enum": ["yes", "no"]}
_VERDICT_SCHEMA = {
    "type": "object",
    "properties": {
        "rules": {"type": "array", "items": {
            "type": "object",
            "properties": {"rule": {"type": "string"}, "answer": _YES_NO,
                           "reason": {"type": "string"}},
            "required": ["rule", "answer", "reason"], "additionalProperties": False}},
        "overall": _YES_NO,
        "reasons": {"type": "string"},
    },
    "required": ["rules", "overall", "reasons"],
    "additionalProperties": False,
}  # fmt: skip


def request(
    key: str,
    messages: Sequence[tuple[str, str]],
    cfg: RoleConfig,
    *,
    fmt: str,
    verdict: bool = False,
) -> Request:
    """A chat request in the role's settings; JSON formats ask the endpoint for JSON."""
    response_format: ResponseFormat = "text"
    schema = None
    if fmt == "json":
        response_format = "json_object"
    elif fmt == "json_schema":
        response_format = "json_schema"
        schema = json.dumps(_VERDICT_SCHEMA if verdict else _CASE_SCHEMA)
    msgs = tuple(Message(role, text) for role, text in messages)  # type: ignore[arg-type]
    return Request(
        key=key,
        messages=msgs,
        max_tokens=cfg.max_tokens,
        temperature=cfg.temperature,
        response_format=response_format,
        json_schema=schema,
    )


@dataclass(frozen=True)
class PlanSettings:
    mix: Mapping[str, float]
    translate_targets: Sequence[Language]
    repair_bugs: str  # "inject" | "generator"
    bug_kinds: Sequence[BugKind] = BUG_KINDS
    rounds: int = 1


class Plan:
    """Which selected code goes to which round, and the unit made of it."""

    def __init__(
        self,
        settings: PlanSettings,
        *,
        seed: int,
        select: StageDir,
        dedup: StageDir,
        shard: Shard | None = None,
    ) -> None:
        self.settings, self.seed, self.dedup, self.shard = settings, seed, dedup, shard
        # A shard reads only the picks it owns (the store's contract) but cuts rounds by the
        # rank in the whole coreset, so each shard's round r holds its share of the same slice.
        self.rank: dict[str, int] = {}
        total = 0
        for pick, mine in select.read_tagged("records", Selected):
            total += 1
            if mine:
                self.rank[pick.code_id] = pick.rank
        self.size = max(1, total)

    def round_of(self, code_id: str) -> int:
        """Rounds take the coreset in rank order: the first centres first."""
        return self.rank[code_id] * self.settings.rounds // self.size

    def codes(self, wanted: Any = None) -> Iterator[Code]:
        """Selected codes in dedup's order (`wanted`: a predicate on the id). Only the selected
        lines are decoded into records: dedup holds the whole corpus (1.2M for the paper)."""
        for part in self.dedup.parts("records"):
            for _, obj in read_jsonl(part):
                cid = obj.get("id")
                if cid not in self.rank:  # not selected, or another shard's
                    continue
                if wanted is None or wanted(cid):
                    yield Code.from_dict(obj)

    def units(self, round: int) -> Iterator[Unit]:
        for code in self.codes(lambda cid: self.round_of(cid) == round):
            yield self.unit(code, round)

    def unit(self, code: Code, round: int) -> Unit:
        s, mix = self.settings, dict(self.settings.mix)
        while True:
            task: Task = assign_task(self.seed, code.id, mix)
            if task == "translate":
                target = pick_target(self.seed, code.id, code.language, s.translate_targets)
                if target is not None:
                    return Unit(code, task, round, target_language=target)
            elif task == "repair" and s.repair_bugs == "inject":
                bug = _bug(code, self.seed, s.bug_kinds)
                if bug is not None:
                    return Unit(code, task, round, bug=bug)
            else:
                return Unit(code, task, round)
            # no target other than the source / no place for a bug: draw among the others
            mix = without(mix, task)
            if not mix:
                return Unit(code, "generate", round)


def _bug(code: Code, seed: int, kinds: Sequence[BugKind]) -> Bug | None:
    try:
        return inject_bug(code.code, code.language, seed=seed, key=code.id, kinds=kinds)
    except (ValueError, RuntimeError):  # a language without a tree-sitter grammar here
        return None


def unit_of_example(ex: Example, code: Code) -> Unit:
    """The unit an example was written for (the judge standalone, resumed judging)."""
    bug = None
    if "bug_kind" in ex.meta:
        m = ex.meta
        bug = Bug(m["bug_kind"], int(m["bug_line"]), m["bug_detail"], m["buggy_code"])  # type: ignore[arg-type]
    return Unit(code, ex.task, ex.round, target_language=ex.target_language, bug=bug)
