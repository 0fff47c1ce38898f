"""Turn an OpenAI-style HTTP body (chat or completions) into a `Response`, never losing it.

Pure functions over strings. Any body that is not the expected shape becomes a "malformed"
response with the body kept in `raw`; a choice cut by `max_tokens` marks the response
"truncated", a content filter or refusal "filtered", no text at all "empty".
Not here: HTTP, retries (see `openai_compat.py`).
"""

from __future__ import annotations

import json
from typing import Any

from wavecoder.llm.base import Request, Response, Status, Usage


def payload(request: Request, model: str, *, use_format: bool = True) -> dict[str, Any]:
    """The JSON body of an OpenAI chat or completions call for `request`."""
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "top_p": request.top_p,
        "n": request.n,
    }
    if request.messages is not None:
        body["messages"] = [{"role": m.role, "content": m.content} for m in request.messages]
    else:
        body["prompt"] = request.prompt
    if request.stop:
        body["stop"] = list(request.stop)
    if request.seed is not None:
        body["seed"] = request.seed
    if use_format and request.response_format == "json_object":
        body["response_format"] = {"type": "json_object"}
    elif use_format and request.response_format == "json_schema" and request.json_schema:
        schema = {"name": "reply", "schema": json.loads(request.json_schema), "strict": True}
        body["response_format"] = {"type": "json_schema", "json_schema": schema}
    return body


def malformed(key: str, raw: str, why: str) -> Response:
    return Response(key=key, texts=(), finish_reasons=(), status="malformed", raw=raw, error=why)


def error(key: str, raw: str, why: str) -> Response:
    return Response(key=key, texts=(), finish_reasons=(), status="error", raw=raw, error=why)


def _choice(choice: Any, chat: bool) -> tuple[str, str, bool] | None:
    """(text, finish_reason, refused) of one choice, or None when it has the wrong shape."""
    if not isinstance(choice, dict):
        return None
    refused = False
    if chat:
        message = choice.get("message")
        if not isinstance(message, dict):
            return None
        content = message.get("content")
        refused = bool(message.get("refusal"))
    else:
        content = choice.get("text")
    if content is not None and not isinstance(content, str):
        return None
    return content or "", str(choice.get("finish_reason") or ""), refused


def _usage(data: dict[str, Any]) -> Usage:
    usage = data.get("usage")
    if not isinstance(usage, dict):
        return Usage()
    return Usage(int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0))


def _status(texts: list[str], reasons: list[str], refused: bool) -> Status:
    if refused or "content_filter" in reasons:
        return "filtered"
    if "length" in reasons:
        return "truncated"
    if not any(texts):
        return "empty"
    return "ok"


def parse_body(key: str, raw: str, *, chat: bool) -> Response:
    try:
        data = json.loads(raw)
    except ValueError as exc:
        return malformed(key, raw, f"body is not JSON: {exc}")
    if not isinstance(data, dict) or not isinstance(data.get("choices"), list):
        return malformed(key, raw, "body has no choices list")
    choices = sorted(data["choices"], key=lambda c: c.get("index", 0) if isinstance(c, dict) else 0)
    if not choices:
        return malformed(key, raw, "body has an empty choices list")
    texts: list[str] = []
    reasons: list[str] = []
    refused = False
    for number, choice in enumerate(choices):
        parsed = _choice(choice, chat)
        if parsed is None:
            return malformed(key, raw, f"choice {number} has an unexpected shape")
        texts.append(parsed[0])
        reasons.append(parsed[1])
        refused = refused or parsed[2]
    try:
        usage = _usage(data)
    except (TypeError, ValueError):
        return malformed(key, raw, "usage has an unexpected shape")
    status = _status(texts, reasons, refused)
    return Response(key, tuple(texts), tuple(reasons), status, raw, usage)
