"""Each sending identity: its SMTP server (connect, EHLO, STARTTLS, AUTH), its IMAP mailbox
(login, the Sent folder found), and its From domain's SPF, DKIM and DMARC records.

Google's and Yahoo's bulk-sender rules (2024) want SPF or DKIM to pass and a DMARC record to
exist; mail without them goes to spam or is refused. Each DNS finding says in one line what
to add. DNS goes through dnspython, asking ``HUB_DNS_NAMESERVER`` when set (tests point it at
a stand-in on loopback), else the system's resolver. Messages name hosts, identities and
settings, never a password.
"""

from __future__ import annotations

import contextlib

import dns.exception
import dns.resolver

from hub.config import Settings
from hub.config.identities import Identity, load_identities
from hub.doctor.report import Finding, error, ok, warn
from hub.mail.base import MailerError

AREA = "providers"


def check_identities(settings: Settings, timeout: float) -> list[Finding]:
    findings: list[Finding] = []
    identities = load_identities(settings)
    resolver = _resolver(settings, timeout)
    for identity in identities:
        label = f"identity {identity.name} ({identity.address})"
        if settings.mailer != "outbox" and identity.mailer == "smtp":
            findings.append(check_smtp(identity, settings, label, timeout))
            findings.append(check_imap(identity, label, timeout))
        elif settings.mailer != "outbox" and not identity.implicit:  # a gmail identity
            findings.append(check_gmail_identity(identity, settings, label, timeout))
        if settings.mailer != "outbox" or not identity.implicit:
            findings += check_dns(identity, label, resolver)
    return findings


# --- SMTP and IMAP -----------------------------------------------------------------------------
def check_smtp(identity: Identity, settings: Settings, label: str, timeout: float) -> Finding:
    from hub.mail.smtp import SmtpMailer

    mailer = SmtpMailer.from_identity(
        identity, settings.model_copy(update={"smtp_timeout": timeout})
    )
    where = f"SMTP {identity.smtp_host}:{identity.smtp_port} ({identity.smtp_security})"
    try:
        connection = mailer.connect()
    except Exception as exc:  # every failure is reported; smtplib raises many kinds
        return error(AREA, f"{label}: {mailer.describe(exc)}", _smtp_fix(identity, exc))
    with contextlib.suppress(Exception):  # the check has its answer; a failed goodbye is fine
        connection.quit()
    auth = f"AUTH as {identity.smtp_username}" if identity.smtp_username else "no AUTH"
    return ok(AREA, f"{label}: {where} answered EHLO, {auth} accepted")


def _smtp_fix(identity: Identity, exc: Exception) -> str:
    import smtplib

    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return "check smtp_username and the password in smtp_password_env (SMTP_PASSWORD)"
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return "the server offers no STARTTLS: set smtp_security to tls (port 465) or none"
    return "check smtp_host, smtp_port and smtp_security (starttls on 587, tls on 465)"


def check_imap(identity: Identity, label: str, timeout: float) -> Finding:
    from hub.mail.imap import ImapMailbox

    box = ImapMailbox.for_identity(identity, timeout)
    try:
        folder = box.check()
    except MailerError as exc:
        fix = (
            "set imap_sent_folder (IMAP_SENT_FOLDER) to the Sent folder's name"
            if "Sent" in str(exc)
            else "check imap_host, imap_port, imap_security and the IMAP login"
        )
        return error(AREA, f"{label}: {exc}", fix)
    finally:
        box.close()
    return ok(AREA, f"{label}: IMAP login accepted, Sent folder is {folder!r}")


def check_gmail_identity(
    identity: Identity, settings: Settings, label: str, timeout: float
) -> Finding:
    """``users.getProfile`` (1 unit) with the identity's own refresh token."""
    from hub.mail.gmail import GmailMailer

    mailer = GmailMailer.for_identity(identity, settings, timeout=timeout, max_attempts=2)
    try:
        address = str(mailer.profile().get("emailAddress", ""))
    except Exception as exc:  # google-auth raises its own errors for a refused token
        return error(AREA, f"{label}: Gmail refused the token ({type(exc).__name__})",
                     "check the refresh token in gmail_refresh_token_env and GMAIL_CLIENT_*")  # fmt: skip
    finally:
        mailer.close()
    if address.lower() != identity.address.lower():
        return warn(AREA, f"{label}: the Gmail token is for {address}, not the From address",
                    "use the token of the account that sends as this From, or add the From "
                    "as a 'Send mail as' alias of that account")  # fmt: skip
    return ok(AREA, f"{label}: Gmail token works for {address}")


# --- DNS ---------------------------------------------------------------------------------------
def _resolver(settings: Settings, timeout: float) -> dns.resolver.Resolver:
    server = (settings.dns_nameserver or "").strip()
    resolver = dns.resolver.Resolver(configure=not server)
    if server:
        host, _, port = server.rpartition(":") if server.count(":") == 1 else (server, "", "")
        resolver.nameservers = [host or server]
        resolver.port = int(port) if port else 53
    resolver.timeout = resolver.lifetime = timeout
    return resolver


def txt_records(resolver: dns.resolver.Resolver, name: str) -> list[str] | None:
    """The TXT strings at ``name`` ([] when there are none), None when DNS did not answer."""
    try:
        answer = resolver.resolve(name, "TXT")
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except dns.exception.DNSException:
        return None
    return [b"".join(r.strings).decode("utf-8", "replace") for r in answer]


def check_dns(identity: Identity, label: str, resolver: dns.resolver.Resolver) -> list[Finding]:
    domain = identity.domain
    spf = txt_records(resolver, domain)
    if spf is None:
        return [warn(AREA, f"{label}: DNS did not answer for {domain}",
                     "check the network (or HUB_DNS_NAMESERVER), then run `hub doctor` again")]  # fmt: skip
    found = [_spf(label, domain, spf)]
    if identity.dkim_selector:
        name = f"{identity.dkim_selector}._domainkey.{domain}"
        dkim = txt_records(resolver, name) or []
        if any("p=" in t for t in dkim):
            found.append(ok(AREA, f"{label}: DKIM key published at {name}"))
        else:
            found.append(error(AREA, f"{label}: no DKIM key at {name}",
                               "publish the TXT record (v=DKIM1; k=rsa; p=...) your mail host "
                               "gives you for this selector"))  # fmt: skip
    else:
        found.append(warn(AREA, f"{label}: DKIM not checked (no selector given)",
                          "set dkim_selector (HUB_DKIM_SELECTOR) to the selector your mail host "
                          "signs with, e.g. google or selector1"))  # fmt: skip
    dmarc = [t for t in txt_records(resolver, f"_dmarc.{domain}") or [] if t.startswith("v=DMARC1")]
    if dmarc:
        found.append(ok(AREA, f"{label}: DMARC record found ({dmarc[0][:60]})"))
    else:
        found.append(error(AREA, f"{label}: no DMARC record at _dmarc.{domain}",
                           f'add TXT _dmarc.{domain} "v=DMARC1; p=none; '
                           f'rua=mailto:dmarc@{domain}" (Google and Yahoo require one)'))  # fmt: skip
    return found


def _spf(label: str, domain: str, texts: list[str]) -> Finding:
    records = [t for t in texts if t.lower().startswith("v=spf1")]
    if len(records) > 1:
        return error(AREA, f"{label}: {domain} has {len(records)} SPF records (only one may exist)",
                     "merge them into one TXT record starting v=spf1")  # fmt: skip
    if not records:
        return error(AREA, f"{label}: no SPF record for {domain}",
                     f'add TXT {domain} "v=spf1 include:<your mail host> ~all" '
                     "(your host documents the include)")  # fmt: skip
    return ok(AREA, f"{label}: SPF record found ({records[0][:60]})")
