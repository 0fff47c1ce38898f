"""The LLM client layer: one `LLM` protocol for the generator, the judge and the evaluated model.

`build_llm(LLMConfig(...), role="generator")` returns a client with concurrency, retries, a
sqlite request cache, token accounting and a budget cap. Importing this package is light:
the openai SDK and transformers are imported only when a backend is built.
"""

from wavecoder.llm.base import (
    LLM,
    BudgetExceeded,
    LLMConfig,
    LLMError,
    Message,
    Request,
    Response,
    Status,
    Usage,
    build_llm,
)

__all__ = [
    "LLM",
    "BudgetExceeded",
    "LLMConfig",
    "LLMError",
    "Message",
    "Request",
    "Response",
    "Status",
    "Usage",
    "build_llm",
]
