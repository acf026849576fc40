"""Validating untrusted cells at the boundary: e-mail addresses and domains.

A minimal stand-in with the contract issue 11 fixes; its fuller version replaces this file.
"""

from __future__ import annotations

import idna
from email_validator import EmailNotValidError, validate_email


class BadCell(ValueError):
    """A cell whose value cannot be used; ``column`` names it and ``why`` says what is wrong."""

    def __init__(self, column: str, why: str):
        super().__init__(f"{column}: {why}")
        self.column = column
        self.why = why


def normalize_email(value: str, column: str = "contact_email") -> str:
    """One mailbox (``name@example.com``), normalised; raises :class:`BadCell`."""
    text = (value or "").strip()
    if not text:
        raise BadCell(column, "is empty")
    if any(sep in text for sep in (",", ";", "<", ">", " ")):
        raise BadCell(column, f"{text!r} must be one address only, like name@example.com")
    try:
        # No DNS lookups: a cell is checked offline, deliverability is the provider's job.
        checked = validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        raise BadCell(column, f"{text!r} is not an e-mail address: {exc}") from None
    return checked.normalized


def normalize_domain(value: str, column: str = "domain") -> str:
    """A host name as lower-case ASCII (IDNA 2008); raises :class:`BadCell`."""
    text = (value or "").strip().rstrip(".").lower()
    if not text:
        raise BadCell(column, "is empty")
    try:
        return idna.encode(text, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise BadCell(column, f"{text!r} is not a domain name: {exc}") from None
