"""Every change a person makes to a row through the hub: what, when, and by whom.

The sheet keeps only the current value of a cell (and Google's own version history is not
ours to read), so the hub keeps its own record, in the hub's database next to the send ledger
(the state DB, or PostgreSQL with ``HUB_DATABASE_URL`` so every process shows the same history):
one line per changed cell, with the value before and after. Who made it is the API key's
fingerprint (never the key), ``status page`` or ``cli``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub.state.database import SqliteDatabase, open_database

# Long drafts are kept in full in the sheet; the history keeps enough to recognise them.
MAX_VALUE_CHARS = 2000


@dataclass(frozen=True)
class Change:
    hub_id: str
    at: float
    actor: str
    column: str
    before: str
    after: str


class RowHistory:
    def __init__(self, db: Any):
        """``db``: the hub's database (:func:`hub.state.database.open_database`) or the path of
        a SQLite file."""
        if isinstance(db, str | Path):
            db = SqliteDatabase(db)
        self._db = db

    @classmethod
    def from_settings(cls, settings) -> RowHistory:
        return cls(open_database(settings))

    def close(self) -> None:
        self._db.close()

    def record(
        self,
        changed: Mapping[str, Mapping[str, tuple[str, str]]],
        actor: str,
        *,
        at: float | None = None,
    ) -> int:
        """Record ``{hub_id: {column: (before, after)}}`` in one transaction; returns lines."""
        when = time.time() if at is None else at
        lines = [
            (hub_id, when, actor, column, _short(before), _short(after))
            for hub_id, cells in changed.items()
            for column, (before, after) in cells.items()
        ]
        if not lines:
            return 0
        with self._db.transaction() as db:
            db.executemany(
                "INSERT INTO row_changes(hub_id, at, actor, column_name, before, after) "
                "VALUES(?, ?, ?, ?, ?, ?)",
                lines,
            )
        return len(lines)

    def for_row(self, hub_id: str, limit: int = 200) -> list[Change]:
        """The row's changes, newest first."""
        found = self._db.execute(
            "SELECT hub_id, at, actor, column_name, before, after FROM row_changes "
            "WHERE hub_id=? ORDER BY seq DESC LIMIT ?",
            (hub_id, limit),
        ).fetchall()
        return [Change(*line) for line in found]


def _short(text: str) -> str:
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"
