"""Exactly once across crashes: the send job is SIGKILLed at random moments and restarted.

The Gmail v1 emulator runs in this process; the send job runs in a child process
(``python -m tests.helpers_send_crash``) with the real Gmail client, the local SQLite store and
the durable ledger in a shared data dir. Kill moments come from a seeded RNG and are chosen by
polling the emulator (messages stored, requests answered) -- never by sleeping.

Gmail's real per-user quota (15,000 units a minute = 150 sends) would make 200 sends take
over a minute; it is covered by the mailer's own tests, so here both the emulator and the
child's Gmail client run with a raised quota (``UNITS_PER_MINUTE``).
"""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from hub.config import Settings
from hub.sending.ledger import Ledger
from sheets.local import LocalStore
from tests.emulators.serve import wait_until
from tests.helpers_send_crash import add_rows, gmail_world, sent_recipients

ROOT = Path(__file__).resolve().parent.parent
ROWS = 200
KILLS = 10
UNITS_PER_MINUTE = 10_000_000

pytestmark = pytest.mark.timeout(120)


def _start(data_dir: Path, values: dict, log: Path, chunks: str = "10") -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "tests.helpers_send_crash",
        str(data_dir),
        json.dumps(values),
        str(UNITS_PER_MINUTE),
        chunks,
    ]
    with log.open("ab") as err:
        return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err)


def _kill_at_random_moment(world, proc: subprocess.Popen, rng: random.Random) -> None:
    """Kill once the emulator has stored a few more messages, or answered a few more requests
    (so kills land during searches, sends and in between), or when the job ends by itself."""
    if rng.random() < 0.6:
        target = len(world.gmail.sent()) + rng.randint(1, 15)
        reached = lambda: len(world.gmail.sent()) >= target  # noqa: E731
    else:
        target = world.gmail.count() + rng.randint(1, 25)
        reached = lambda: world.gmail.count() >= target  # noqa: E731
    wait_until(lambda: reached() or proc.poll() is not None, timeout=60, what="a kill moment")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


def _finish(data_dir: Path, values: dict, log: Path, chunks: str) -> None:
    proc = _start(data_dir, values, log, chunks)
    assert proc.wait(timeout=60) == 0, log.read_text()[-3000:]


def _run_with_kills(
    world, data_dir, values, rng, *, kills: int, faults: int = 0, chunks: str = "10"
) -> None:
    log = data_dir.parent / "child-stderr.log"
    for number in range(kills):
        if number < faults:  # Gmail stores the message, then answers 500
            world.gmail.inject("500_after_store", api_method="users.messages.send")
        _kill_at_random_moment(world, _start(data_dir, values, log, chunks), rng)
    _finish(data_dir, values, log, chunks)
    _finish(data_dir, values, log, chunks)  # a run after everything settled changes nothing


@pytest.fixture
def store_with_rows(data_dir):
    store = LocalStore(data_dir / "prospects.sqlite3")
    store.ensure_schema()
    ids = add_rows(store, ROWS)
    yield store, ids
    store.close()


# "time": the job sizes its chunks itself -- at gap 0 against the emulator that is dozens to
# hundreds of rows marked `sending` in one write, so kills leave many of them to reconcile.
@pytest.mark.parametrize("chunks", ["10", "time"], ids=["chunks-of-10", "time-sized-chunks"])
def test_killed_ten_times_each_recipient_gets_exactly_one_message(
    data_dir, store_with_rows, chunks
):
    store, _ids = store_with_rows
    rng = random.Random(20261128)
    with gmail_world(units_per_minute=UNITS_PER_MINUTE) as world:
        _run_with_kills(world, data_dir, world.settings, rng, kills=KILLS, faults=4, chunks=chunks)
        recipients = Counter(sent_recipients(world.gmail))

    expected = {f"editor{i}@gallery{i}.example" for i in range(ROWS)}
    assert set(recipients) == expected  # none missing
    assert max(recipients.values()) == 1  # none twice
    rows = store.rows()
    assert Counter(r["outreach_status"] for r in rows) == {"sent": ROWS}
    assert len({r["message_id"] for r in rows}) == ROWS
    settings = Settings(_env_file=None, data_dir=data_dir)
    assert Ledger.from_settings(settings).count() == ROWS
    # Every "500 after store" ended as a message found in Sent mail, not as a second send.
    with sqlite3.connect(settings.state_db_path) as db:
        found = db.execute("SELECT COUNT(*) FROM sends WHERE how='reconciled'").fetchone()[0]
    assert found >= 4


def test_daily_cap_holds_across_kills_and_restarts(data_dir, store_with_rows):
    store, _ids = store_with_rows
    cap = 60
    rng = random.Random(7)
    with gmail_world(units_per_minute=UNITS_PER_MINUTE) as world:
        values = world.settings | {"daily_cap": cap}
        _run_with_kills(world, data_dir, values, rng, kills=4, faults=2)
        recipients = Counter(sent_recipients(world.gmail))

    assert sum(recipients.values()) == cap and max(recipients.values()) == 1
    rows = store.rows()
    statuses = Counter(r["outreach_status"] for r in rows)
    assert statuses == {"sent": cap, "drafted": ROWS - cap}
    held = [r for r in rows if r["outreach_status"] == "drafted"]
    assert all(r["hold_reason"].startswith("HELD:daily_cap until ") for r in held)
