"""Which rows a search names: part of a domain or address, a status, a hold reason group.

One definition for the ``/rows`` page, ``POST /api/prospects/approve`` and ``hub rows``, so
"approve all rows matching this filter" approves exactly the rows the page listed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from hub.web.funnel import hold_group, normal_status


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
