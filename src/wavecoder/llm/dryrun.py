"""`--dry-run` support: render the first prompts, estimate tokens and cost before any call.

`estimate(requests, cfg, role=...)` counts prompt tokens (a high estimate: 3 characters a
token) and the worst case of completion tokens (`max_tokens * n`), and prices both with the
role's price table entry. `DryRun.render()` prints a short report with the first `show`
prompts in full. It sends nothing and reads no cache: an upper bound for a fresh run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from wavecoder.llm.accounting import FREE, prompt_tokens, resolve_price
from wavecoder.llm.base import LLMConfig, Request


@dataclass(frozen=True)
class DryRun:
    role: str
    model: str
    requests: int
    samples: int
    prompt_tokens: int
    max_completion_tokens: int
    priced: bool
    cost_usd: float
    max_cost_usd: float
    budget_usd: float | None
    previews: tuple[str, ...]

    def render(self) -> str:
        price_note = "" if self.priced else " (no price known for this model: counted as free)"
        lines = [
            f"dry run, role {self.role}: model {self.model}, {self.requests} requests, "
            f"{self.samples} samples",
            f"  prompt tokens (estimate): {self.prompt_tokens:,}",
            f"  completion tokens (at most): {self.max_completion_tokens:,}",
            f"  cost: ${self.cost_usd:,.4f} for prompts, at most ${self.max_cost_usd:,.4f} in all"
            + price_note,
        ]
        if self.budget_usd is not None:
            verdict = "fits" if self.max_cost_usd <= self.budget_usd else "may stop the run"
            lines.append(f"  budget: ${self.budget_usd:,.4f} ({verdict})")
        for number, preview in enumerate(self.previews, 1):
            lines += [f"--- prompt {number} ---", preview]
        return "\n".join(lines)


def render_request(request: Request) -> str:
    """A readable rendering of a request's prompt and settings."""
    head = (
        f"[{request.key}] max_tokens={request.max_tokens} temperature={request.temperature} "
        f"top_p={request.top_p} n={request.n} stop={list(request.stop)} seed={request.seed}"
    )
    if request.prompt is not None:
        return f"{head}\n{request.prompt}"
    body = "\n".join(f"<{m.role}>\n{m.content}" for m in request.messages or ())
    return f"{head}\n{body}"


def estimate(requests: Sequence[Request], cfg: LLMConfig, *, role: str, show: int = 2) -> DryRun:
    price = resolve_price(cfg)
    used = price or FREE
    prompt = sum(prompt_tokens(r) for r in requests)  # billed once, whatever n is
    completion = sum(r.max_tokens * r.n for r in requests)
    return DryRun(
        role=role,
        model=cfg.model,
        requests=len(requests),
        samples=sum(r.n for r in requests),
        prompt_tokens=prompt,
        max_completion_tokens=completion,
        priced=price is not None,
        cost_usd=used.cost(prompt, 0),
        max_cost_usd=used.cost(prompt, completion),
        budget_usd=cfg.budget_usd,
        previews=tuple(render_request(r) for r in requests[:show]),
    )
