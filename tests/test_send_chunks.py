"""Send and follow-up chunks are sized by time: the Sheets cost and the `sending` promise.

The Sheets v4 emulator (real gspread) counts every request and serves 429 above the quota;
its clock is a fake one shared with the store's pacing, so quota minutes cost no real time.
Real sends go to the Gmail v1 emulator through the real Gmail client.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from hub.app import build_services
from hub.config import Settings
from hub.sending import chunking
from hub.sending.chunking import ChunkSizer
from hub.sending.ledger import Ledger
from hub.stages.followup import run_followups
from hub.stages.send import run_send
from tests.helpers_send_crash import add_rows, gmail_world, real_send_settings, sent_recipients
from tests.store_contract import (
    emulator_servers,  # noqa: F401 - a fixture shared by this module's tests
    google_sheet_env,
)

DAY = 86400


def _sizer(gap: str, *, dry_run: bool = False, fixed: object = None) -> ChunkSizer:
    settings = Settings(_env_file=None, send_gap_seconds=gap, sheets_chunk_rows=500)
    return ChunkSizer.from_settings(settings, dry_run=dry_run, fixed=fixed)


# --- sizing ---------------------------------------------------------------------------------------
def test_the_default_gap_sends_one_row_per_chunk_and_gap_zero_up_to_the_sheet_chunk():
    assert _sizer("30-90").sends() == 1
    assert _sizer("2").sends() == 4  # 12 s / (2 s gap + 0.5 s assumed per send)
    fast = _sizer("0")
    assert fast.sends() == 24  # nothing measured yet: Gmail's ~0.5 s per send assumed
    fast.observe(0.01)
    assert fast.sends() == 24  # learnt when the chunk is over
    fast.chunk_done()
    assert fast.sends() == 500  # the emulator answers in ~10 ms: capped by the sheet chunk
    for _ in range(20):
        fast.observe(1.0)  # the provider slowed down: the chunk shrinks with it
    fast.chunk_done()
    assert fast.sends() == 12
    for seconds in [0.4] * 99 + [60.4]:  # one send waited out Gmail's quota window
        fast.observe(seconds)
    fast.chunk_done()
    assert fast.sends() == 12  # the chunk's real pace: 100 sends in 100 s
    assert all(s.rows() == 500 for s in (_sizer("30-90"), fast))


def test_dry_runs_and_explicit_chunk_sizes_ignore_the_gap():
    assert _sizer("30-90", dry_run=True).sends() == 500
    fixed = _sizer("0", fixed=7)
    assert (fixed.rows(), fixed.sends()) == (7, 7)
    assert not fixed.overdue(0.0, now=lambda: 10_000.0)


def test_a_chunk_is_overdue_when_its_next_send_would_end_past_the_deadline():
    sizer = _sizer("0")  # 0.5 s per send assumed
    at = chunking.CHUNK_DEADLINE - 1.0
    assert not sizer.overdue(0.0, now=lambda: at)
    assert sizer.overdue(0.0, wait=1.0, now=lambda: at)  # the gap left pushes it over


# --- Sheets economy -------------------------------------------------------------------------------
def _sheet_services(env, data_dir: Path, **values):
    settings = env.settings(data_dir=data_dir, **values)
    store = env.store(data_dir=data_dir)
    store.ensure_schema()
    return build_services(settings, store=store)


def test_a_dry_run_send_of_1000_rows_costs_at_most_25_sheets_requests(
    data_dir,
    emulator_servers,  # noqa: F811
):
    with google_sheet_env(data_dir / "sheet", servers=emulator_servers) as env:
        values = real_send_settings() | {"mailer": "outbox"}
        services = _sheet_services(env, data_dir, **values)
        try:
            ids = add_rows(services.store, 1000)
            env.clock.advance(120)  # the set-up's requests leave the quota window
            env.sheets.reset_log()
            progress: list[int] = []
            summary = asyncio.run(
                run_send(services, report_progress=lambda done, total: progress.append(done))
            )
            requests, throttled = env.sheets.count(), env.sheets.served(429)
            rows = {r["hub_id"]: r for r in services.store.rows()}
        finally:
            services.close()

    assert summary["dry_run"] == 1000 and summary["rows"] == 1000
    assert requests <= 25, [r.method for r in env.sheets.log]
    assert throttled == 0
    assert progress == [500, 1000]  # two chunks of HUB_SHEETS_CHUNK_ROWS
    for hub_id in ids:
        assert rows[hub_id]["outreach_status"] == "drafted"  # a dry run changes no status
        assert rows[hub_id]["hold_reason"] == f"DRY_RUN {hub_id}-0.eml"
    assert len(list(services.settings.outbox_dir.glob("*.eml"))) == 1000


def test_dry_run_follow_ups_read_the_sheet_once_per_big_chunk(
    data_dir,
    emulator_servers,  # noqa: F811
):
    with (
        gmail_world() as world,
        google_sheet_env(data_dir / "sheet", servers=emulator_servers) as env,
    ):
        services = _sheet_services(env, data_dir, **world.settings)
        try:
            add_rows(services.store, 60)
            assert asyncio.run(run_send(services))["sent"] == 60
        finally:
            services.close()
        env.clock.advance(120)
        preview = _sheet_services(env, data_dir, **(world.settings | {"mailer": "outbox"}))
        env.sheets.reset_log()
        try:
            later = time.time() + 3 * DAY + 60
            summary = asyncio.run(run_followups(preview, clock=lambda: later))
            requests = env.sheets.count()
            rows = preview.store.rows()
        finally:
            preview.close()

    assert summary["dry_run"] == 60 and len(world.gmail.sent()) == 60
    # One read picks the due rows and serves the chunk; one update (a read + a write) records
    # the previews. In chunks of 20 this was 1 + 3 x 3 = 10.
    assert requests <= 3, [r.method for r in env.sheets.log]
    assert all(r["hold_reason"].startswith("DRY_RUN ") for r in rows)
    assert all(r["outreach_status"] == "sent" and r["followups_sent"] == "0" for r in rows)


# --- the `sending` promise with small chunks -------------------------------------------------------
class SheetAtSendTime:
    """Wraps the real Gmail mailer (a spy at the Mailer boundary; the real client still
    sends): before each send it records the sheet as the emulator holds it then."""

    def __init__(self, mailer, look: Callable[[], dict[str, dict[str, str]]]):
        self.inner = mailer
        self.look = look
        self.seen: list[dict[str, dict[str, str]]] = []

    def send(self, message, **kwargs):
        self.seen.append(self.look())
        return self.inner.send(message, **kwargs)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def _sheet_rows(env) -> dict[str, dict[str, str]]:
    header, *lines = env.sheets.cells()
    rows = [dict(zip(header, line, strict=False)) for line in lines]
    return {r["hub_id"]: r for r in rows if r.get("hub_id")}


def test_with_the_default_gap_only_the_row_being_sent_is_marked_sending(
    data_dir,
    emulator_servers,  # noqa: F811
):
    with (
        gmail_world() as world,
        google_sheet_env(data_dir / "sheet", servers=emulator_servers) as env,
    ):
        values = world.settings | {"send_gap_seconds": "30-90"}
        services = _sheet_services(env, data_dir, **values)
        spy = SheetAtSendTime(services.mailer, lambda: _sheet_rows(env))
        services.mailer = spy
        try:
            ids = add_rows(services.store, 3)
            # Cancel once the first message is out: the next one would wait 30-90 s.
            summary = asyncio.run(
                run_send(services, is_cancelled=lambda: len(world.gmail.sent()) >= 1)
            )
            after = _sheet_rows(env)
            ledger = Ledger.from_settings(services.settings)
            intents = [ledger.intent(h, 0) for h in ids[1:]]
            ledger.close()
        finally:
            services.close()

    assert summary["sent"] == 1 and summary["cancelled"] is True
    [at_send] = spy.seen
    [stored] = world.gmail.sent()
    # The row was `sending`, with the Message-ID that went out, before Gmail was called...
    assert at_send[ids[0]]["outreach_status"] == "sending"
    assert at_send[ids[0]]["message_id"] == stored.parsed["Message-ID"]
    # ...and it was the only one: a chunk holds what goes out in ~12 s, one row at 30-90 s.
    assert [at_send[h]["outreach_status"] for h in ids[1:]] == ["drafted", "drafted"]
    assert after[ids[0]]["outreach_status"] == "sent"
    assert [after[h]["outreach_status"] for h in ids[1:]] == ["drafted", "drafted"]
    assert intents == [None, None]  # never planned, nothing to reconcile


def test_a_chunk_past_its_deadline_puts_the_rest_back_and_each_is_sent_once(data_dir, monkeypatch):
    # Every chunk is past its time after its first send (a provider far slower than planned).
    monkeypatch.setattr(chunking, "CHUNK_DEADLINE", 0.0)
    with gmail_world() as world:
        services = build_services(Settings(_env_file=None, data_dir=data_dir, **world.settings))
        services.store.ensure_schema()
        try:
            ids = add_rows(services.store, 4)
            progress: list[int] = []
            summary = asyncio.run(
                run_send(services, report_progress=lambda done, total: progress.append(done))
            )
            rows = [services.store.get(h) for h in ids]
            ledger = Ledger.from_settings(services.settings)
            sends = ledger.count()
            ledger.close()
        finally:
            services.close()

    assert progress == [1, 2, 3, 4]  # each chunk sent one row and put the others back
    assert summary == {"rows": 4, "dry_run": False, "sent": 4}  # put-backs are not outcomes
    assert sorted(sent_recipients(world.gmail)) == [
        f"editor{i}@gallery{i}.example" for i in range(4)
    ]
    assert all(r["outreach_status"] == "sent" for r in rows)
    assert len({r["message_id"] for r in rows}) == 4 and sends == 4


def test_rows_put_back_are_not_held_by_a_cap_they_were_counted_against(data_dir, monkeypatch):
    monkeypatch.setattr(chunking, "CHUNK_DEADLINE", 0.0)
    with gmail_world() as world:
        values = world.settings | {"daily_cap": 3}
        services = build_services(Settings(_env_file=None, data_dir=data_dir, **values))
        services.store.ensure_schema()
        try:
            ids = add_rows(services.store, 5)
            summary = asyncio.run(run_send(services))
            rows = [services.store.get(h) for h in ids]
        finally:
            services.close()

    # The first chunk planned three rows (the cap), sent one and put two back; those two
    # still go this run, and only the rows over the cap are held.
    assert summary["sent"] == 3 and summary["held"] == 2
    assert len(world.gmail.sent()) == 3
    assert [r["outreach_status"] for r in rows] == ["sent"] * 3 + ["drafted"] * 2
    assert all(r["hold_reason"].startswith("HELD:daily_cap until ") for r in rows[3:])


@pytest.mark.parametrize("gap", ["0", "30-90"])
def test_every_chunk_costs_at_most_three_reads_and_two_writes(
    data_dir,
    emulator_servers,  # noqa: F811
    gap,
):
    """Whatever the gap, a chunk is 3 reads + 2 writes, and at gap 0 chunks are big."""
    with (
        gmail_world() as world,
        google_sheet_env(data_dir / "sheet", servers=emulator_servers) as env,
    ):
        services = _sheet_services(env, data_dir, **(world.settings | {"send_gap_seconds": gap}))
        try:
            add_rows(services.store, 40)
            env.clock.advance(120)
            env.sheets.reset_log()
            chunks: list[int] = []
            cancel = gap != "0"  # at 30-90 s, stop after the first send instead of waiting
            asyncio.run(
                run_send(
                    services,
                    report_progress=lambda done, total: chunks.append(done),
                    is_cancelled=lambda: cancel and len(world.gmail.sent()) >= 1,
                )
            )
        finally:
            services.close()

    reads, writes = env.sheets.count("read"), env.sheets.count("write")
    assert reads <= 3 * len(chunks) and writes <= 2 * len(chunks)
    if gap == "0":
        assert len(world.gmail.sent()) == 40 and chunks[0] >= 20  # not 20-row chunks of old
    else:
        assert chunks == [1] and (reads, writes) == (3, 2)
