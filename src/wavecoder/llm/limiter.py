"""Adaptive concurrency over one or several endpoints (AIMD), with dead-endpoint removal.

Each endpoint has a concurrency limit that starts at the configured maximum, halves on an
overload signal (429, or 503 with Retry-After; once per wave: signals from requests sent before
the last cut are stale), and grows
by 1/limit per success (about +1 per round trip of successes) back up to the maximum.
Retry-After pauses that endpoint until the given time. After `dead_after` consecutive
connection failures an endpoint leaves the rotation for `dead_cooldown_s`, then gets one
more chance; with every endpoint dead they all stay in use, so retries end in clear errors
rather than a wait. `acquire` picks the live endpoint with the most free slots; waiters are woken
one per freed slot, so a throttled pool costs no thundering herd. Pure asyncio, no I/O.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass
class Slot(Generic[T]):
    """One endpoint's state; `client` is whatever the backend talks to it with."""

    url: str
    client: T
    max_limit: int
    min_limit: int = 1
    limit: float = 0.0
    in_flight: int = 0
    paused_until: float = 0.0
    dead_until: float = 0.0
    failures: int = 0
    epoch: int = 0  # bumped at each cut; overload news from older requests is stale

    def __post_init__(self) -> None:
        self.limit = float(self.max_limit)

    def free(self, now: float, *, ignore_dead: bool = False) -> int:
        if now < self.paused_until or (now < self.dead_until and not ignore_dead):
            return 0
        return math.floor(self.limit) - self.in_flight


class EndpointPool(Generic[T]):
    def __init__(
        self,
        slots: list[Slot[T]],
        *,
        dead_after: int = 3,
        dead_cooldown_s: float = 60.0,
    ) -> None:
        if not slots:
            raise ValueError("an endpoint pool needs at least one endpoint")
        self.slots = slots
        self.dead_after, self.dead_cooldown_s = dead_after, dead_cooldown_s
        self._waiters: deque[asyncio.Future[None]] = deque()

    # -- slots -------------------------------------------------------------------------------
    def _pick(self, now: float) -> Slot[T] | None:
        # With every endpoint dead, keep trying them all: retries then end in clear errors.
        all_dead = all(now < s.dead_until for s in self.slots)
        best, best_free = None, 0
        for slot in self.slots:
            free = slot.free(now, ignore_dead=all_dead)
            if free > best_free:
                best, best_free = slot, free
        return best

    def _next_timer(self, now: float) -> float | None:
        times = [t for s in self.slots for t in (s.paused_until, s.dead_until) if t > now]
        # (a dead-until time only matters while another endpoint is alive; harmless otherwise)
        return max(0.0, min(times) - now) + 0.001 if times else None

    async def acquire(self) -> Slot[T]:
        loop = asyncio.get_running_loop()
        while True:
            now = time.monotonic()
            slot = self._pick(now)
            if slot is not None:
                slot.in_flight += 1
                return slot
            fut: asyncio.Future[None] = loop.create_future()
            self._waiters.append(fut)
            try:
                async with asyncio.timeout(self._next_timer(now)):
                    await fut
            except TimeoutError:
                pass
            finally:
                if not fut.done():
                    fut.cancel()

    def release(self, slot: Slot[T]) -> None:
        slot.in_flight -= 1
        self._wake(1)

    def _wake(self, n: int) -> None:
        while n > 0 and self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(None)
                n -= 1

    # -- feedback ----------------------------------------------------------------------------
    def success(self, slot: Slot[T]) -> None:
        slot.failures = 0
        if slot.limit < slot.max_limit:
            before = math.floor(slot.limit)
            slot.limit = min(float(slot.max_limit), slot.limit + 1.0 / slot.limit)
            self._wake(math.floor(slot.limit) - before)

    def overloaded(self, slot: Slot[T], retry_after: float | None, *, epoch: int) -> None:
        """An overload signal from a request sent in `epoch` (the slot's epoch at acquire)."""
        now = time.monotonic()
        if epoch == slot.epoch:  # one cut per window: later 429s of the same wave are stale
            slot.limit = max(float(slot.min_limit), slot.limit / 2)
            slot.epoch += 1
        if retry_after:
            slot.paused_until = max(slot.paused_until, now + retry_after)

    def connection_failed(self, slot: Slot[T]) -> None:
        slot.failures += 1
        if slot.failures >= self.dead_after:
            log.warning(
                "endpoint %s out of rotation for %g s after %d connection failures",
                slot.url,
                self.dead_cooldown_s,
                slot.failures,
            )
            slot.dead_until = time.monotonic() + self.dead_cooldown_s
            slot.failures = (
                self.dead_after - 1
            )  # one more failure after the cooldown kills it again

    def alive(self) -> list[str]:
        now = time.monotonic()
        return [s.url for s in self.slots if now >= s.dead_until]
