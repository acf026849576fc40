"""The providers' multi-window limiter on an injected clock: no real waiting, exact answers."""

from __future__ import annotations

import asyncio

import pytest

from hub.providers.ratelimit import MultiWindowLimiter, Window
from tests.emulators.fake_clock import FakeClock
from tests.emulators.serve import next_loop_turn


def _limiter(clock: FakeClock, windows, *, late: float = 0.0, margin: float = 0.03):
    async def sleep(seconds: float) -> None:
        await clock.async_sleep(seconds, late=late)

    return MultiWindowLimiter(windows, margin=margin, clock=clock, sleep=sleep)


def _most_in_any(stamps: list[float], seconds: float) -> int:
    """The most stamps in any half-open window (t - seconds, t], as the provider counts."""
    return max(sum(1 for s in stamps if t - seconds < s <= t) for t in stamps)


async def test_late_wake_ups_do_not_slow_the_schedule():
    clock = FakeClock(start=0.0)
    limiter = _limiter(clock, [Window(150, 1.0), Window(5000, 60.0)], late=0.001)
    stamps = []
    for _ in range(450):
        await limiter.acquire()
        stamps.append(clock())
    gap = 1.03 / 150
    # A 1 ms late wake-up on every one of 449 gaps would add 0.45 s (the old limiter did).
    assert clock() < 449 * gap + 0.01
    assert _most_in_any(stamps, 1.03) <= 150


async def test_calls_never_exceed_any_window_even_when_catching_up():
    clock = FakeClock(start=0.0)
    limiter = _limiter(clock, [Window(15, 1.0), Window(40, 60.0)])
    stamps = []
    for i in range(100):
        if i % 9 == 0:
            clock.advance(0.05)  # a stall of the event loop: the schedule catches up after it
        await limiter.acquire()
        stamps.append(clock())
    assert _most_in_any(stamps, 1.0) <= 15
    assert _most_in_any(stamps, 60.0) <= 40
    # 100 calls at 40 a minute: two waits of a (stretched) minute, not more.
    assert stamps[80] == pytest.approx(stamps[40] + 61.8) and clock() < 2 * 61.8 + 2.0


async def test_an_idle_spell_banks_no_burst():
    clock = FakeClock(start=0.0)
    limiter = _limiter(clock, [Window(10, 1.0)])
    await limiter.acquire()
    clock.advance(30.0)
    await limiter.acquire()
    before = clock()
    await limiter.acquire()  # one gap after the call before it, not at once
    assert clock() - before == pytest.approx(0.103)


async def test_a_call_counts_from_when_it_went_out_not_from_its_turn():
    clock = FakeClock(start=0.0)
    limiter = _limiter(clock, [Window(2, 1.0)], margin=0.0)
    async with limiter.call() as on_wire:
        clock.advance(0.3)  # waited for a pooled connection
        on_wire()
    async with limiter.call() as on_wire:
        on_wire()
    await limiter.acquire()  # the first call went out at 0.3: it leaves the window at 1.3
    assert clock() == pytest.approx(1.3)


async def test_a_late_answer_means_the_provider_read_it_late():
    clock = FakeClock(start=0.0)
    limiter = _limiter(clock, [Window(1, 1.0)], margin=0.0)
    for _ in range(3):  # the provider's usual answer time: 0.05 s
        async with limiter.call() as on_wire:
            on_wire()
            clock.advance(0.05)
    async with limiter.call() as on_wire:
        on_wire()
        sent_at = clock()
        clock.advance(0.25)  # answered 0.2 s later than usual: read up to 0.2 s late
    await limiter.acquire()
    assert clock() - sent_at == pytest.approx(0.2 + 1.0)


async def test_a_call_not_yet_sent_holds_its_place_until_it_is():
    clock = FakeClock(start=0.0)
    limiter = _limiter(clock, [Window(1, 1.0)], margin=0.0)
    block = limiter.call()
    on_wire = await block.__aenter__()  # our turn; the request has not gone out yet
    waiter = asyncio.ensure_future(limiter.acquire())
    for _ in range(50):  # the next call polls; time passes while ours waits for the wire
        await next_loop_turn()
    assert not waiter.done()
    sent_at = clock()
    on_wire()
    await block.__aexit__(None, None, None)
    await waiter
    assert clock() >= sent_at + 1.0
