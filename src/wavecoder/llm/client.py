"""The `LLM` every role uses: a backend plus the request cache, accounting and budget cap.

`Client.agenerate` answers cached requests at once, sends each distinct uncached request once
(identical requests in one batch share a reply), stores every genuine reply in the cache as soon
as it arrives, and calls `on_response` per finished request. When the budget cap refuses a
request, sending stops, replies in flight are awaited and stored, and `BudgetExceeded` is raised.
A backend (`openai_compat.OpenAIBackend`, `hf_local.HFBackend`) only turns requests into
responses; it knows nothing of caching or money. Not here: HTTP, retries, tensors.

Ctrl-C: `generate` runs on an `asyncio.Runner`, which turns SIGINT into cancelling the call;
the backend cancels its requests in flight and waits for them, every reply received so far is
committed to the cache, and `KeyboardInterrupt` propagates with no task left pending (the
`wavecoder` command then prints one line and exits 130). A rerun replays the cached replies.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

from wavecoder.llm.accounting import Accountant, resolve_price
from wavecoder.llm.base import (
    BudgetExceeded,
    LLMConfig,
    LLMError,
    OnResponse,
    Request,
    Response,
)
from wavecoder.llm.cache import ResponseCache, default_cache_path, request_hash

#: Reserve a request's cost before sending; None means "over budget, do not send".
Admit = Callable[[Request], "float | None"]
#: Hand back the final response of job `index` with the reservation it was sent under.
Emit = Callable[[int, Response, float], None]


class Backend(Protocol):
    name: str

    @property
    def identity(self) -> str: ...

    async def run(self, jobs: Sequence[tuple[int, Request]], *, admit: Admit, emit: Emit) -> None:
        """Answer every job unless `admit` refuses one, then send no further job."""
        ...

    async def aclose(self) -> None: ...


class Client:
    """Implements `wavecoder.llm.base.LLM` for any backend."""

    def __init__(
        self,
        backend: Backend,
        *,
        role: str,
        accountant: Accountant,
        cache: ResponseCache | None,
    ) -> None:
        self.backend, self.role, self.accountant, self.cache = backend, role, accountant, cache
        # one loop for every call: the backend's HTTP clients are bound to it
        self._runner: asyncio.Runner | None = None

    @property
    def identity(self) -> str:
        return self.backend.identity

    def generate(
        self,
        requests: Sequence[Request],
        *,
        progress: bool = True,
        on_response: OnResponse | None = None,
    ) -> list[Response]:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise LLMError("LLM.generate called inside a running event loop; await agenerate")
        if self._runner is None:
            self._runner = asyncio.Runner()
        coro = self.agenerate(requests, progress=progress, on_response=on_response)
        try:
            return self._runner.run(coro)
        except KeyboardInterrupt:
            # Off the main thread (or under a custom SIGINT handler) the interrupt lands inside
            # the loop without cancelling anything: cancel and await what is left ourselves.
            _cancel_pending(self._runner.get_loop())
            if self.cache is not None:
                self.cache.commit()
            raise

    async def agenerate(
        self,
        requests: Sequence[Request],
        *,
        progress: bool = True,
        on_response: OnResponse | None = None,
    ) -> list[Response]:
        run = _Run(self, requests, progress=progress, on_response=on_response)
        try:
            return await run.execute()
        finally:
            run.bar.close()
            if self.cache is not None:
                self.cache.commit()

    def describe(self) -> dict[str, Any]:
        """What answers this client's requests (for summaries; no secret, URLs redacted)."""
        from wavecoder.llm.identity import redact

        cfg = getattr(self.backend, "cfg", None)
        out: dict[str, Any] = {"backend": self.backend.name, "model": self.accountant.model}
        out["revision"] = getattr(cfg, "model_revision", "")
        if getattr(cfg, "adapter", ""):
            out["adapter"] = cfg.adapter  # type: ignore[union-attr]
        if hasattr(self.backend, "urls"):
            out["endpoints"] = [redact(u) for u in self.backend.urls]
            out["served_weights"] = getattr(self.backend, "served_weights", "")
        out["identity"] = self.identity
        out["cache"] = str(self.cache.path) if self.cache is not None else "off"
        return out

    def stats(self) -> dict[str, int | float | str]:
        out = self.accountant.stats()
        backend_stats = getattr(self.backend, "stats", None)
        if callable(backend_stats):
            out.update({f"llm.{self.role}.{k}": v for k, v in backend_stats().items()})
        return out

    def close(self) -> None:
        if self._runner is not None:
            try:
                self._runner.run(self.backend.aclose())
            finally:
                self._runner.close()  # cancels and awaits any task still pending
                self._runner = None
        if self.cache is not None:
            self.cache.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Run:
    """The state of one `agenerate` call."""

    def __init__(
        self,
        client: Client,
        requests: Sequence[Request],
        *,
        progress: bool,
        on_response: OnResponse | None,
    ) -> None:
        self.client, self.requests, self.on_response = client, list(requests), on_response
        name, identity = client.backend.name, client.identity
        self.hashes = [request_hash(name, identity, r) for r in self.requests]
        self.results: list[Response | None] = [None] * len(self.requests)
        self.refused = False
        self.callback_failed = False
        self.commit_scheduled = False
        self.bar = _progress_bar(len(self.requests), f"llm {client.role}", enabled=progress)

    async def execute(self) -> list[Response]:
        cache, acct = self.client.cache, self.client.accountant
        hits = cache.get_many(sorted(set(self.hashes))) if cache is not None else {}
        leaders: dict[str, int] = {}
        self.followers: dict[int, list[int]] = {}
        for i, digest in enumerate(self.hashes):
            if digest in hits:
                acct.count_cached(hits[digest])
                self._finish(i, hits[digest])
            elif digest in leaders:
                self.followers[leaders[digest]].append(i)
            else:
                leaders[digest] = i
                self.followers[i] = []
        jobs = [(i, self.requests[i]) for i in leaders.values()]
        if jobs:
            await self.client.backend.run(jobs, admit=self._admit, emit=self._emit)
        return self._collect()

    def _admit(self, request: Request) -> float | None:
        reserved = self.client.accountant.reserve(request)
        if reserved is None:
            self.refused = True
        return reserved

    def _emit(self, index: int, response: Response, reserved: float) -> None:
        client = self.client
        client.accountant.settle(reserved, response)
        if client.cache is not None:
            stored = client.cache.put(
                self.hashes[index], client.identity, self.requests[index], response, commit=False
            )
            if stored and not self.commit_scheduled:
                # One commit per event-loop turn for all replies that finished in it.
                self.commit_scheduled = True
                asyncio.get_running_loop().call_soon(self._commit)
        self._finish(index, response)
        for j in self.followers.get(index, ()):
            client.accountant.count_cached(response)
            self._finish(j, replace(response, cached=True))

    def _commit(self) -> None:
        self.commit_scheduled = False
        if self.client.cache is not None:
            self.client.cache.commit()

    def _finish(self, index: int, response: Response) -> None:
        response = replace(response, key=self.requests[index].key)
        self.results[index] = response
        self.bar.update(1)
        if self.on_response is not None and not self.callback_failed:
            try:
                self.on_response(response)
            except BaseException:
                self.callback_failed = True  # replies still in flight go to the cache only
                raise

    def _collect(self) -> list[Response]:
        missing = sum(r is None for r in self.results)
        if not missing:
            return [r for r in self.results if r is not None]
        acct = self.client.accountant
        if self.refused:
            raise BudgetExceeded(
                f"role {self.client.role!r}: budget of ${acct.budget_usd:.4f} reached "
                f"(spent ${acct.spent_usd:.4f}); {missing} of {len(self.results)} requests not "
                "sent; finished replies are cached, raise budget_usd and rerun to continue",
                self.results,
            )
        raise LLMError(f"backend {self.client.backend.name} left {missing} requests unanswered")


def _cancel_pending(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel every task of the (stopped) loop and run it until they have all finished."""
    if loop.is_closed() or loop.is_running():
        return
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))


def _progress_bar(total: int, desc: str, *, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    from wavecoder.progress import is_quiet

    disable = True if (not enabled or is_quiet()) else None
    return tqdm(total=total, desc=desc, disable=disable, dynamic_ncols=True, leave=False)


def build_client(cfg: LLMConfig, *, role: str) -> Client:
    backend: Backend
    if cfg.identify_server is None:
        cfg = replace(cfg, identify_server=role == "eval")
    if cfg.backend == "openai":
        from wavecoder.llm.openai_compat import OpenAIBackend

        backend = OpenAIBackend(cfg)
    elif cfg.backend == "transformers":
        from wavecoder.llm.hf_local import HFBackend

        backend = HFBackend(cfg)
    else:
        raise LLMError(f"unknown LLM backend {cfg.backend!r}; choose openai or transformers")
    accountant = Accountant(
        role=role, model=cfg.model, price=resolve_price(cfg), budget_usd=cfg.budget_usd
    )
    cache = None
    if cfg.cache:
        path = Path(cfg.cache_path) if cfg.cache_path else default_cache_path()
        cache = ResponseCache(path, namespace=cfg.namespace(role))
    return Client(backend, role=role, accountant=accountant, cache=cache)
