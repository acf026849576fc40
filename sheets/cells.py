"""One parse layer for cells people type: addresses, host names, numbers, dates and text.

Every cell is untrusted input (DESIGN.md §6b). The functions here turn a cell into a clean value
or raise :class:`BadCell`, whose message names the column and says what to fix, so a caller can
hold that one row with a reason and go on with the others. Nothing here raises anything else,
whatever the text holds (NUL bytes, bidi controls, 50,000 characters, formulas, template syntax).

Addresses go through ``email-validator`` (syntax and normalisation only: no DNS lookups), host
names through ``idna`` (UTS 46 mapping, then IDNA 2008 rules per label).
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from datetime import UTC, datetime
from urllib.parse import urlsplit

import idna
from email_validator import EmailNotValidError, validate_email

# RFC 5321: 254 characters in a path; a longer "address" is a pasted paragraph.
MAX_EMAIL_CHARS = 254
# RFC 1035: 253 characters in a host name (without the final dot).
MAX_DOMAIN_CHARS = 253
# How much of a bad value a reason quotes: enough to find the cell, never a whole page.
QUOTE_CHARS = 40
# Line breaks, NUL and the other C0/C1 controls, and Unicode "format" characters (bidi overrides
# like U+202E, zero-width joiners): never part of an address or a host a person means.
_ALLOWED_CONTROLS_IN_TEXT = frozenset("\n\t")
# Plain lower-case ASCII host names (most cells) skip the IDNA codec: de-duplicating 200,000
# rows reads every domain. Labels starting "xn--" still go through it, to be checked.
_PLAIN_HOST = re.compile(
    r"(?!.*(?:^|\.)xn--)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+"
)


class BadCell(ValueError):
    """A cell that cannot be used as it is; ``column`` names it and ``why`` says what is wrong."""

    def __init__(self, column: str, why: str):
        super().__init__(f"{column}: {why}")
        self.column = column
        self.why = why


def quote(value: str) -> str:
    """A short, printable rendering of a bad value for a reason (controls shown as escapes)."""
    text = value if len(value) <= QUOTE_CHARS else value[: QUOTE_CHARS - 1] + "…"
    return repr(text).encode("ascii", "backslashreplace").decode("ascii")


def _is_hidden(char: str) -> bool:
    return unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp")


def _refuse_hidden(value: str, column: str) -> None:
    for char in value:
        if _is_hidden(char) or char.isspace():
            name = unicodedata.name(char, f"U+{ord(char):04X}")
            raise BadCell(column, f"{quote(value)} contains {name}; type the value again")


def normalize_email(value: str, column: str = "contact_email") -> str:
    """One mailbox (``local@example.com``), normalised; raises :class:`BadCell`.

    Refused: display names and angle brackets, lists, ``mailto:``, quoted local parts, IP
    literals, whitespace and control or bidi characters, a domain without a dot. The domain
    comes back in its ASCII (IDNA) form so every header stays plain ASCII.
    """
    text = (value or "").strip(" ")
    if not text:
        raise BadCell(column, "the cell is empty")
    if len(text) > MAX_EMAIL_CHARS:
        raise BadCell(column, f"{len(text)} characters is too long for an e-mail address")
    if any(mark in text for mark in ",;<>"):
        raise BadCell(
            column,
            f"{quote(text)} must be one address only (no name, brackets or list), "
            "like name@example.com",
        )
    _refuse_hidden(text, column)
    if text.lower().startswith("mailto:"):
        raise BadCell(column, f"{quote(text)}: write the address without 'mailto:'")
    try:
        checked = validate_email(
            text,
            check_deliverability=False,  # no DNS at draft or send time
            allow_smtputf8=False,
            allow_quoted_local=False,
            allow_domain_literal=False,
            allow_display_name=False,
            # RFC 6761 reserves .test for testing; it never resolves, so it is harmless here
            # and lets dry runs and tests use it. Other special-use names stay refused.
            test_environment=True,
        )
    except EmailNotValidError as exc:
        raise BadCell(column, f"{quote(text)} is not an e-mail address: {exc}") from None
    return checked.ascii_email or checked.normalized


def normalize_domain(value: str, column: str = "domain") -> str:
    """A host name in IDNA (ASCII) form with at least two labels; raises :class:`BadCell`.

    Lower-cased, without a final dot or a leading ``www.`` (the form rows are de-duplicated
    by). Refused: schemes, ports, paths, IP literals, spaces, empty labels, ``_`` and other
    characters a host name cannot hold.
    """
    text = (value or "").strip(" ")
    if len(text) <= MAX_DOMAIN_CHARS and _PLAIN_HOST.fullmatch(text):
        host = _without_www(text)
        if "." in host and not host.rsplit(".", 1)[1].isdigit():
            return host
    if not text:
        raise BadCell(column, "the cell is empty")
    if len(text) > MAX_DOMAIN_CHARS + 1:
        raise BadCell(column, f"{len(text)} characters is too long for a host name")
    _refuse_hidden(text, column)
    if _is_ip_literal(text):
        raise BadCell(column, f"{quote(text)} is an IP address, not a host name")
    if "://" in text or text.lower().startswith(("mailto:", "javascript:")):
        raise BadCell(column, f"{quote(text)}: write the host name only, without a scheme")
    if any(c in text for c in "/?#@[]:\\"):
        raise BadCell(column, f"{quote(text)}: write the host name only (no port, path or '@')")
    host = text.rstrip(".") if text.endswith(".") and not text.endswith("..") else text
    if _is_ip_literal(host):
        raise BadCell(column, f"{quote(text)} is an IP address, not a host name")
    try:
        ascii_host = idna.encode(host, uts46=True).decode("ascii").lower()
    except (idna.IDNAError, UnicodeError, ValueError) as exc:
        raise BadCell(column, f"{quote(text)} is not a host name: {exc}") from None
    ascii_host = _without_www(ascii_host)
    labels = ascii_host.split(".")
    if len(labels) < 2 or not all(labels):
        raise BadCell(column, f"{quote(text)} needs at least two labels, like example.com")
    if labels[-1].isdigit() or _is_ip_literal(ascii_host):
        raise BadCell(column, f"{quote(text)} is an IP address, not a host name")
    if len(ascii_host) > MAX_DOMAIN_CHARS:
        raise BadCell(column, f"{quote(text)} is too long for a host name")
    return ascii_host


def _without_www(host: str) -> str:
    """``www.example.com`` is ``example.com``; ``www.com`` stays itself."""
    rest = host.removeprefix("www.")
    return rest if "." in rest else host


def domain_from_cell(value: str, column: str = "domain") -> str:
    """A ``domain`` cell as people paste it: a host, or an ``http(s)://`` address of one (its
    host is kept, whatever the port or path); everything else goes through
    :func:`normalize_domain`, which refuses a port on a bare host."""
    text = (value or "").strip(" ")
    if text.lower().startswith(("http://", "https://")):
        _refuse_hidden(text, column)
        try:
            parts = urlsplit(text)
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number
        except ValueError as exc:
            raise BadCell(column, f"{quote(text)} is not a web address: {exc}") from None
        if parts.username or parts.password:
            raise BadCell(column, f"{quote(text)}: a user name is not part of a domain")
        return normalize_domain(parts.hostname or "", column)
    return normalize_domain(text, column)


def _is_ip_literal(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return False
    return True


def parse_count(value: str, column: str) -> int:
    """A whole number >= 0 (``""`` is 0); ``two``, ``-1`` or ``1e9`` raise :class:`BadCell`."""
    text = (value or "").strip()
    if not text:
        return 0
    if not (text.isascii() and text.isdigit()) or len(text) > 9:
        raise BadCell(column, f"{quote(text)} is not a whole number (write 0, 1, 2, ...)")
    return int(text)


def parse_number(value: str, column: str) -> float | None:
    """A number (``""`` is None); anything else raises :class:`BadCell`."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        number = float(text) if text.isascii() and len(text) <= 32 else None
    except ValueError:
        number = None
    if number is None or number != number or number in (float("inf"), float("-inf")):
        raise BadCell(column, f"{quote(text)} is not a number")
    return number


def parse_time(value: str, column: str) -> datetime | None:
    """An ISO 8601 moment (``""`` is None), in UTC when it names no zone; ``tomorrow`` raises
    :class:`BadCell`."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        if not text.isascii() or len(text) > 40:
            raise ValueError(text)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadCell(
            column, f"{quote(text)} is not a date and time (write 2026-12-04T09:00:00Z)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def clean_text(value: object, limit: int) -> str:
    """Printable text for a header or a one-line field: controls and bidi/format characters
    removed (line breaks become spaces), at most ``limit`` characters."""
    text = "" if value is None else str(value)
    out = []
    for char in text:
        if char in "\r\n\t":
            out.append(" ")
        elif not _is_hidden(char):
            out.append(char)
    cleaned = " ".join("".join(out).split())
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def clean_body(value: object, limit: int) -> str:
    """Text for a message body: NUL and other C0/C1 controls removed (keeping line breaks and
    tabs; bidi marks stay, right-to-left text needs them), at most ``limit`` characters."""
    text = "" if value is None else str(value)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    kept = "".join(
        c for c in text if c in _ALLOWED_CONTROLS_IN_TEXT or unicodedata.category(c) != "Cc"
    )
    return kept if len(kept) <= limit else kept[: limit - 1] + "…"
