"""Public types of the LLM client layer: requests, responses, the `LLM` protocol and its config.

The generator, the discriminator and the model under evaluation all talk to a model through
`LLM.generate(requests) -> responses`. A `Request` carries either chat `messages` or a
completion `prompt` plus its sampling parameters; a `Response` keeps every raw reply, even
when it could not be parsed, and says in `status` what happened. This module holds only
light, dependency-free types; backends live in `openai_compat.py` and `hf_local.py`, the
shared machinery (cache, accounting, budget) in `client.py`. It makes no calls itself.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

Role = Literal["system", "user", "assistant"]
Status = Literal["ok", "truncated", "filtered", "empty", "malformed", "error"]
ResponseFormat = Literal["text", "json_object", "json_schema"]
Backend = Literal["openai", "transformers"]
Endpoint = Literal["chat", "completions"]
Dtype = Literal["auto", "float32", "bfloat16", "float16"]

#: Statuses that are genuine model output and therefore safe to replay from the cache.
CACHEABLE: frozenset[str] = frozenset({"ok", "truncated", "filtered", "empty"})


class LLMError(RuntimeError):
    """A configuration or usage error of the LLM layer (never a per-request failure)."""


class BudgetExceeded(LLMError):
    """Raised by `generate` when the hard budget cap stops a run.

    Everything finished before the stop is already in the cache and was handed to the
    `on_response` callback; `responses` holds those finished responses in request order
    (None for requests that were never sent).
    """

    def __init__(self, message: str, responses: list[Response | None]) -> None:
        super().__init__(message)
        self.responses = responses


@dataclass(frozen=True)
class Message:
    """One chat message."""

    role: Role
    content: str


@dataclass(frozen=True)
class Request:
    """One generation request. Exactly one of `messages` (chat) or `prompt` (completion).

    `key` is the caller's unit id: it is echoed in the response but is not part of the
    cache key, so identical requests share one cached reply (vary `seed` for fresh samples).
    `json_schema` is a JSON-encoded schema, used when `response_format="json_schema"`.
    """

    key: str
    messages: tuple[Message, ...] | None = None
    prompt: str | None = None
    max_tokens: int = 512
    temperature: float = 0.0
    top_p: float = 1.0
    n: int = 1
    stop: tuple[str, ...] = ()
    seed: int | None = None
    response_format: ResponseFormat = "text"
    json_schema: str | None = None

    def __post_init__(self) -> None:
        if (self.messages is None) == (self.prompt is None):
            raise ValueError(f"request {self.key!r}: give exactly one of messages or prompt")
        if self.messages is not None and not self.messages:
            raise ValueError(f"request {self.key!r}: messages is empty")
        if self.max_tokens < 1 or self.n < 1:
            raise ValueError(f"request {self.key!r}: max_tokens and n must be >= 1")
        if self.temperature < 0 or not 0 < self.top_p <= 1:
            raise ValueError(f"request {self.key!r}: need temperature >= 0 and 0 < top_p <= 1")
        if self.response_format == "json_schema" and not self.json_schema:
            raise ValueError(f"request {self.key!r}: response_format=json_schema needs json_schema")

    @classmethod
    def chat(cls, key: str, *messages: tuple[Role, str] | Message, **params: Any) -> Request:
        """Build a chat request: `Request.chat("k", ("system", "..."), ("user", "..."))`."""
        msgs = tuple(m if isinstance(m, Message) else Message(m[0], m[1]) for m in messages)
        return cls(key=key, messages=msgs, **params)

    @property
    def kind(self) -> Endpoint:
        return "chat" if self.messages is not None else "completions"

    def payload(self) -> dict[str, Any]:
        """Everything that determines the reply (all fields but `key`), JSON-ready."""
        messages = self.messages
        return {  # by hand: dataclasses.asdict costs more than the HTTP call's own Python work
            "messages": None if messages is None else [asdict(m) for m in messages],
            "prompt": self.prompt,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "n": self.n,
            "stop": list(self.stop),
            "seed": self.seed,
            "response_format": self.response_format,
            "json_schema": self.json_schema,
        }

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, **self.payload()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Request:
        data = dict(data)
        if data.get("messages") is not None:
            data["messages"] = tuple(Message(m["role"], m["content"]) for m in data["messages"])
        data["stop"] = tuple(data.get("stop") or ())
        return cls(**data)


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
        )


@dataclass(frozen=True)
class Response:
    """The reply to one `Request`; `raw` is the untouched body (or error text) in every case.

    status: "ok"; "truncated" (a choice hit max_tokens, finish_reason=length); "filtered"
    (content filter or refusal); "empty" (no text at all); "malformed" (body not understood);
    "error" (no usable reply after retries; see `error`).
    """

    key: str
    texts: tuple[str, ...]
    finish_reasons: tuple[str, ...]
    status: Status
    raw: str
    usage: Usage = field(default_factory=Usage)
    cached: bool = False
    error: str | None = None

    @property
    def text(self) -> str:
        """The first sample's text ("" when there is none)."""
        return self.texts[0] if self.texts else ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "texts": list(self.texts),
            "finish_reasons": list(self.finish_reasons),
            "status": self.status,
            "raw": self.raw,
            "usage": {"prompt_tokens": self.usage.prompt_tokens,
                      "completion_tokens": self.usage.completion_tokens},
            "cached": self.cached,
            "error": self.error,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Response:
        data = dict(data)
        data["texts"] = tuple(data["texts"])
        data["finish_reasons"] = tuple(data["finish_reasons"])
        data["usage"] = Usage(**data.get("usage") or {})
        return cls(**data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)


OnResponse = Callable[[Response], None]


@runtime_checkable
class LLM(Protocol):
    """What every role (generator, judge, model under evaluation) talks to."""

    @property
    def identity(self) -> str:
        """The model's identity as the cache sees it (name + revision, or a weights fingerprint)."""
        ...

    def generate(
        self,
        requests: Sequence[Request],
        *,
        progress: bool = True,
        on_response: OnResponse | None = None,
    ) -> list[Response]:
        """Answer every request; responses come back in request order.

        `on_response` is called once per request as soon as its response is final (cached or
        fresh), so a stage can append it to its log at once. Raises `BudgetExceeded` when the
        budget cap stops the run. Sync facade over an async core; do not call it from inside a
        running event loop (use `agenerate`).
        """
        ...

    async def agenerate(
        self,
        requests: Sequence[Request],
        *,
        progress: bool = True,
        on_response: OnResponse | None = None,
    ) -> list[Response]: ...

    def stats(self) -> dict[str, int | float | str]:
        """Counters for a stage's stats: requests, cache hits, tokens, cost, statuses."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> LLM: ...

    def __exit__(self, *exc: object) -> None: ...


@dataclass(frozen=True)
class LLMConfig:
    """How to reach one role's model. Holds no secret: only the NAME of the key's env var.

        base_url / base_urls: one or several OpenAI-compatible endpoints (all serving the same
        model); empty means `$OPENAI_BASE_URL`, else api.openai.com. `model_revision` is part of
        a server model's identity: bump it when the weights behind the name change (a server that
    reports its weights, as vLLM does, adds them itself: `identify_server`).
        `cache_namespace` "" means "eval" for role "eval" and "default" otherwise. `cache_path`
        "" means `$WAVECODER_CACHE_DIR/llm.sqlite` (default ~/.cache/wavecoder). Prices are USD
        per million tokens; None looks the model up in the price table (extended by
        `prices_file`, YAML or JSON `{model: {input: x, output: y}}`). `budget_usd` None = no cap.
    """

    backend: Backend = "openai"
    model: str = "gpt-3.5-turbo"
    endpoint: Endpoint = "chat"
    base_url: str = ""
    base_urls: tuple[str, ...] = ()
    base_url_env: str = "OPENAI_BASE_URL"
    api_key_env: str = "OPENAI_API_KEY"
    model_revision: str = ""
    # Ask each endpoint's /v1/models for the weights it serves (vLLM's `root`) and key the cache
    # on them; None: on for the model under evaluation (role "eval"), off for other roles.
    identify_server: bool | None = None
    concurrency: int = 64
    min_concurrency: int = 1
    max_retries: int = 6
    timeout_s: float = 120.0
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    dead_after: int = 3
    dead_cooldown_s: float = 60.0
    cache: bool = True
    cache_path: str = ""
    cache_namespace: str = ""
    price_input_per_mtok: float | None = None
    price_output_per_mtok: float | None = None
    prices_file: str = ""
    budget_usd: float | None = None
    # transformers backend
    adapter: str = ""
    device: str = "auto"
    dtype: Dtype = "auto"
    batch_size: int = 8
    trust_remote_code: bool = False

    def __post_init__(self) -> None:
        if self.concurrency < 1 or not 1 <= self.min_concurrency <= self.concurrency:
            raise ValueError("need 1 <= min_concurrency <= concurrency")
        if self.max_retries < 0 or self.timeout_s <= 0 or self.batch_size < 1:
            raise ValueError("need max_retries >= 0, timeout_s > 0 and batch_size >= 1")
        if self.budget_usd is not None and self.budget_usd < 0:
            raise ValueError("budget_usd must be >= 0")
        if self.budget_usd is not None and not self.prices_file:
            from wavecoder.llm.accounting import resolve_price  # (accounting imports this module)

            if resolve_price(self) is None:  # a cap on an unknown cost caps nothing
                raise ValueError(
                    f"budget_usd is set but model {self.model!r} has no known price; set "
                    "price_input_per_mtok and price_output_per_mtok, or prices_file"
                )
        for name in ("api_key_env", "base_url_env"):
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", getattr(self, name)):
                # never echo it: a key pasted where the variable's name belongs is a secret
                raise ValueError(f"{name} must name an environment variable (value not shown)")

    def namespace(self, role: str) -> str:
        if self.cache_namespace:
            return self.cache_namespace
        return "eval" if role == "eval" else "default"


def build_llm(cfg: LLMConfig, *, role: str) -> LLM:
    """Build the client for one role ("generator", "judge", "eval", ...).

    Backends are imported here, so importing this module stays light.
    """
    from wavecoder.llm.client import build_client

    return build_client(cfg, role=role)
