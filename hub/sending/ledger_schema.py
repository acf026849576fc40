"""What the send ledger stores: the frozen row types that mirror its two tables.

``Intent`` and ``SendRecord`` list their fields in the column order of ``send_intents`` and
``sends`` (:mod:`hub.state.schema`), because the ledger builds them straight from ``SELECT *``
rows (``Intent(*row)``): a column added to a table needs its field added here, in the same
place.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Intent:
    hub_id: str
    step: int
    message_id: str
    recipient: str
    recipient_domain: str
    subject: str
    body: str
    thread_id: str
    created_at: float
    attempted_at: float | None
    owner: str | None
    lease_until: float | None
    identity: str = ""  # the sending identity's name ("" = the implicit one)


@dataclass(frozen=True)
class SendRecord:
    hub_id: str
    step: int
    message_id: str
    recipient: str
    recipient_domain: str
    subject: str
    provider_id: str
    thread_id: str
    sent_at: float
    how: str
    identity: str = ""


def recipient_domain(email: str) -> str:
    return email.rsplit("@", 1)[-1].strip().lower()
