"""Exactly once over SMTP across crashes: the send job is SIGKILLed at random moments, and the
SMTP server drops connections after DATA, while 100 rows go out.

The SMTP stand-in (aiosmtpd) and dovecot run in this process's fixtures; the send job runs in
a child process (``python -m tests.helpers_send_crash``, as the Gmail crash test does) with
smtplib, imapclient, the local store and the durable ledger in a shared data dir. Kill moments
come from a seeded RNG and are chosen by polling the SMTP server (messages stored, RCPT
commands seen), never by sleeping.

Two ways a server keeps sent mail (hub.mail.smtp):
- it files each accepted message in Sent itself (Gmail, Microsoft 365): exactly one message
  per recipient, whatever the kill moment;
- the hub APPENDs a pending copy to Sent before the SMTP transaction: never two messages to
  anyone; a kill between filing the copy and the server's answer can count a message as
  sent that the server never completed (at most one such row per kill).
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
from tests.emulators.dovecot import available, running_dovecot
from tests.emulators.serve import wait_until
from tests.emulators.smtp import running_smtp
from tests.helpers_send_crash import add_rows, real_send_settings

ROOT = Path(__file__).resolve().parent.parent
ROWS = 100
KILLS = 8
FAULTS = 4
ME = "ada@artist.example"

pytestmark = [
    pytest.mark.skipif(not available(), reason="needs dovecot (scripts/system-deps test)"),
    pytest.mark.timeout(180),
]


def _start(data_dir: Path, values: dict, log: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "tests.helpers_send_crash", str(data_dir)]
    command += [json.dumps(values), "", "10"]
    with log.open("ab") as err:
        return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err)


def _kill_at_random_moment(smtp, proc: subprocess.Popen, rng: random.Random) -> None:
    if rng.random() < 0.6:
        target = len(smtp.delivered()) + rng.randint(1, 12)
        reached = lambda: len(smtp.delivered()) >= target  # noqa: E731
    else:  # in the middle of a transaction: the RCPT went, DATA has not yet
        target = smtp.rcpts + rng.randint(1, 12)
        reached = lambda: smtp.rcpts >= target  # noqa: E731
    wait_until(lambda: reached() or proc.poll() is not None, timeout=60, what="a kill moment")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


def _finish(data_dir: Path, values: dict, log: Path) -> None:
    proc = _start(data_dir, values, log)
    assert proc.wait(timeout=90) == 0, log.read_text()[-3000:]


@pytest.mark.parametrize("files_sent", [True, False], ids=["server-files-sent", "hub-appends"])
def test_killed_and_dropped_smtp_sends_never_reach_anyone_twice(data_dir, files_sent):
    store = LocalStore(data_dir / "prospects.sqlite3")
    store.ensure_schema()
    add_rows(store, ROWS)
    rng = random.Random(20261204)
    log = data_dir.parent / "child-stderr.log"
    with running_dovecot({ME: "imap-secret"}) as imap:

        def file_in_sent(user: str, raw: bytes) -> None:
            imap.append(ME, "Sent", raw, flags=(b"\\Seen",))

        on_accept = file_in_sent if files_sent else None
        with running_smtp(users={"ada": "smtp-secret"}, on_accept=on_accept) as smtp:
            values = real_send_settings() | {
                "mailer": "smtp",
                "smtp_host": "127.0.0.1",
                "smtp_port": smtp.port,
                "smtp_security": "none",
                "smtp_username": "ada",
                "smtp_password": "smtp-secret",
                "smtp_from": f"Ada Artist <{ME}>",
                "imap_host": imap.host,
                "imap_port": imap.port,
                "imap_security": "none",
                "imap_username": ME,
                "imap_password": "imap-secret",
                "imap_append_sent": not files_sent,
            }
            for number in range(KILLS):
                if number < FAULTS:  # the server stores the message, then the line drops
                    smtp.inject("drop_after_data")
                _kill_at_random_moment(smtp, _start(data_dir, values, log), rng)
            _finish(data_dir, values, log)
            _finish(data_dir, values, log)  # after everything settled: changes nothing
            recipients = Counter(smtp.recipients())
            in_sent = len(imap.messages(ME, "Sent"))

    expected = {f"editor{i}@gallery{i}.example" for i in range(ROWS)}
    assert max(recipients.values()) == 1  # nobody twice
    if files_sent:
        assert set(recipients) == expected  # nobody missing
    else:
        assert set(recipients) <= expected
        assert len(expected - set(recipients)) <= KILLS  # at most one row per kill
    rows = store.rows()
    store.close()
    assert Counter(r["outreach_status"] for r in rows) == {"sent": ROWS}
    assert len({r["message_id"] for r in rows}) == ROWS
    assert in_sent == ROWS  # one copy per row in Sent, whoever filed it
    settings = Settings(_env_file=None, data_dir=data_dir)
    assert Ledger.from_settings(settings).count() == ROWS
    with sqlite3.connect(settings.state_db_path) as db:
        found = db.execute("SELECT COUNT(*) FROM sends WHERE how='reconciled'").fetchone()[0]
    assert found >= FAULTS  # each drop after DATA was found in Sent, not sent again
