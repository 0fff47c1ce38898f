"""Token accounting, cost estimates from an extensible price table, and the hard budget cap.

An `Accountant` belongs to one role's client. Before a request is sent it reserves the
request's worst-case cost (estimated prompt tokens plus `max_tokens * n` at the output price);
if spent + reserved + that would pass `budget_usd`, the request is not sent, so the cap is
never crossed by more than the error of the prompt-token estimate. When the reply arrives the
reservation is swapped for the real usage the server reported. Cached replies cost nothing.
Token counts before a call are high estimates (3 characters a token); after a call, the
server's own counts. Not here: stopping the run (the client raises `BudgetExceeded`).
"""

from __future__ import annotations

import json
import math
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from wavecoder.llm.base import LLMConfig, LLMError, Request, Response


@dataclass(frozen=True)
class Price:
    """USD per million tokens."""

    input_per_mtok: float
    output_per_mtok: float

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (
            prompt_tokens * self.input_per_mtok + completion_tokens * self.output_per_mtok
        ) / 1e6


#: List prices (USD / 1M tokens) of common hosted models; extend with `prices_file` or the
#: `price_*_per_mtok` config fields. Self-hosted servers and local models cost 0 unless priced.
PRICES: dict[str, Price] = {
    "gpt-3.5-turbo": Price(0.5, 1.5),
    "gpt-4": Price(30.0, 60.0),
    "gpt-4-turbo": Price(10.0, 30.0),
    "gpt-4o": Price(2.5, 10.0),
    "gpt-4o-mini": Price(0.15, 0.6),
    "gpt-4.1": Price(2.0, 8.0),
    "gpt-4.1-mini": Price(0.4, 1.6),
    "gpt-4.1-nano": Price(0.1, 0.4),
}

FREE = Price(0.0, 0.0)


def load_prices(path: Path) -> dict[str, Price]:
    """Read `{model: {input: usd_per_mtok, output: usd_per_mtok}}` from YAML or JSON."""
    text = path.read_text(encoding="utf-8")
    if path.suffix in (".yaml", ".yml"):
        import yaml

        data = yaml.safe_load(text)
    else:
        data = json.loads(text)
    if not isinstance(data, dict):
        raise LLMError(f"{path}: a price file maps model names to {{input, output}}")
    table: dict[str, Price] = {}
    for model, entry in data.items():
        if not isinstance(entry, dict) or set(entry) != {"input", "output"}:
            raise LLMError(f"{path}: entry {model!r} needs exactly the keys input and output")
        table[str(model)] = Price(float(entry["input"]), float(entry["output"]))
    return table


def resolve_price(cfg: LLMConfig) -> Price | None:
    """The price for `cfg.model`: explicit fields, then `prices_file`, then `PRICES`."""
    if cfg.price_input_per_mtok is not None or cfg.price_output_per_mtok is not None:
        return Price(cfg.price_input_per_mtok or 0.0, cfg.price_output_per_mtok or 0.0)
    table = dict(PRICES)
    if cfg.prices_file:
        table.update(load_prices(Path(cfg.prices_file)))
    if cfg.model in table:
        return table[cfg.model]
    # Dated snapshots ("gpt-4o-2024-08-06") take the price of their longest known prefix.
    prefixes = [name for name in table if cfg.model.startswith(name + "-")]
    return table[max(prefixes, key=len)] if prefixes else None


def estimate_tokens(text: str) -> int:
    """A tokenizer-free, deliberately high estimate (3 characters a token; BPE tokenizers give
    about 4 for English and code), used only before a call, so reservations err on the safe side."""
    return math.ceil(len(text) / 3)


def prompt_tokens(request: Request) -> int:
    if request.messages is not None:
        return sum(4 + estimate_tokens(m.content) for m in request.messages) + 3
    return estimate_tokens(request.prompt or "")


def worst_case_cost(request: Request, price: Price) -> float:
    return price.cost(prompt_tokens(request), request.max_tokens * request.n)


class Accountant:
    """Tokens, cost and the budget of one role; thread-safe."""

    def __init__(self, *, role: str, model: str, price: Price | None, budget_usd: float | None):
        if budget_usd is not None and price is None:
            raise LLMError(
                f"role {role!r}: budget_usd is set but model {model!r} has no known price; "
                "set price_input_per_mtok / price_output_per_mtok or prices_file"
            )
        self.role, self.model, self.budget_usd = role, model, budget_usd
        self.price = price or FREE
        self.priced = price is not None
        self.usage = Counter[str]()
        self.statuses = Counter[str]()
        self.spent_usd = 0.0
        self._reserved = 0.0
        self._lock = threading.Lock()

    def reserve(self, request: Request) -> float | None:
        """Reserve a request's worst-case cost; None when it would break the budget."""
        cost = worst_case_cost(request, self.price)
        with self._lock:
            if (
                self.budget_usd is not None
                and self.spent_usd + self._reserved + cost > self.budget_usd
            ):
                return None
            self._reserved += cost
        return cost

    def settle(self, reserved: float, response: Response) -> None:
        """Swap a reservation for the real usage of a fresh reply."""
        cost = self.price.cost(response.usage.prompt_tokens, response.usage.completion_tokens)
        with self._lock:
            self._reserved -= reserved
            self.spent_usd += cost
            self.usage["requests"] += 1
            self.usage["prompt_tokens"] += response.usage.prompt_tokens
            self.usage["completion_tokens"] += response.usage.completion_tokens
            self.statuses[response.status] += 1

    def count_cached(self, response: Response) -> None:
        with self._lock:
            self.usage["cache_hits"] += 1
            self.statuses[response.status] += 1

    def stats(self) -> dict[str, int | float | str]:
        with self._lock:
            out: dict[str, int | float | str] = {f"llm.{self.role}.model": self.model}
            for name in ("requests", "cache_hits", "prompt_tokens", "completion_tokens"):
                out[f"llm.{self.role}.{name}"] = self.usage[name]
            for status, count in sorted(self.statuses.items()):
                out[f"llm.{self.role}.status.{status}"] = count
            out[f"llm.{self.role}.cost_usd"] = round(self.spent_usd, 6)
            return out
