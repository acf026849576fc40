"""``hub doctor`` for sending identities, offline: SMTP connect + EHLO + AUTH against the
aiosmtpd stand-in, IMAP login + the Sent folder against dovecot, and SPF/DKIM/DMARC through
dnspython against a DNS stand-in on loopback UDP."""

from __future__ import annotations

import os

import pytest

from hub.config import Settings
from hub.doctor import run_checks
from hub.doctor.checks_mail import check_identities
from tests.emulators.dns import running_dns
from tests.emulators.dovecot import available
from tests.smtp_world import smtp_world

pytestmark = [
    pytest.mark.skipif(not available(), reason="needs dovecot (scripts/system-deps test)"),
    pytest.mark.timeout(60),
]

GOOD_DNS = {
    "artist.example": ["v=spf1 include:_spf.mailhost.example ~all", "google-site-verification=x"],
    "hub._domainkey.artist.example": ["v=DKIM1; k=rsa; p=MIIBIjANBgkqh"],
    "_dmarc.artist.example": ["v=DMARC1; p=quarantine; rua=mailto:d@artist.example"],
}


def _settings(world, dns, data_dir, **extra) -> Settings:
    values = world.settings | {"dns_nameserver": dns.address} | extra
    return Settings(_env_file=None, data_dir=data_dir, **values)


def _by_level(findings) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for f in findings:
        found.setdefault(f.level, []).append(f.message + " | " + f.fix)
    return found


def test_healthy_identities_pass_every_mail_check(data_dir, tmp_path):
    with smtp_world(["ada", "bob"], tmp_path) as world, running_dns(GOOD_DNS) as dns:
        text = world.identities_file.read_text().replace(
            "imap_append_sent = true", 'imap_append_sent = true\ndkim_selector = "hub"'
        )
        world.identities_file.write_text(text)
        findings = check_identities(_settings(world, dns, data_dir), timeout=5)
        sessions = world.smtp.sessions

    levels = _by_level(findings)
    assert set(levels) == {"ok"}, levels
    messages = " ".join(levels["ok"])
    for name in ("ada", "bob"):
        assert f"identity {name} ({name}@artist.example): SMTP 127.0.0.1" in messages
    assert messages.count("AUTH as") == 2 and messages.count("Sent folder is 'Sent'") == 2
    assert messages.count("SPF record found") == 2 and messages.count("DKIM key published") == 2
    assert messages.count("DMARC record found") == 2
    assert sessions == 2  # one EHLO per identity, and nothing was sent
    assert world.smtp.delivered() == []
    assert ("_dmarc.artist.example", "TXT") in dns.queries


def test_missing_records_and_bad_logins_each_say_what_to_do(data_dir, tmp_path):
    with smtp_world(["ada"], tmp_path) as world, running_dns({}) as dns:
        os.environ["HUB_TEST_ADA_SMTP"] = "wrong-smtp-password"
        os.environ["HUB_TEST_ADA_IMAP"] = "wrong-imap-password"
        report = run_checks(_settings(world, dns, data_dir), timeout=5, deadline=20)

    mail = [f for f in report.findings if "identity ada" in f.message]
    levels = _by_level(mail)
    errors = " ".join(levels["error"])
    assert "refused the login" in errors and "smtp_password_env" in errors
    assert "IMAP" in errors and "check imap_host" in errors
    assert 'add TXT artist.example "v=spf1 include:' in errors
    assert 'add TXT _dmarc.artist.example "v=DMARC1; p=none;' in errors
    assert any("dkim_selector" in w for w in levels["warn"])  # no selector: advice, no error
    assert "wrong-smtp-password" not in str(report.to_dict())
    assert "wrong-imap-password" not in str(report.to_dict())
    assert not report.ok


def test_two_spf_records_and_a_missing_dkim_key_are_errors(data_dir, tmp_path):
    records = {
        "artist.example": ["v=spf1 include:a.example ~all", "v=spf1 include:b.example ~all"],
        "_dmarc.artist.example": ["v=DMARC1; p=none"],
    }
    with smtp_world(["ada"], tmp_path) as world, running_dns(records) as dns:
        settings = _settings(world, dns, data_dir, mailer="outbox", dkim_selector="s1")
        text = world.identities_file.read_text() + 'dkim_selector = "s1"\n'
        world.identities_file.write_text(text)
        findings = check_identities(settings, timeout=5)

    levels = _by_level(findings)
    assert len(levels["error"]) == 2
    assert "2 SPF records" in levels["error"][0] and "merge them" in levels["error"][0]
    assert "no DKIM key at s1._domainkey.artist.example" in levels["error"][1]
    assert world.smtp.sessions == 0  # a dry run (outbox) checks DNS only


def test_a_gmail_identity_is_checked_with_its_own_token(data_dir, tmp_path, monkeypatch):
    from tests.helpers_send_crash import REFRESH_TOKEN, SENDER, gmail_world

    text = (
        '[[identity]]\nname = "studio"\nmailer = "gmail"\n'
        f'from = "{SENDER}"\ndaily_cap = 5\ngmail_refresh_token_env = "HUB_TEST_STUDIO"\n'
        '[[identity]]\nname = "alias"\nmailer = "gmail"\n'
        'from = "alias@artist.example"\ndaily_cap = 5\ngmail_refresh_token_env = "HUB_TEST_STUDIO"\n'
        '[[identity]]\nname = "stale"\nmailer = "gmail"\n'
        f'from = "{SENDER}"\ndaily_cap = 5\ngmail_refresh_token_env = "HUB_TEST_STALE"\n'
    )
    path = tmp_path / "identities.toml"
    path.write_text(text)
    monkeypatch.setenv("HUB_TEST_STUDIO", REFRESH_TOKEN)
    monkeypatch.setenv("HUB_TEST_STALE", "1//revoked-token")
    with gmail_world() as gmail, running_dns(GOOD_DNS) as dns:
        values = {k: v for k, v in gmail.settings.items() if k != "gmail_refresh_token"}
        settings = Settings(
            _env_file=None,
            data_dir=data_dir,
            **values | {"identities_file": str(path), "dns_nameserver": dns.address},
        )
        findings = check_identities(settings, timeout=5)

    gmail_findings = [f for f in findings if "Gmail" in f.message]
    assert [(f.level, f.message.split(":")[0]) for f in gmail_findings] == [
        ("ok", f"identity studio ({SENDER})"),
        ("warn", "identity alias (alias@artist.example)"),
        ("error", f"identity stale ({SENDER})"),
    ]
    assert "Send mail as" in gmail_findings[1].fix
    assert "revoked-token" not in str([f.to_dict() for f in findings])
