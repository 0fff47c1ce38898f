"""The OpenAI-compatible HTTP backend: OpenAI, Azure URLs, vLLM, SGLang, TGI, llama.cpp, Ollama.

Calls go through the official `openai` SDK's `AsyncOpenAI` (its aiohttp transport when installed,
which is much faster than the default on few cores), one client per base URL, with the SDK's own
retries off: this module retries 429 (honouring Retry-After), 5xx, 408/409, timeouts and
connection errors with capped exponential back-off and jitter, while `limiter.EndpointPool`
adapts concurrency (AIMD) and takes dead endpoints out of rotation. Bodies are read as text and
parsed by `parse.parse_body`, so a malformed body is kept raw; a 200 whose body is not JSON at
all (a broken proxy, a cut connection) is retried like a 500. A 400 on a JSON `response_format`
retries once as plain text. The API key is read from the environment variable named in the
config, handed to the SDK and never stored, logged or put in an error message.
Not here: caching, accounting, the budget (see `client.py`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from wavecoder.llm.base import LLMConfig, LLMError, Request, Response
from wavecoder.llm.client import Admit, Emit
from wavecoder.llm.limiter import EndpointPool, Slot
from wavecoder.llm.parse import error, malformed, parse_body, payload

log = logging.getLogger(__name__)

OPENAI_URL = "https://api.openai.com/v1"
_JSON: Any = {"headers": {"Content-Type": "application/json"}}
_RETRY_STATUS = frozenset({408, 409, 425, 500, 502, 503, 504, 520, 522, 524, 529})


@dataclass(frozen=True)
class _Retry:
    why: str
    raw: str = ""
    delay_s: float | None = None  # None: exponential back-off


def base_urls(cfg: LLMConfig) -> list[str]:
    urls = [u for u in (cfg.base_url, *cfg.base_urls) if u]
    if not urls and os.environ.get(cfg.base_url_env):
        urls = [u.strip() for u in os.environ[cfg.base_url_env].split(",") if u.strip()]
    return list(dict.fromkeys(urls)) or [OPENAI_URL]


def retry_after_s(headers: Any) -> float | None:
    """Seconds from `retry-after-ms` or `retry-after` (seconds or an HTTP date)."""
    if headers is None:
        return None
    value = headers.get("retry-after-ms")
    if value:
        try:
            return max(0.0, float(value) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        import email.utils
        import time

        try:
            return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


def backoff_s(attempt: int, base: float, cap: float) -> float:
    """Capped exponential back-off with jitter: uniform in [d/2, d], d = min(cap, base * 2^n)."""
    delay = min(cap, base * (2**attempt))
    return delay / 2 + random.random() * delay / 2


class OpenAIBackend:
    name = "openai"

    def __init__(self, cfg: LLMConfig) -> None:
        self.cfg = cfg
        self.urls = base_urls(cfg)
        if not os.environ.get(cfg.api_key_env) and self.urls == [OPENAI_URL]:
            raise LLMError(
                f"no API key: set the environment variable {cfg.api_key_env} "
                "(or point base_url at a server that needs none)"
            )
        self._pool: EndpointPool[Any] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.attempts = 0
        self.retries = 0
        self.served_weights = ""
        if cfg.identify_server:
            from wavecoder.llm.identity import served_weights

            self.served_weights = served_weights(self.urls, cfg.model, api_key_env=cfg.api_key_env)

    @property
    def identity(self) -> str:
        """name[@revision][+served:<root the server reports>] (see `wavecoder.llm.identity`)."""
        rev = self.cfg.model_revision
        ident = f"{self.cfg.model}@{rev}" if rev else self.cfg.model
        return f"{ident}+served:{self.served_weights}" if self.served_weights else ident

    # -- clients -----------------------------------------------------------------------------
    def _client(self, url: str) -> Any:
        import openai

        try:
            http_client = openai.DefaultAioHttpClient(timeout=self.cfg.timeout_s)
        except RuntimeError:  # aiohttp extra missing: the SDK's default httpx transport
            http_client = None
        return openai.AsyncOpenAI(
            base_url=url,
            api_key=os.environ.get(self.cfg.api_key_env) or "EMPTY",
            max_retries=0,
            timeout=self.cfg.timeout_s,
            http_client=http_client,
        )

    async def _ensure_pool(self) -> EndpointPool[Any]:
        loop = asyncio.get_running_loop()
        if self._pool is None or self._loop is not loop:
            if self._pool is not None:
                await self.aclose()
            slots = [
                Slot(url, self._client(url), self.cfg.concurrency, self.cfg.min_concurrency)
                for url in self.urls
            ]
            self._pool = EndpointPool(
                slots, dead_after=self.cfg.dead_after, dead_cooldown_s=self.cfg.dead_cooldown_s
            )
            self._loop = loop
        return self._pool

    def stats(self) -> dict[str, int]:
        return {"http_attempts": self.attempts, "retries": self.retries,
                "endpoints_alive": len(self.alive())}  # fmt: skip

    def alive(self) -> list[str]:
        """The endpoints now in rotation."""
        return self._pool.alive() if self._pool is not None else list(self.urls)

    async def aclose(self) -> None:
        if self._pool is not None:
            for slot in self._pool.slots:
                await slot.client.close()
            self._pool = None

    # -- running -----------------------------------------------------------------------------
    async def run(self, jobs: Sequence[tuple[int, Request]], *, admit: Admit, emit: Emit) -> None:
        """Send jobs in order, at most the pool's capacity at once.

        On the first failure (a callback raising), sending stops but the replies in flight are
        awaited and handed to `emit` (so they reach the cache) before the failure is re-raised.
        """
        pool = await self._ensure_pool()
        gate = asyncio.Semaphore(self.cfg.concurrency * len(pool.slots))
        tasks: set[asyncio.Task[None]] = set()
        failures: list[BaseException] = []

        def finished(task: asyncio.Task[None]) -> None:
            gate.release()
            tasks.discard(task)
            if not task.cancelled() and task.exception() is not None:
                failures.append(task.exception())  # type: ignore[arg-type]

        try:
            for index, request in jobs:
                await gate.acquire()
                reserved = None if failures else admit(request)
                if reserved is None:
                    gate.release()
                    break
                task = asyncio.create_task(self._answer(pool, index, request, reserved, emit))
                tasks.add(task)
                task.add_done_callback(finished)
            await asyncio.gather(*tasks, return_exceptions=True)
        except asyncio.CancelledError:
            # Interrupted (Ctrl-C): cancel the requests in flight and wait until they are gone,
            # so none is left pending to fail later against closed clients and a closed cache.
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        if failures:
            raise failures[0]

    async def _answer(
        self, pool: EndpointPool[Any], index: int, request: Request, reserved: float, emit: Emit
    ) -> None:
        emit(index, await self.complete(pool, request), reserved)

    async def complete(self, pool: EndpointPool[Any], request: Request) -> Response:
        """One request to a final response, through retries and endpoint rotation."""
        use_format, attempt = request.response_format != "text", 0
        while True:
            slot = await pool.acquire()
            try:
                outcome = await self._attempt(pool, slot, slot.epoch, request, use_format)
            finally:
                pool.release(slot)
            if isinstance(outcome, Response):
                return outcome
            if outcome.why == "format-unsupported":
                use_format = False  # the text fallback; does not count as a retry
                continue
            log.debug("retrying %s: %s", request.key, outcome.why)
            if attempt >= self.cfg.max_retries:
                why = f"gave up after {attempt + 1} attempts; last: {outcome.why}"
                if outcome.why.startswith("HTTP 200"):
                    return malformed(request.key, outcome.raw, why)
                return error(request.key, outcome.raw, why)
            delay = outcome.delay_s
            if delay is None:
                delay = backoff_s(attempt, self.cfg.backoff_base_s, self.cfg.backoff_max_s)
            attempt += 1
            self.retries += 1
            await asyncio.sleep(delay)

    async def _attempt(
        self,
        pool: EndpointPool[Any],
        slot: Slot[Any],
        epoch: int,
        request: Request,
        use_format: bool,
    ) -> Response | _Retry:
        import openai

        chat = request.messages is not None
        path = "/chat/completions" if chat else "/completions"
        # Serialised here: handing the SDK bytes spares it a deep copy and re-encoding per call.
        body = json.dumps(payload(request, self.cfg.model, use_format=use_format)).encode()
        self.attempts += 1
        try:
            async with asyncio.timeout(self.cfg.timeout_s):
                raw = await slot.client.post(path, content=body, cast_to=str, options=_JSON)
        except openai.APIStatusError as exc:
            return self._status_error(pool, slot, epoch, exc, request, use_format)
        except openai.APIConnectionError as exc:  # APITimeoutError included
            cause = type(exc.__cause__).__name__
            # The aiohttp transport reports a refused connection as a connect *timeout*.
            if cause.startswith("Connect") or not isinstance(exc, openai.APITimeoutError):
                pool.connection_failed(slot)
                return _Retry(f"connection error ({slot.url}): {cause}")
            return _Retry(f"timed out after {self.cfg.timeout_s:g} s ({slot.url})")
        except TimeoutError:
            return _Retry(f"timed out after {self.cfg.timeout_s:g} s ({slot.url})")
        response = parse_body(request.key, raw, chat=chat)
        if response.status == "malformed" and not _is_json(raw):
            # A 200 whose body is not JSON is a broken proxy or a cut connection, not the
            # model's answer: retried like a 500 (a JSON body of the wrong shape is not).
            return _Retry(f"HTTP 200 with a body that is not JSON ({slot.url})", raw)
        pool.success(slot)
        return response

    def _status_error(
        self,
        pool: EndpointPool[Any],
        slot: Slot[Any],
        epoch: int,
        exc: Any,
        request: Request,
        use_format: bool,
    ) -> Response | _Retry:
        code, raw = int(exc.status_code), _body_text(exc)
        wait = retry_after_s(exc.response.headers)
        why = f"HTTP {code} from {slot.url}"
        if code == 429 or (code == 503 and wait is not None):
            pool.overloaded(slot, wait, epoch=epoch)
            return _Retry(why, raw, wait)
        if code in _RETRY_STATUS or code >= 500:
            return _Retry(why, raw, wait)
        if code in (400, 422) and use_format:
            log.warning("%s rejected response_format; retrying as plain text", slot.url)
            return _Retry("format-unsupported", raw, 0.0)
        return error(request.key, raw, f"{why}: {_message(exc)}")


def _is_json(raw: str) -> bool:
    try:
        json.loads(raw)
    except ValueError:
        return False
    return True


def _body_text(exc: Any) -> str:
    try:
        return str(exc.response.text)
    except Exception:  # a streamed or closed body: keep what the SDK parsed
        return str(exc.body)


def _message(exc: Any) -> str:
    return str(getattr(exc, "message", "") or exc)[:500]
