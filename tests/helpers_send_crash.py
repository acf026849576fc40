"""Shared harness for the sending tests, and the send job the crash test runs (and kills).

- :func:`gmail_world` serves the OAuth and Gmail v1 emulators on free ports in this process and
  yields the settings that point the real Gmail client (google-api-python-client) at them.
- :func:`add_rows` puts approved, drafted prospects into the store.
- ``python -m tests.helpers_send_crash DATA_DIR SETTINGS_JSON [UNITS_PER_MINUTE] [CHUNK_SIZE]``
  runs the send job in a child process against those emulators (or, with
  ``"mailer": "smtp"`` in the settings, against the SMTP stand-in and dovecot) (the crash test SIGKILLs it at
  chosen moments); UNITS_PER_MINUTE raises the Gmail client's quota limiter to match the
  emulator; CHUNK_SIZE fixes the rows per chunk (default 10; ``time``: the job's own sizing).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SENDER = "me@artist.example"
REFRESH_TOKEN = "1//rt-sending-tests"
CLIENT_ID = "hub-tests.apps.googleusercontent.com"
CLIENT_SECRET = "client-secret-for-tests"


@dataclass
class GmailWorld:
    gmail: Any  # tests.emulators.gmail.GmailEmulator
    oauth: Any  # tests.emulators.google_oauth.OAuthEmulator
    settings: dict[str, Any]  # Settings field values for HUB_MAILER=gmail against the emulators


def real_send_settings() -> dict[str, Any]:
    """Everything a real send needs besides the mailer (consent footer, signed links)."""
    return {
        "sender_name": "Ada Artist",
        "sender_address": "Studio 4, 1 Canal Street, Manchester M1 3HE, UK",
        "secret_keys": ["sending-tests-key"],
        "public_url": "https://hub.artist.example",
        "send_gap_seconds": "0",
        "daily_cap": 1000,
        "per_domain_daily_cap": 1000,
    }


@contextlib.contextmanager
def gmail_world(**gmail_options: Any) -> Iterator[GmailWorld]:
    from hub.mail.gmail import SCOPES
    from tests.emulators.gmail import GmailEmulator
    from tests.emulators.google_oauth import OAuthEmulator, RefreshGrant
    from tests.emulators.serve import serve_in_thread

    oauth = OAuthEmulator(
        refresh_tokens={
            REFRESH_TOKEN: RefreshGrant(CLIENT_ID, CLIENT_SECRET, SENDER, scopes=tuple(SCOPES))
        }
    )
    gmail = GmailEmulator(address=SENDER, check_bearer=oauth.is_valid, **gmail_options)
    with serve_in_thread(oauth.app) as token_server, serve_in_thread(gmail.app) as api_server:
        settings = {
            **real_send_settings(),
            "mailer": "gmail",
            "gmail_api_url": api_server.url + "/",
            "google_token_url": token_server.url + "/token",
            "gmail_client_id": CLIENT_ID,
            "gmail_client_secret": CLIENT_SECRET,
            "gmail_refresh_token": REFRESH_TOKEN,
            "gmail_sender": SENDER,
        }
        yield GmailWorld(gmail, oauth, settings)


def add_rows(store, count: int, *, start: int = 0, **columns: str) -> list[str]:
    """``count`` approved, drafted rows, each with its own recipient domain."""
    rows = [
        {
            "domain": f"gallery{i}.example",
            "page_title": f"Gallery {i} spring show",
            "contact_email": f"editor{i}@gallery{i}.example",
            "contact_name": f"Editor {i}",
            "outreach_status": "drafted",
            "approved": "TRUE",
            "draft_subject": f"Your spring show at gallery {i}",
            "draft_body": f"Hello Editor {i},\n\nI loved the show.\n\nAda",
            **columns,
        }
        for i in range(start, start + count)
    ]
    return store.append(rows).added


def sent_recipients(gmail) -> list[str]:
    """The To address of every message in the emulator's Sent mailbox (with repeats)."""
    return [str(m.parsed["To"].addresses[0].addr_spec).lower() for m in gmail.sent()]


def _main(
    data_dir: str, settings_json: str, units_per_minute: str = "", chunk_size: str = "10"
) -> None:
    # Only what the send job needs (the rows already have drafts): a short start-up means
    # more kill/restart cycles per second of test time.
    from hub.app import build_store
    from hub.config import Settings
    from hub.mail.gmail import GmailMailer
    from hub.services import Services
    from hub.stages.send import run_send

    settings = Settings(_env_file=None, data_dir=Path(data_dir), **json.loads(settings_json))
    options = {"units_per_minute": int(units_per_minute)} if units_per_minute else {}
    if settings.mailer == "gmail":
        mailer = GmailMailer.from_settings(settings, **options)
    else:  # HUB_MAILER=smtp: tests/test_crash_send_smtp.py
        from hub.mail.factory import build_mailer

        mailer = build_mailer(settings)
    # The local store, in SQLite or (HUB_DATABASE_URL) in PostgreSQL shared by several children
    services = Services(settings, build_store(settings), mailer=mailer)
    try:
        params = {} if chunk_size == "time" else {"chunk_size": int(chunk_size)}
        summary = asyncio.run(run_send(services, params))
    finally:
        services.close()
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    _main(*sys.argv[1:5])
