"""AIMD concurrency and endpoint rotation, without any network."""

from __future__ import annotations

import asyncio

import pytest

from wavecoder.llm.limiter import EndpointPool, Slot

pytestmark = pytest.mark.timeout(30)


def pool(*limits: int, **kw: float) -> EndpointPool[None]:
    return EndpointPool([Slot(f"u{i}", None, n) for i, n in enumerate(limits)], **kw)  # type: ignore[arg-type]


def test_one_cut_per_wave_then_additive_growth() -> None:
    p = pool(16)
    slot = p.slots[0]
    wave = slot.epoch
    for _ in range(10):  # ten 429s from requests of the same wave: one halving
        p.overloaded(slot, None, epoch=wave)
    assert slot.limit == 8
    p.overloaded(slot, None, epoch=slot.epoch)
    assert slot.limit == 4
    for _ in range(4):
        p.success(slot)
    assert 4.9 < slot.limit < 5.1  # about +1 per limit's worth of successes
    for _ in range(1000):
        p.success(slot)
    assert slot.limit == 16


def test_limit_never_below_minimum() -> None:
    p = EndpointPool([Slot("u", None, 8, min_limit=2)])
    for _ in range(10):
        p.overloaded(p.slots[0], None, epoch=p.slots[0].epoch)
    assert p.slots[0].limit == 2


def test_acquire_blocks_at_the_limit_and_wakes_on_release() -> None:
    async def main() -> None:
        p = pool(2)
        a, b = await p.acquire(), await p.acquire()
        waiter = asyncio.create_task(p.acquire())
        await asyncio.sleep(0.02)
        assert not waiter.done()
        p.release(a)
        assert (await asyncio.wait_for(waiter, 1)) is a
        p.release(b)

    asyncio.run(main())


def test_retry_after_pauses_the_endpoint() -> None:
    async def main() -> float:
        p = pool(4)
        slot = await p.acquire()
        p.overloaded(slot, 0.2, epoch=slot.epoch)
        p.release(slot)
        loop = asyncio.get_running_loop()
        start = loop.time()
        await p.acquire()
        return loop.time() - start

    assert asyncio.run(main()) >= 0.19


def test_spread_and_dead_endpoint() -> None:
    async def main() -> None:
        p = pool(4, 4, dead_after=2, dead_cooldown_s=60)
        got = [await p.acquire() for _ in range(4)]
        assert {s.url for s in got} == {"u0", "u1"}  # most free slots first: alternates
        for s in got:
            p.release(s)
        p.connection_failed(p.slots[1])
        assert p.alive() == ["u0", "u1"]
        p.connection_failed(p.slots[1])
        assert p.alive() == ["u0"]
        assert {(await p.acquire()).url for _ in range(4)} == {"u0"}

    asyncio.run(main())


def test_all_dead_still_serves() -> None:
    async def main() -> str:
        p = pool(2, dead_after=1)
        p.connection_failed(p.slots[0])
        return (await asyncio.wait_for(p.acquire(), 1)).url

    assert asyncio.run(main()) == "u0"
