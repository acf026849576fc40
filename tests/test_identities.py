"""HUB_IDENTITIES_FILE: validation that names what to fix, secrets only by variable name, the
implicit identity of the single-mailbox settings, rotation by capacity left, and the ledger's
identity column added to a ledger written before identities existed."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime

import pytest

from hub.config import Settings, load_settings
from hub.config.identities import load_identities
from hub.errors import ConfigError
from hub.sending.ledger import Ledger
from hub.sending.limits import Hold, Limits, format_until
from tests.legacy_schema import SQLITE_LEDGER_BEFORE_IDENTITIES

T0 = 1_800_000_000.0

ADA = """
[[identity]]
name = "ada"
mailer = "smtp"
from = "Ada Artist <ada@artist.example>"
daily_cap = 3
smtp_host = "smtp.mailhost.example"
smtp_username = "ada@artist.example"
smtp_password_env = "ADA_SMTP_PASSWORD"
imap_host = "imap.mailhost.example"
"""
BOB = """
[[identity]]
name = "bob"
mailer = "gmail"
from = "bob@artist.example"
daily_cap = 2
send_window = "mon-fri 09:00-17:00 Europe/London"
send_gap_seconds = 120
gmail_refresh_token_env = "BOB_REFRESH_TOKEN"
"""


def _settings(tmp_path, text: str, **values) -> Settings:
    path = tmp_path / "identities.toml"
    path.write_text(text)
    return Settings(_env_file=None, data_dir=tmp_path / "data", identities_file=str(path), **values)


def test_a_valid_file_reads_in_order_with_secrets_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("ADA_SMTP_PASSWORD", "s3cret-ada")
    monkeypatch.setenv("BOB_REFRESH_TOKEN", "1//bob")
    settings = _settings(
        tmp_path, ADA + BOB, mailer="smtp", gmail_client_id="id", gmail_client_secret="cs"
    )
    ada, bob = load_identities(settings)
    assert (ada.name, ada.address, ada.display_name, ada.daily_cap) == (
        "ada",
        "ada@artist.example",
        "Ada Artist",
        3,
    )
    assert ada.smtp_password.get_secret_value() == "s3cret-ada"
    assert ada.imap_password.get_secret_value() == "s3cret-ada"  # IMAP defaults to SMTP's
    assert ada.imap_username == "ada@artist.example" and ada.smtp_port == 587
    assert "s3cret-ada" not in repr(ada)
    assert bob.send_gap_seconds == "120" and bob.gmail_refresh_token.get_secret_value() == "1//bob"


@pytest.mark.parametrize(
    ("text", "named"),
    [
        (ADA.replace('smtp_password_env = "ADA_SMTP_PASSWORD"', 'smtp_password = "x"'),
         "smtp_password must not be in the file; put the secret in an environment variable "
         "and name it with smtp_password_env"),
        (ADA + 'colour = "blue"\n', "colour: Extra inputs are not permitted"),
        (ADA.replace("daily_cap = 3", "daily_cap = -1"), "daily_cap:"),
        (ADA.replace('from = "Ada Artist <ada@artist.example>"', 'from = "ada"'), "from:"),
        (ADA.replace('imap_host = "imap.mailhost.example"', ""), "needs imap_host"),
        (ADA + 'send_window = "someday"\n', "send_window="),
        (ADA + ADA, "two identities are named 'ada'"),
        ("title = 'no identities'\n", "add at least one [[identity]] table"),
        ("[[identity]\n", "not valid TOML"),
    ],
)  # fmt: skip
def test_a_bad_file_stops_start_up_naming_what_to_fix(tmp_path, monkeypatch, text, named):
    monkeypatch.setenv("ADA_SMTP_PASSWORD", "s3cret-ada")
    settings = _settings(tmp_path, text, mailer="smtp")
    with pytest.raises(ConfigError) as failed:
        load_identities(settings)
    assert named in str(failed.value)
    assert "HUB_IDENTITIES_FILE=" in str(failed.value) or "identity" in str(failed.value)


def test_a_missing_secret_is_named_when_sending_for_real_but_not_for_a_dry_run(
    tmp_path, monkeypatch
):
    monkeypatch.delenv("ADA_SMTP_PASSWORD", raising=False)
    with pytest.raises(ConfigError, match="ADA_SMTP_PASSWORD"):
        load_identities(_settings(tmp_path, ADA, mailer="smtp"))
    assert [i.name for i in load_identities(_settings(tmp_path, ADA))] == ["ada"]


def test_load_settings_refuses_a_bad_identities_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ids.toml").write_text("[[identity]]\nname = 'x'\n")
    with pytest.raises(ConfigError, match="identity 1"):
        load_settings(_env_file=None, identities_file=str(tmp_path / "ids.toml"))


def test_single_mailbox_settings_are_one_implicit_identity(tmp_path):
    settings = Settings(
        _env_file=None,
        mailer="smtp",
        smtp_host="smtp.mailhost.example",
        smtp_from="Ada <ada@artist.example>",
        smtp_password="pw",
        imap_host="imap.mailhost.example",
        imap_username="ada",
        daily_cap=40,
    )
    (only,) = load_identities(settings)
    assert (only.name, only.implicit, only.mailer, only.address, only.daily_cap) == (
        "default",
        True,
        "smtp",
        "ada@artist.example",
        40,
    )
    with pytest.raises(ConfigError, match="HUB_MAILER=smtp needs SMTP_HOST"):
        Settings(_env_file=None, mailer="smtp").check()


# --- rotation and caps from the ledger ----------------------------------------------------
def _sent(ledger: Ledger, n: int, identity: str, at: float) -> None:
    for i in range(n):
        hub_id = f"{identity}-{i}-{at}"
        intent = ledger.plan(
            hub_id=hub_id,
            step=0,
            message_id=f"<{hub_id}@x>",
            recipient=f"p{i}@site{i}.example",
            subject="s",
            owner="o",
            identity=identity,
            now=at,
        )
        ledger.record_sent(intent, provider_id="p", thread_id="", now=at)


def test_pick_prefers_most_capacity_left_then_holds_until_the_first_cap_frees(tmp_path):
    settings = _settings(
        tmp_path, ADA + BOB.replace('send_window = "mon-fri 09:00-17:00 Europe/London"\n', "")
    )
    ledger = Ledger(tmp_path / "state.sqlite3")
    limits = Limits(settings, ledger, clock=lambda: T0)
    assert limits.pick() == "ada"  # 3 left vs 2
    assert limits.pick({"ada": 1}) == "ada"  # tie at 2: the first in the file
    assert limits.pick({"ada": 2}) == "bob"
    _sent(ledger, 3, "ada", T0 - 3600)
    _sent(ledger, 2, "bob", T0 - 1800)
    ledger.close()
    # A restart: a new ledger connection counts the same rolling 24 hours.
    limits = Limits(settings, Ledger(tmp_path / "state.sqlite3"), clock=lambda: T0)
    held = limits.pick()
    assert isinstance(held, Hold) and held.kind == "daily_cap"
    ada_frees = datetime.fromtimestamp(T0 - 3600 + 24 * 3600, UTC)  # before bob's
    assert held.reason == f"HELD:daily_cap until {format_until(ada_frees)}"
    assert limits.usage() == [("ada", 3, 3), ("bob", 2, 2)]


def test_an_identity_outside_its_window_is_skipped(tmp_path):
    settings = _settings(tmp_path, BOB + ADA)
    sunday = time.mktime((2026, 12, 6, 12, 0, 0, 0, 0, 0))
    limits = Limits(settings, Ledger(tmp_path / "state.sqlite3"), clock=lambda: sunday)
    assert limits.pick() == "ada"  # bob sends mon-fri only


def test_an_old_ledger_gains_the_identity_column_and_keeps_its_sends(tmp_path):
    path = tmp_path / "state.sqlite3"
    with sqlite3.connect(path) as db:  # the ledger as the hub made it before identities
        db.executescript(SQLITE_LEDGER_BEFORE_IDENTITIES)
        for i in range(2):
            hub_id = f"-{i}-{T0 - 60}"
            db.execute(
                "INSERT INTO sends(hub_id, step, message_id, recipient, recipient_domain, "
                "subject, provider_id, sent_at) VALUES(?, 0, ?, ?, ?, 's', 'p', ?)",
                (hub_id, f"<{hub_id}@x>", f"p{i}@site{i}.example", f"site{i}.example", T0 - 60),
            )
    migrated = Ledger(path)
    assert len(migrated.history("-0-" + str(T0 - 60))) == 1
    assert migrated.sends_since(T0 - 3600, identity="") == [T0 - 60, T0 - 60]
    _sent(migrated, 1, "ada", T0)
    assert migrated.sends_since(T0 - 3600, identity="ada") == [T0]
    assert migrated.count() == 3


def test_each_identity_waits_its_own_gap(tmp_path, monkeypatch):
    from hub.mail.outbox import OutboxMailer
    from hub.sending.senders import Senders

    monkeypatch.setenv("ADA_SMTP_PASSWORD", "x")
    settings = _settings(tmp_path, ADA + BOB.replace("bob", "cy"))
    senders = Senders(settings, OutboxMailer(tmp_path / "outbox"))
    assert senders.gap_left() == 0.0
    senders.called("ada", 100.0)
    assert 99.0 < senders.gap_left("ada") <= 100.0
    assert senders.gap_left("cy") == 0.0  # cy has not sent: it may go now
    assert senders.gap_left() == 0.0
    senders.called("cy", 50.0)
    assert 49.0 < senders.gap_left() <= 50.0  # the first identity free to send
    assert senders.sender("ada") == ("Ada Artist", "ada@artist.example")
    assert senders.identity("gone").name == "ada"  # an unknown key: the primary identity
