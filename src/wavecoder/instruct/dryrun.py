"""What `generate` and `judge` would send, when no teacher is configured (sends nothing).

Renders the first round's generator prompts (from the seed pools) for every selected code,
streaming, and sums a token and cost estimate (`wavecoder.llm.dryrun`: 3 characters a token,
completion at `max_tokens`). The judge's estimate renders, per code, its prompt with the task's
good seed case as the candidate. Prints the first prompts in full and one line on how to
connect a teacher. Not here: deciding that no teacher is configured (`generate.defer`).
"""

from __future__ import annotations

from typing import Any

from wavecoder.instruct import render
from wavecoder.instruct.pools import Pools, seed_cases
from wavecoder.instruct.roles import request
from wavecoder.instruct.stage import plan_for
from wavecoder.instruct.tasks import spec_for
from wavecoder.llm.accounting import FREE, prompt_tokens, resolve_price
from wavecoder.llm.base import Request
from wavecoder.llm.dryrun import DryRun

CONNECT = (
    "no teacher configured for {roles}: export OPENAI_BASE_URL=http://HOST:PORT/v1 (vLLM, "
    "SGLang, Ollama, ...) and/or OPENAI_API_KEY=..., or set generate.llm.base_url and "
    "judge.llm.base_url (and .llm.model to the served model), then rerun the same command"
)


class _Sum:
    def __init__(self, role: str, cfg: Any, show: int) -> None:
        self.role, self.cfg, self.show = role, cfg, show
        self.n = self.tokens = self.completion = 0
        self.previews: list[Request] = []

    def add(self, req: Request) -> None:
        self.n += 1
        self.tokens += prompt_tokens(req)
        self.completion += req.max_tokens
        if len(self.previews) < self.show:
            self.previews.append(req)

    def render(self) -> str:
        from wavecoder.llm.dryrun import render_request

        price = resolve_price(self.cfg)
        used = price or FREE
        return DryRun(
            role=self.role, model=self.cfg.model, requests=self.n, samples=self.n,
            prompt_tokens=self.tokens, max_completion_tokens=self.completion,
            priced=price is not None, cost_usd=used.cost(self.tokens, 0),
            max_cost_usd=used.cost(self.tokens, self.completion), budget_usd=self.cfg.budget_usd,
            previews=tuple(render_request(r) for r in self.previews),
        ).render()  # fmt: skip


def report(
    gen_cfg: Any, judge_cfg: Any | None, *, inputs: dict[str, Any], seed: int, missing: list[str]
) -> str:
    class _Ctx:  # what plan_for reads of a stage context
        pass

    ctx: Any = _Ctx()
    ctx.seed, ctx.inputs, ctx.shard = seed, inputs, None
    plan = plan_for(gen_cfg, ctx)
    pools = Pools(seed_cases())
    gen = _Sum("generator", gen_cfg.llm, gen_cfg.dry_run_show)
    judge = _Sum("judge", judge_cfg.llm, 1) if judge_cfg is not None else None
    for r in range(gen_cfg.rounds):
        for unit in plan.units(r):
            spec = spec_for(unit.task, repair_bugs=gen_cfg.repair_bugs)
            key: Any = dict(seed=seed, code_id=unit.code.id, round=0, role="generator")
            good = pools.sample(unit.task, True, gen_cfg.few_shot_good, **key)
            bad = pools.sample(unit.task, False, gen_cfg.few_shot_bad, **key)
            fmt = gen_cfg.output_format
            text = render.generator_prompt(spec, unit, good=good, bad=bad, fmt=fmt, verdict_fmt=fmt)
            gen.add(request(unit.code.id, [("system", render.SYSTEM), ("user", text)],
                            gen_cfg.llm, fmt=fmt))  # fmt: skip
            if judge is not None and judge_cfg is not None:
                jf = judge_cfg.output_format
                candidate = pools.cases(unit.task, True)[0].case
                shown = bad[: judge_cfg.few_shot_bad]
                text = render.judge_prompt(spec, unit, candidate, good=[], bad=shown,
                                           fmt=jf, verdict_fmt=jf)  # fmt: skip
                judge.add(request(unit.code.id, [("system", render.SYSTEM), ("user", text)],
                                  judge_cfg.llm, fmt=jf, verdict=True))  # fmt: skip
    parts = [gen.render()] + ([judge.render()] if judge is not None else [])
    parts.append(CONNECT.format(roles=" and ".join(missing)))
    return "\n".join(parts)
