"""The rows: a searchable, paginated table of prospects, and one row's page (draft, history).

Reading the rows of a Google Sheet costs a Sheets read (60 a minute per user, shared with the
jobs), so the page keeps one snapshot of the rows for a few seconds: a person refreshing the
status page must not starve a running job of its quota. The local store is read every time.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hub.rows.filter import RowFilter, normal_status
from hub.sending.ledger import Ledger
from hub.web.funnel import rows_link

PAGE_SIZE = 50
MAX_QUERY_CHARS = 200
# Seconds a snapshot of the rows is reused, per store backend (Sheets reads are a quota).
SNAPSHOT_SECONDS = {"local": 0.0, "postgres": 0.0, "google": 15.0}
DEFAULT_SNAPSHOT_SECONDS = 15.0


class RowsSnapshot:
    """The store's rows (and header), re-read when older than the backend's
    ``SNAPSHOT_SECONDS``; with no reuse (the local store) every call reads the store."""

    def __init__(self, store: Any, *, clock=time.monotonic):
        self.store = store
        self.ttl = SNAPSHOT_SECONDS.get(store.backend_name, DEFAULT_SNAPSHOT_SECONDS)
        self.clock = clock
        self._rows: list[dict[str, str]] | None = None
        self._header: list[str] = []
        self._taken = 0.0
        self._lock = asyncio.Lock()

    def _read(self) -> tuple[list[str], list[dict[str, str]]]:
        return self.store.header(), self.store.rows()

    async def rows(self) -> list[dict[str, str]]:
        if self.ttl <= 0:
            return await asyncio.to_thread(self.store.rows)
        async with self._lock:  # one read at a time, even with many tabs open
            if self._rows is None or self.clock() - self._taken >= self.ttl:
                self._header, self._rows = await asyncio.to_thread(self._read)
                self._taken = self.clock()
            return self._rows

    async def row(self, hub_id: str) -> tuple[dict[str, str] | None, list[str]]:
        """One row and the header (user columns included, in the sheet's order)."""
        if self.ttl <= 0:
            row = await asyncio.to_thread(self.store.get, hub_id)
            return row, (await asyncio.to_thread(self.store.header) if row else [])
        rows = await self.rows()
        return next((r for r in rows if r.get("hub_id") == hub_id), None), self._header


@dataclass(frozen=True)
class RowQuery(RowFilter):
    page: int = 1

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> RowQuery:
        def text(name: str) -> str:
            return (params.get(name) or "").strip()[:MAX_QUERY_CHARS]

        try:
            page = max(1, int(params.get("page") or 1))
        except ValueError:
            page = 1  # a hand-edited ?page=abc shows the first page rather than an error
        status = text("status")
        return cls(text("q"), normal_status(status) if status else "", text("hold"), page)

    def link(self, page: int) -> str:
        return rows_link(q=self.q, status=self.status, hold=self.hold, page=str(page))


@dataclass
class RowsPage:
    query: RowQuery
    rows: list[Mapping[str, str]] = field(default_factory=list)
    matched: int = 0
    total: int = 0
    pages: int = 1
    drafted: int = 0  # drafted rows matching the filter: what "approve all" would approve

    @property
    def first(self) -> int:
        return (self.query.page - 1) * PAGE_SIZE + 1 if self.matched else 0

    @property
    def last(self) -> int:
        return min(self.query.page * PAGE_SIZE, self.matched)


def search(rows: list[dict[str, str]], query: RowQuery) -> RowsPage:
    matched = [r for r in rows if query.matches(r)]
    pages = max(1, math.ceil(len(matched) / PAGE_SIZE))
    if query.page > pages:
        query = RowQuery(query.q, query.status, query.hold, pages)
    start = (query.page - 1) * PAGE_SIZE
    drafted = RowFilter(query.q, "drafted", query.hold)
    return RowsPage(
        query,
        matched[start : start + PAGE_SIZE],
        len(matched),
        len(rows),
        pages,
        sum(1 for r in matched if drafted.matches(r)),
    )


# --- one row -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class SentMessage:
    step: str  # "first message", "follow-up 1", ...
    sent_at: float
    recipient: str
    subject: str
    how: str  # sent | reconciled (found in the Sent mailbox) | dry run, as the ledger says


def history(settings: Any, hub_id: str) -> list[SentMessage]:
    """What the send ledger (the source of truth for sending) holds for this row."""
    ledger = Ledger.from_settings(settings)
    try:
        records = ledger.history(hub_id)
    finally:
        ledger.close()
    return [
        SentMessage(
            "first message" if r.step == 0 else f"follow-up {r.step}",
            r.sent_at,
            r.recipient,
            r.subject,
            r.how,
        )
        for r in records
    ]


def other_cells(header: list[str], row: Mapping[str, str], shown: set[str]) -> list[tuple]:
    """Every other column of the row, in the sheet's order (user columns included)."""
    names = [h for h in header if h and h not in shown]
    names += sorted(k for k in row if k not in shown and k not in names)
    return [(name, row.get(name, "")) for name in names]
