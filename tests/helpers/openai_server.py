"""A real local HTTP server speaking the OpenAI API, for tests and benchmarks (never the product).

It serves `POST /v1/chat/completions`, `POST /v1/completions` and `GET /v1/models` on
127.0.0.1 from an asyncio (aiohttp) loop in a background thread; it handles hundreds of concurrent
requests without being the bottleneck. Replies are scripted:

    with OpenAIServer(latency_s=0.01) as srv:          # srv.url == "http://127.0.0.1:PORT/v1"
        srv.script(Reply.status(429, retry_after=0.1), Reply.text("hello"))   # next 2 replies
        srv.script(Reply.hang(), when=lambda body: "slow" in str(body))      # matching only
        srv.responder = lambda body: Reply.text(my_answer(body))            # everything unscripted
        ...
        srv.requests      # every request received: RecordedRequest(path, body, headers)

Faults: `Reply.status(code, retry_after=..)` (429, 500, 400 ...), `Reply.hang()` (never answers
until the server stops), `Reply.garbage(body)` (200 with a non-JSON body), `Reply.cut()` (a JSON
body cut in the middle), `Reply.drop()` (connection closed with no reply), `Reply.truncated(text)`
(finish_reason "length"), `Reply.filtered()` (finish_reason "content_filter", content null),
`Reply.empty()`. `srv.capacity = k` answers 429 to requests beyond k in flight;
`srv.peak_in_flight` is the most requests it held at once. `srv.served = {"m": "/weights/a"}`
sets what `GET /v1/models` lists (id -> vLLM's `root`, None for none); `srv.model_listings`
counts those GETs (they are not in `srv.requests`). Every reply honours `delay_s`
(default: the server's `latency_s`).
The default responder answers "echo: <last message or prompt, 200 chars>".

Run standalone (benchmarks, other processes): `python -m tests.helpers.openai_server --latency 0.2`
prints the URL on its first line and serves until killed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

ReplyKind = Literal["text", "status", "hang", "garbage", "cut", "drop"]


@dataclass(frozen=True)
class Reply:
    """One scripted reply; build it with the class methods."""

    kind: ReplyKind = "text"
    texts: tuple[str, ...] = ("",)
    finish_reason: str = "stop"
    code: int = 200
    retry_after: float | None = None
    body: str = ""
    delay_s: float | None = None

    @classmethod
    def text(cls, *texts: str, finish_reason: str = "stop", delay_s: float | None = None) -> Reply:
        """A normal reply; with n > 1 requested, the texts are cycled over the n choices."""
        return cls("text", texts or ("",), finish_reason, delay_s=delay_s)

    @classmethod
    def truncated(cls, text: str = "cut sho", delay_s: float | None = None) -> Reply:
        return cls("text", (text,), "length", delay_s=delay_s)

    @classmethod
    def filtered(cls, delay_s: float | None = None) -> Reply:
        return cls("text", ("",), "content_filter", body="null", delay_s=delay_s)

    @classmethod
    def empty(cls, delay_s: float | None = None) -> Reply:
        return cls("text", ("",), "stop", delay_s=delay_s)

    @classmethod
    def status(
        cls,
        code: int,
        *,
        retry_after: float | None = None,
        body: str | None = None,
        delay_s: float | None = None,
    ) -> Reply:
        err = body or json.dumps({"error": {"message": f"scripted {code}", "type": "test"}})
        return cls("status", code=code, retry_after=retry_after, body=err, delay_s=delay_s)

    @classmethod
    def hang(cls) -> Reply:
        return cls("hang")

    @classmethod
    def garbage(cls, body: str = "<html>502 Bad Gateway</html>", code: int = 200) -> Reply:
        return cls("garbage", code=code, body=body)

    @classmethod
    def cut(cls, delay_s: float | None = None) -> Reply:
        return cls("cut", delay_s=delay_s)

    @classmethod
    def drop(cls, delay_s: float | None = None) -> Reply:
        return cls("drop", delay_s=delay_s)


@dataclass
class RecordedRequest:
    path: str
    body: dict[str, Any]
    headers: dict[str, str]
    at: float = field(default_factory=time.monotonic)


Responder = Callable[[dict[str, Any]], "Reply | str"]
Predicate = Callable[[dict[str, Any]], bool]


def echo_responder(body: dict[str, Any]) -> Reply:
    if "messages" in body:
        last = str(body["messages"][-1].get("content", "")) if body["messages"] else ""
    else:
        last = str(body.get("prompt", ""))
    return Reply.text("echo: " + last[:200])


def _tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


def _completion_body(body: dict[str, Any], reply: Reply, chat: bool) -> dict[str, Any]:
    n = int(body.get("n") or 1)
    texts = [reply.texts[i % len(reply.texts)] for i in range(n)]
    choices: list[dict[str, Any]] = []
    for i, text in enumerate(texts):
        content = None if reply.body == "null" else text
        if chat:
            msg = {"role": "assistant", "content": content}
            choices.append({"index": i, "message": msg, "finish_reason": reply.finish_reason})
        else:
            choice = {"index": i, "text": content or "", "logprobs": None}
            choices.append({**choice, "finish_reason": reply.finish_reason})
    prompt = json.dumps(body.get("messages") or body.get("prompt") or "")
    usage = {"prompt_tokens": _tokens(prompt), "completion_tokens": sum(map(_tokens, texts))}
    usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    return {
        "id": "cmpl-test",
        "object": "chat.completion" if chat else "text_completion",
        "created": int(time.time()),
        "model": body.get("model", "test-model"),
        "choices": choices,
        "usage": usage,
    }


class OpenAIServer:
    """The scripted server; a context manager that starts and stops its own thread and loop."""

    def __init__(self, *, latency_s: float = 0.0, port: int = 0, record: bool = True) -> None:
        self.latency_s = latency_s
        self.responder: Responder = echo_responder
        self.requests: list[RecordedRequest] = []
        self.record = record
        self._port = port
        self._scripts: list[tuple[Predicate | None, list[Reply]]] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._stopping: asyncio.Event | None = None
        self.count = 0
        self.capacity: int | None = None  # beyond this many requests in flight: 429
        self.in_flight = 0
        self.peak_in_flight = 0
        # GET /v1/models: served model id -> the `root` it reports (vLLM: the weights' path or
        # hub id; None: no root, as OpenAI and Ollama); `model_listings` counts those GETs.
        self.served: dict[str, str | None] = {"test-model": None}
        self.model_listings = 0

    # -- scripting ---------------------------------------------------------------------------
    def script(self, *replies: Reply, when: Predicate | None = None) -> None:
        """Queue replies for the next requests (those matching `when`, if given), in order."""
        with self._lock:
            self._scripts.append((when, list(replies)))

    def pending(self) -> int:
        with self._lock:
            return sum(len(r) for _, r in self._scripts)

    def _next_reply(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            self.count += 1
            for when, replies in self._scripts:
                if replies and (when is None or when(body)):
                    return replies.pop(0)
        got = self.responder(body)
        return Reply.text(got) if isinstance(got, str) else got

    # -- HTTP --------------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            return web.json_response({"error": {"message": "bad json"}}, status=400)
        if self.record:
            headers = {k.lower(): v for k, v in request.headers.items()}
            self.requests.append(RecordedRequest(request.path, body, headers))
        if self.capacity is not None and self.in_flight >= self.capacity:
            busy = json.dumps({"error": {"message": "over capacity", "type": "rate_limit"}})
            return web.Response(status=429, text=busy, content_type="application/json")
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            return await self._serve(request, body)
        finally:
            self.in_flight -= 1

    async def _serve(self, request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
        reply = self._next_reply(body)
        delay = self.latency_s if reply.delay_s is None else reply.delay_s
        if reply.kind == "hang":
            assert self._stopping is not None
            await self._stopping.wait()
            return web.Response(status=503, text="server stopped")
        if delay > 0:
            await asyncio.sleep(delay)
        return await self._render(request, body, reply)

    async def _render(self, request: web.Request, body: dict[str, Any], reply: Reply) -> Any:
        chat = request.path.endswith("/chat/completions")
        if reply.kind == "status":
            headers = {} if reply.retry_after is None else {"Retry-After": f"{reply.retry_after:g}"}
            return web.Response(
                status=reply.code, text=reply.body, headers=headers, content_type="application/json"
            )
        if reply.kind == "garbage":
            return web.Response(status=reply.code, text=reply.body, content_type="application/json")
        if reply.kind in ("drop", "cut"):
            transport = request.transport
            if transport is not None and reply.kind == "cut":
                text = json.dumps(_completion_body(body, Reply.text("partial"), chat))
                head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                transport.write(f"{head}Content-Length: {len(text)}\r\n\r\n".encode())
                transport.write(text[: len(text) // 2].encode())
            if transport is not None:
                transport.close()
            return web.Response(status=500)  # never reaches the client: the socket is closed
        return web.json_response(_completion_body(body, reply, chat))

    async def _models(self, request: web.Request) -> web.Response:
        self.model_listings += 1
        data: list[dict[str, Any]] = []
        for model, root in self.served.items():
            entry: dict[str, Any] = {"id": model, "object": "model", "owned_by": "test"}
            data.append({**entry, "root": root} if root is not None else entry)
        return web.json_response({"object": "list", "data": data})

    # -- lifecycle ---------------------------------------------------------------------------
    async def start_async(self) -> None:
        """Start on the current event loop (for async callers); `stop_async` undoes it."""
        self._stopping = asyncio.Event()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._handle)
        app.router.add_post("/v1/completions", self._handle)
        app.router.add_get("/v1/models", self._models)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self._port, backlog=4096)
        await site.start()
        server = site._server
        assert server is not None and hasattr(server, "sockets")
        self._port = server.sockets[0].getsockname()[1]

    async def stop_async(self) -> None:
        if self._stopping is not None:
            self._stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}/v1"

    def start(self) -> OpenAIServer:
        ready = threading.Event()

        def serve() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(self.start_async())
            ready.set()
            self._loop.run_forever()
            self._loop.run_until_complete(self.stop_async())
            self._loop.close()

        self._thread = threading.Thread(target=serve, name="openai-test-server", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("test OpenAI server did not start within 10 s")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop = None
            self._thread = None

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def spawn(cmd: list[str], *, cwd: Any = None) -> tuple[Any, str]:
    """Start a server process (`cmd` prints its URL on its first line, as `main` does): the
    process and the URL. For the benchmark scripts, which measure it from outside."""
    import subprocess

    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    if not url.startswith("http"):
        proc.kill()
        raise RuntimeError(f"the test server did not start: {cmd[:3]}")
    return proc, url


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Scripted OpenAI-compatible test server.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per reply")
    parser.add_argument("--reply", default=None, help="fixed reply text (default: echo)")
    args = parser.parse_args(argv)

    async def serve() -> None:
        srv = OpenAIServer(latency_s=args.latency, port=args.port, record=False)
        if args.reply is not None:
            srv.responder = lambda body: Reply.text(args.reply)
        await srv.start_async()
        print(srv.url, flush=True)
        await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


if __name__ == "__main__":
    main()
