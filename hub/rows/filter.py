"""Which rows a search names: part of a domain or address, a status, a hold reason group.

One definition for the ``/rows`` page, ``POST /api/prospects/approve`` and ``hub rows``, so
"approve all rows matching this filter" approves exactly the rows the page listed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


def normal_status(value: str) -> str:
    """How the hub reads a status cell: trimmed, lower-case, empty = pending."""
    return (value or "").strip().lower() or "pending"


def hold_group(reason: str) -> str:
    """``HELD:daily_cap until 2026-11-29T09:14Z`` -> ``HELD:daily_cap``; ``DRY_RUN <id>`` ->
    ``DRY_RUN``: the reason's first word, the part that says *why*."""
    text = (reason or "").strip()
    return text.split(None, 1)[0] if text else ""


@dataclass(frozen=True)
class RowFilter:
    q: str = ""  # part of a domain or an e-mail address
    status: str = ""  # an outreach_status (empty reads as pending)
    hold: str = ""  # a hold_reason group such as HELD:daily_cap

    @property
    def empty(self) -> bool:
        return not (self.q or self.status or self.hold)

    def matches(self, row: Mapping[str, str]) -> bool:
        if self.status and normal_status(row.get("outreach_status", "")) != self.status:
            return False
        if self.hold and hold_group(row.get("hold_reason", "")) != self.hold:
            return False
        if self.q:
            needle = self.q.lower()
            haystack = (row.get("domain", "") + "\n" + row.get("contact_email", "")).lower()
            if needle not in haystack:
                return False
        return True
