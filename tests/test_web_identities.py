"""The status page's limits card shows sends in the last 24 h and the cap of each sending
identity, counted from the durable ledger."""

from __future__ import annotations

import re

from starlette.testclient import TestClient

from hub.app import create_app
from hub.sending.ledger import Ledger

KEY = "status-page-key-0123456789"
CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)">')
IDENTITIES = """
[[identity]]
name = "ada"
mailer = "smtp"
from = "ada@artist.example"
daily_cap = 2
smtp_host = "smtp.mailhost.example"
imap_host = "imap.mailhost.example"

[[identity]]
name = "bob"
mailer = "smtp"
from = "bob@artist.example"
daily_cap = 7
smtp_host = "smtp.mailhost.example"
imap_host = "imap.mailhost.example"
"""


def _sent(settings, identity: str, n: int) -> None:
    ledger = Ledger.from_settings(settings)
    try:
        for i in range(n):
            intent = ledger.plan(
                hub_id=f"{identity}{i}",
                step=0,
                message_id=f"<{identity}{i}@artist.example>",
                recipient=f"ed{i}@site{i}.example",
                subject="Prints",
                owner="test:1",
                identity=identity,
            )
            ledger.record_sent(intent, provider_id="p", thread_id="")
    finally:
        ledger.close()


def test_limits_card_shows_each_identity_sends_and_cap(settings, tmp_path):
    path = tmp_path / "identities.toml"
    path.write_text(IDENTITIES)
    settings.identities_file = str(path)
    settings.api_keys = [KEY]
    settings.tick_minutes = 0
    _sent(settings, "ada", 2)
    _sent(settings, "bob", 3)
    with TestClient(create_app(settings), follow_redirects=False) as client:
        token = CSRF.search(client.get("/").text).group(1)
        assert client.post("/signin", data={"key": KEY, "csrf": token}).status_code == 303
        html = client.get("/").text

    card = re.search(r'<dd id="identities">(.*?)</dd>', html, re.S).group(1)
    items = re.findall(r'<li data-identity="(\w+)">(.*?)</li>', card, re.S)
    assert [name for name, _ in items] == ["ada", "bob"]
    ada, bob = (text for _, text in items)
    assert ada.startswith("ada: 2 of 2") and "cap reached: resumes 20" in ada
    assert bob == "bob: 3 of 7"
    total = re.search(r'<dd id="sends-24h">(.*?)</dd>', html, re.S).group(1)
    assert total.startswith("5 of 9 (the identities&#39; caps added up")
