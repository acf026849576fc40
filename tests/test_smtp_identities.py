"""Several SMTP identities, each with its own daily cap, rotated over one send run.

The real path end to end: the send job, the durable ledger, smtplib against the aiosmtpd
stand-in, imapclient against dovecot (the Sent copies), the local store.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter

import pytest

from hub.config import Settings
from hub.mail.factory import build_mailer
from hub.services import Services
from hub.stages.send import run_send
from sheets.local import LocalStore
from tests.emulators.dovecot import available
from tests.helpers_send_crash import (
    REFRESH_TOKEN,
    SENDER,
    add_rows,
    gmail_world,
    sent_recipients,
)
from tests.smtp_world import smtp_world

pytestmark = [
    pytest.mark.skipif(not available(), reason="needs dovecot (scripts/system-deps test)"),
    pytest.mark.timeout(120),
]


def _services(values: dict, data_dir) -> Services:
    settings = Settings(_env_file=None, data_dir=data_dir, **values)
    store = LocalStore(settings.local_store_path)
    store.ensure_schema()
    return Services(settings, store, mailer=build_mailer(settings))


def _send(values: dict, data_dir) -> dict:
    services = _services(values, data_dir)
    try:
        return asyncio.run(run_send(services, {}))
    finally:
        services.close()


def _rows(data_dir) -> list[dict]:
    store = LocalStore(data_dir / "prospects.sqlite3")
    try:
        return store.rows()
    finally:
        store.close()


def test_two_identities_capped_at_five_send_ten_of_twelve_rows(data_dir, tmp_path):
    with smtp_world(["ada", "bob"], tmp_path, caps={"ada": 5, "bob": 5}) as world:
        values = world.settings | {"require_approval": False}
        services = _services(values, data_dir)
        add_rows(services.store, 12, approved="")
        services.close()

        first = _send(values, data_dir)
        delivered = world.smtp.delivered()
        second = _send(values, data_dir)  # a second run sends nothing more
        after_second = world.smtp.delivered()
        sent_copies = {
            name: world.imap.messages(world.address(name), "Sent") for name in ("ada", "bob")
        }

    assert len(delivered) == 10 and len(after_second) == 10
    assert first.get("sent") == 10 and not second.get("sent")
    by_sender = world.sent_by()
    assert {k: len(v) for k, v in by_sender.items()} == {
        "ada@artist.example": 5,
        "bob@artist.example": 5,
    }
    recipients = [r for item in delivered for r in item.rcpt_tos]
    assert len(set(recipients)) == 10  # no recipient gets two
    ids = [item.parsed["Message-ID"] for item in delivered]
    assert len(set(ids)) == 10 and all(i.endswith("@artist.example>") for i in ids)
    for item in delivered:
        message = item.parsed
        assert message["List-Unsubscribe"].startswith("<https://hub.artist.example/u/")
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert item.user == message["From"].addresses[0].username  # its own SMTP login
    # Each identity filed its own messages in its own Sent folder (APPEND), confirmed.
    assert {name: len(copies) for name, copies in sent_copies.items()} == {"ada": 5, "bob": 5}

    rows = _rows(data_dir)
    sent = [r for r in rows if r["outreach_status"] == "sent"]
    assert Counter(r.get("sender_identity", "") for r in sent) == {"ada": 5, "bob": 5}
    for row in sent:
        mail = next(i for i in delivered if i.parsed["Message-ID"] == row["message_id"])
        assert mail.parsed["From"].addresses[0].username == row["sender_identity"]
        assert mail.rcpt_tos == (row["contact_email"],)
    held = [r for r in rows if r["outreach_status"] != "sent"]
    assert len(held) == 2
    assert all(r["outreach_status"] == "drafted" for r in held)
    assert all(r["hold_reason"].startswith("HELD:daily_cap until 20") for r in held)
    assert all(not r.get("sender_identity", "") for r in held)


def test_rotation_picks_most_capacity_left_and_caps_hold_across_restarts(data_dir, tmp_path):
    with smtp_world(["ada", "bob"], tmp_path, caps={"ada": 4, "bob": 2}) as world:
        values = world.settings
        services = _services(values, data_dir)
        add_rows(services.store, 4)
        services.close()
        _send(values, data_dir)  # 4 of 6 slots: ada 4 left vs 2 -> a, a, then tie -> a, b
        order = [i.parsed["From"].addresses[0].username for i in world.smtp.delivered()]

        # A restart (new process state, same data dir): the ledger still counts today's sends.
        services = _services(values, data_dir)
        add_rows(services.store, 4, start=4)
        services.close()
        again = _send(values, data_dir)
        total = [i.parsed["From"].addresses[0].username for i in world.smtp.delivered()]

    assert order == ["ada", "ada", "ada", "bob"]
    assert Counter(total) == {"ada": 4, "bob": 2}
    assert again.get("sent") == 2 and again.get("held") == 2
    rows = _rows(data_dir)
    held = [r for r in rows if r["outreach_status"] == "drafted"]
    assert len(held) == 2 and all(r["hold_reason"].startswith("HELD:daily_cap") for r in held)


def test_outbox_rotates_and_caps_identities_but_sends_nothing(data_dir, tmp_path):
    with smtp_world(["ada", "bob"], tmp_path, caps={"ada": 2, "bob": 1}) as world:
        values = world.settings | {"mailer": "outbox"}
        services = _services(values, data_dir)
        add_rows(services.store, 5)
        services.close()
        summary = _send(values, data_dir)
        reached = world.smtp.delivered()

    assert reached == [] and summary["dry_run"] == 3  # three previews
    outbox = sorted((data_dir / "outbox").glob("*.eml"))
    senders = Counter(
        line.split("<")[-1].rstrip(">")
        for path in outbox
        for line in path.read_text().splitlines()
        if line.startswith("From:")
    )
    assert senders == {"ada@artist.example": 2, "bob@artist.example": 1}
    rows = _rows(data_dir)
    assert all(r["outreach_status"] == "drafted" for r in rows)  # a dry run sends nothing
    holds = Counter(r["hold_reason"].split(" ")[0] for r in rows)
    assert holds == {"DRY_RUN": 3, "HELD:daily_cap": 2}


def test_each_identity_sends_through_its_own_mailer_gmail_and_smtp(data_dir, tmp_path):
    with (
        smtp_world(["ada"], tmp_path, caps={"ada": 2}) as world,
        gmail_world(units_per_minute=10_000_000) as gmail,
    ):
        gmail_table = (
            '\n[[identity]]\nname = "studio"\nmailer = "gmail"\n'
            f'from = "{SENDER}"\ndaily_cap = 2\n'
            'gmail_refresh_token_env = "HUB_TEST_STUDIO_TOKEN"\n'
        )
        world.identities_file.write_text(world.identities_file.read_text() + gmail_table)
        values = world.settings | {
            key: gmail.settings[key]
            for key in ("gmail_api_url", "google_token_url", "gmail_client_id")
        }
        values["gmail_client_secret"] = gmail.settings["gmail_client_secret"]
        os.environ["HUB_TEST_STUDIO_TOKEN"] = REFRESH_TOKEN
        try:
            services = _services(values, data_dir)
            add_rows(services.store, 5)
            services.close()
            summary = _send(values, data_dir)
        finally:
            os.environ.pop("HUB_TEST_STUDIO_TOKEN", None)
        over_smtp = world.smtp.recipients()
        over_gmail = sent_recipients(gmail.gmail)

    assert summary.get("sent") == 4 and summary.get("held") == 1
    assert len(over_smtp) == 2 and len(over_gmail) == 2
    assert not set(over_smtp) & set(over_gmail)
    rows = {r["contact_email"]: r for r in _rows(data_dir)}
    assert {rows[e]["sender_identity"] for e in over_smtp} == {"ada"}
    assert {rows[e]["sender_identity"] for e in over_gmail} == {"studio"}
    # Gmail threads by its own ids; SMTP rows carry their first Message-ID as the thread.
    assert all(rows[e]["gmail_thread_id"] == rows[e]["message_id"] for e in over_smtp)
    assert all(rows[e]["gmail_thread_id"] != rows[e]["message_id"] for e in over_gmail)
