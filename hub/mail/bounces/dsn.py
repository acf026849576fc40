"""RFC 3464 delivery-status fields, read from the text of a ``message/delivery-status`` part
(or from a plain-text bounce that copies them): one entry per recipient."""

from __future__ import annotations

import re
from dataclasses import dataclass

# A DSN's per-recipient block starts at Final-Recipient (or Original-Recipient when a gateway
# dropped the final one); the fields that follow belong to it until the next block.
_FIELD = re.compile(
    r"^\s*(Final-Recipient|Original-Recipient|Action|Status|Diagnostic-Code|Remote-MTA)"
    r"\s*:\s*(.*(?:\n[ \t]+\S.*)*)",
    re.I | re.M,
)
_ADDRESS = re.compile(r"[^\s<>;:\"'()\[\],]+@[^\s<>;:\"'()\[\],]+\.[A-Za-z0-9-]{2,}")
_STATUS = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.]*\d)")


@dataclass
class RecipientStatus:
    recipient: str = ""
    action: str = ""  # failed, delayed, delivered, relayed, expanded
    status: str = ""  # RFC 3463, e.g. 5.1.1
    diagnostic: str = ""


def _address(value: str) -> str:
    # "rfc822; <user@example.com>" or "RFC822; user@example.com" or a bare address.
    found = _ADDRESS.search(value.split(";", 1)[-1])
    return found.group(0).strip(".").lower() if found else ""


def recipient_statuses(text: str) -> list[RecipientStatus]:
    """Every recipient block found, in order; empty when the text has no DSN fields."""
    blocks: list[RecipientStatus] = []
    current: RecipientStatus | None = None
    for match in _FIELD.finditer(text or ""):
        name = match.group(1).lower()
        value = " ".join(match.group(2).split())
        if name in ("final-recipient", "original-recipient"):
            address = _address(value)
            # A second Final-Recipient after the fields of the first starts the next block.
            if (
                current is not None
                and name == "final-recipient"
                and current.recipient
                and (current.action or current.status or current.diagnostic)
            ):
                blocks.append(current)
                current = None
            if current is None:
                current = RecipientStatus()
            if address and (name == "final-recipient" or not current.recipient):
                current.recipient = address
            continue
        if current is None:
            current = RecipientStatus()
        if name == "action" and not current.action:
            current.action = value.lower().split()[0] if value else ""
        elif name == "status" and not current.status:
            code = _STATUS.search(value)
            current.status = ".".join(code.groups()) if code else ""
        elif name == "diagnostic-code" and not current.diagnostic:
            current.diagnostic = value.split(";", 1)[-1].strip()
    if current is not None and (current.recipient or current.status or current.action):
        blocks.append(current)
    return blocks


def failures(text: str) -> list[RecipientStatus]:
    """The blocks that report a failure or a delay (a DSN may also say "delivered")."""
    return [
        block
        for block in recipient_statuses(text)
        if block.action in ("failed", "delayed", "")
        and not block.status.startswith("2")
        and (block.action or block.status or block.diagnostic)
    ]
