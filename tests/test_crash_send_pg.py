"""Exactly once across crashes with TWO worker processes on PostgreSQL.

As tests/test_crash_send.py, but two send jobs run at once in two child processes, each with
its own data dir, sharing only ``HUB_DATABASE_URL`` (the prospect store, the ledger and its
claims, the suppression list): at random moments one of them is SIGKILLed and started again,
Gmail sometimes stores a message and answers 500 (a fault only reconciliation can settle), and
at the end every recipient has exactly one message. Kill moments come from a seeded RNG and
are chosen by polling the emulator, never by sleeping.
"""

from __future__ import annotations

import random
import signal
from collections import Counter

import psycopg
import pytest

from hub.config import Settings
from hub.sending.ledger import Ledger
from hub.state.pools import close_pools
from sheets.postgres import PostgresStore
from tests.emulators.serve import wait_until
from tests.helpers_send_crash import add_rows, gmail_world, sent_recipients
from tests.test_crash_send import UNITS_PER_MINUTE, _start

ROWS = 150
KILLS = 8
FAULTS = 4

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]


def _kill_one_at_a_random_moment(world, procs, rng, starts) -> None:
    victim = rng.randrange(len(procs))
    target = len(world.gmail.sent()) + rng.randint(1, 12)
    wait_until(
        lambda: len(world.gmail.sent()) >= target or procs[victim].poll() is not None,
        timeout=60,
        what="a kill moment",
    )
    procs[victim].send_signal(signal.SIGKILL)
    procs[victim].wait(timeout=30)
    procs[victim] = starts[victim]()  # the process comes back, as a supervisor would do


def test_two_workers_killed_at_random_each_recipient_gets_exactly_one_message(
    postgres_dsn, tmp_path
):
    store = PostgresStore(postgres_dsn)
    store.ensure_schema()
    add_rows(store, ROWS)
    rng = random.Random(20261204)
    log = tmp_path / "children.log"
    with gmail_world(units_per_minute=UNITS_PER_MINUTE) as world:
        values = world.settings | {"database_url": postgres_dsn, "api_keys": ["k" * 32]}
        dirs = [tmp_path / "machine-a", tmp_path / "machine-b"]
        starts = [lambda d=d: _start(d, values, log, "10") for d in dirs]
        procs = [start() for start in starts]
        try:
            for number in range(KILLS):
                if number < FAULTS:  # Gmail stores the message, then answers 500
                    world.gmail.inject("500_after_store", api_method="users.messages.send")
                _kill_one_at_a_random_moment(world, procs, rng, starts)
            for proc in procs:  # both finish what is left, side by side
                assert proc.wait(timeout=90) == 0, log.read_text()[-3000:]
            last = starts[0]()  # a run after everything settled changes nothing
            assert last.wait(timeout=60) == 0, log.read_text()[-3000:]
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        recipients = Counter(sent_recipients(world.gmail))

    expected = {f"editor{i}@gallery{i}.example" for i in range(ROWS)}
    assert set(recipients) == expected  # none missing
    assert max(recipients.values()) == 1  # none twice
    rows = store.rows()
    store.close()
    assert Counter(r["outreach_status"] for r in rows) == {"sent": ROWS}
    assert len({r["message_id"] for r in rows}) == ROWS
    settings = Settings(_env_file=None, data_dir=dirs[0], database_url=postgres_dsn)
    assert Ledger.from_settings(settings).count() == ROWS
    with psycopg.connect(postgres_dsn) as conn:
        (found,) = conn.execute("SELECT COUNT(*) FROM sends WHERE how='reconciled'").fetchone()
    close_pools()
    assert found >= FAULTS  # every "500 after store" was found in Sent mail, not sent again
    # Nothing the hub must share was kept on one machine: no ledger in either data dir.
    assert not any((d / "state.sqlite3").exists() for d in dirs)
