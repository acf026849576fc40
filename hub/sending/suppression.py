"""Who must never get mail: checked right before every send and every follow-up.

An address is suppressed when
- it is in our own ``suppressed`` table (one-click unsubscribes, bounces, replies recorded by
  the hub; it outlives the row, so deleting a row never re-enables an address);
- any row with that ``contact_email`` is ``unsubscribed``, ``bounced``, ``replied`` or a person
  marked it ``do_not_contact``;
- it, or its domain, is in ``HUB_SUPPRESSION_LIST`` (``a@b.com``, ``b.com`` or ``@b.com``;
  a listed domain covers its subdomains).

Addresses compare case-insensitively. The table is read on every check (an unsubscribe lands
at once); the rows' statuses are read once per :meth:`refresh` (one store read per chunk,
because every read of a Google Sheet costs quota).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path

from hub.state.database import SqliteDatabase, open_database
from sheets.columns import Row
from sheets.store import ProspectStore

# Row statuses that put the row's address on the list, and the reason each one gives.
SUPPRESSING_STATUSES = ("unsubscribed", "bounced", "replied", "do_not_contact")


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


class Suppression:
    def __init__(self, settings, store: ProspectStore | None = None, *, path: Path | None = None):
        # Without a store only the table and HUB_SUPPRESSION_LIST are consulted, not the rows.
        self.settings = settings
        self.store = store
        self._configured = [normalise_email(e).lstrip("@") for e in settings.suppression_list]
        # The hub's database (PostgreSQL with HUB_DATABASE_URL: every process sees an
        # unsubscribe at once), or the SQLite file ``path``.
        self._db = SqliteDatabase(path) if path else open_database(settings)
        self._from_rows: dict[str, str] | None = None

    def close(self) -> None:
        self._db.close()

    def add(self, email: str, reason: str, *, overriding: bool = False) -> None:
        """Suppress an address for good (the first reason recorded is kept, unless
        ``overriding``: a spam complaint replaces an earlier "replied")."""
        address = normalise_email(email)
        if not address:
            return
        # A later reason replaces the first only when it overrides (a complaint); else the
        # first stands. ON CONFLICT: the same statement on SQLite and PostgreSQL.
        on_conflict = (
            "DO UPDATE SET reason=excluded.reason, added_at=excluded.added_at"
            if overriding
            else "DO NOTHING"
        )
        self._db.execute(
            "INSERT INTO suppressed(email, reason, added_at) VALUES(?,?,?) "
            f"ON CONFLICT(email) {on_conflict}",
            (address, reason, time.time()),
        )

    def refresh(self, rows: Iterable[Row] | None = None) -> None:
        """Re-read the rows' statuses (once per chunk of sends; pass rows already read)."""
        found: dict[str, str] = {}
        if rows is None and self.store is not None:
            rows = self.store.rows()
        if rows is not None:
            for row in rows:
                status = (row.get("outreach_status", "") or "").strip().lower()
                address = normalise_email(row.get("contact_email", ""))
                if address and status in SUPPRESSING_STATUSES:
                    found.setdefault(address, status)
        self._from_rows = found

    def reason_for(self, email: str) -> str | None:
        """Why this address must not get mail, or None when it may."""
        address = normalise_email(email)
        if not address:
            return None
        hit = self._db.execute("SELECT reason FROM suppressed WHERE email=?", (address,)).fetchone()
        if hit:
            return hit[0]
        if self._from_rows is None:
            self.refresh()
        if address in (self._from_rows or {}):
            return self._from_rows[address]  # type: ignore[index]
        domain = address.rsplit("@", 1)[-1]
        for entry in self._configured:
            if entry == address or (
                "@" not in entry and (domain == entry or domain.endswith("." + entry))
            ):
                return "suppression_list"
        return None

    def entries(self) -> list[tuple[str, str]]:
        rows = self._db.execute("SELECT email, reason FROM suppressed ORDER BY added_at").fetchall()
        return [(email, reason) for email, reason in rows]
