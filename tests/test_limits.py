"""Rolling caps from the ledger, the randomised gap and the send window."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime

import pytest

from hub.config.pacing import Gap, LimitsConfigError, SendWindow
from hub.sending.ledger import DAY_SECONDS, Ledger
from hub.sending.limits import Limits, format_until, wait_interruptibly

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC).timestamp()  # a Wednesday


def _record(ledger: Ledger, hub_id: str, to: str, at: float) -> None:
    intent = ledger.plan(
        hub_id=hub_id,
        step=0,
        message_id=f"<{hub_id}@x>",
        recipient=to,
        subject="Hi",
        owner="1:t",
        now=at,
    )
    ledger.record_sent(intent, provider_id="p", thread_id="t", now=at)


def _limits(settings, ledger, now, **overrides):
    values = {"send_gap_seconds": "0", "daily_cap": 3, "per_domain_daily_cap": 2} | overrides
    return Limits(settings.model_copy(update=values), ledger, clock=lambda: now)


def test_daily_cap_is_rolling_and_says_until_when(settings):
    ledger = Ledger.from_settings(settings)
    for i, offset in enumerate((-20 * 3600, -3600, -60)):
        _record(ledger, f"h_{i}", f"a@d{i}.example", T0 + offset)
    hold = _limits(settings, ledger, T0).cap_hold()
    # The oldest of the three leaves the 24 h window 4 h from now.
    assert hold.reason == "HELD:daily_cap until 2026-11-25T16:00Z"
    assert _limits(settings, ledger, T0 + 4 * 3600 + 1).cap_hold() is None
    # A restart (new ledger connection, new Limits) counts the same sends.
    ledger.close()
    assert _limits(settings, Ledger.from_settings(settings), T0).cap_hold() is not None


def test_planned_messages_count_against_the_cap(settings):
    ledger = Ledger.from_settings(settings)
    _record(ledger, "h_0", "a@d0.example", T0 - 60)
    limits = _limits(settings, ledger, T0)
    assert limits.cap_hold(pending=1) is None
    held = limits.cap_hold(pending=2)
    assert held is not None and held.until.timestamp() == T0 - 60 + DAY_SECONDS


def test_per_domain_cap_counts_only_that_domain(settings):
    ledger = Ledger.from_settings(settings)
    _record(ledger, "h_0", "a@gallery.example", T0 - 60)
    _record(ledger, "h_1", "b@gallery.example", T0 - 30)
    limits = _limits(settings, ledger, T0, daily_cap=50)
    assert limits.hold_for("gallery.example").kind == "domain_cap"
    assert limits.hold_for("blog.example") is None


def test_attempted_intents_count_as_sent(settings):
    ledger = Ledger.from_settings(settings)
    ledger.plan(
        hub_id="h_9",
        step=0,
        message_id="<m@x>",
        recipient="a@b.example",
        subject="Hi",
        owner="1:t",
        now=T0 - 10,
    )
    assert ledger.sends_since(T0 - 100) == []  # planned, never handed over: nothing counts
    ledger.mark_attempt("h_9", 0, "1:t", now=T0 - 5)
    assert ledger.sends_since(T0 - 100) == [T0 - 5]


def test_cap_zero_stops_sending(settings):
    ledger = Ledger.from_settings(settings)
    assert _limits(settings, ledger, T0, daily_cap=0).cap_hold().reason == "HELD:daily_cap"


def test_gap_parsing_and_drawing():
    rng = random.Random(7)
    gap = Gap.parse("30-90")
    draws = [gap.draw(rng) for _ in range(200)]
    assert min(draws) >= 30 and max(draws) <= 90 and len(set(draws)) > 100
    assert Gap.parse("0").draw(rng) == 0
    assert Gap.parse("45").draw(rng) == 45
    for bad in ("soon", "90-30", "-5"):
        with pytest.raises(LimitsConfigError, match="HUB_SEND_GAP_SECONDS"):
            Gap.parse(bad)


def _utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_send_window_in_local_time():
    window = SendWindow.parse("mon-fri 09:00-17:00 Europe/London")
    # Wednesday 25 Nov 2026, London is on GMT (UTC+0) in November.
    assert window.is_open(_utc(2026, 11, 25, 10, 0))
    assert window.next_open(_utc(2026, 11, 25, 7, 30)) == _utc(2026, 11, 25, 9, 0)
    # Friday after hours -> Monday 09:00.
    assert window.next_open(_utc(2026, 11, 27, 17, 0)) == _utc(2026, 11, 30, 9, 0)
    # Summer time: 09:00 London is 08:00 UTC.
    assert window.next_open(_utc(2026, 6, 13, 12, 0)) == _utc(2026, 6, 15, 8, 0)


def test_send_window_across_midnight_and_day_lists():
    window = SendWindow.parse("fri,sat 22:00-02:00")
    assert window.is_open(_utc(2026, 11, 28, 1, 0))  # Saturday 01:00 belongs to Friday night
    assert not window.is_open(_utc(2026, 11, 30, 1, 0))  # Monday 01:00: Sunday is not listed
    assert SendWindow.parse("") is None


@pytest.mark.parametrize(
    "text",
    ["mon-fri", "mon-fri 9-17", "mon-fri 09:00-17:00 Mars/Base", "moon 09:00-17:00", "09:00-09:00"],
)
def test_bad_send_window_names_the_setting(text):
    with pytest.raises(LimitsConfigError, match="HUB_SEND_WINDOW"):
        SendWindow.parse(text)


def test_window_hold_reason(settings):
    ledger = Ledger.from_settings(settings)
    saturday = _utc(2026, 11, 28, 10, 0).timestamp()
    limits = _limits(settings, ledger, saturday, send_window="mon-fri 09:00-17:00 Europe/London")
    assert limits.window_hold().reason == "HELD:send_window until 2026-11-30T09:00Z"


def test_until_rounds_up_to_the_minute():
    assert format_until(datetime(2026, 11, 29, 9, 13, 1, tzinfo=UTC)) == "2026-11-29T09:14Z"
    assert format_until(datetime(2026, 11, 29, 9, 14, tzinfo=UTC)) == "2026-11-29T09:14Z"


async def test_gap_wait_stops_when_the_job_is_cancelled():
    cancelled = asyncio.Event()
    asyncio.get_running_loop().call_later(0.05, cancelled.set)
    finished = await wait_interruptibly(3600, cancelled.is_set, poll=0.01)
    assert finished is False
    assert await wait_interruptibly(0, lambda: False) is True
