"""The embedded prospect store: SQLite in ``HUB_DATA_DIR``, same rules as the Google Sheet.

WAL mode with a busy timeout, so ``hub serve`` and the CLI can use it at the same time.
A row is stored as JSON of its non-empty cells (cheap at 200k rows), with ``domain`` and
``outreach_status`` copied into indexed columns for de-duplication and counting. The header
(user columns included, in the user's order) lives in the ``prospect_meta`` table. The tables
are :mod:`sheets.schema`'s, created or migrated when the store is opened.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from pathlib import Path

from sheets.columns import HUB_COLUMNS, Row, missing_columns, writable_changes
from sheets.human_edits import EditReport, clean_edit, plan_row
from sheets.migrate import ensure_sqlite_store
from sheets.shared_cells import CellSharer
from sheets.store import (
    AppendReport,
    ProspectStore,
    SchemaReport,
    WriteReport,
    decode_rows,
    header_with_new_columns,
    new_hub_id,
    prepare_new_rows,
    stored_record,
    utc_now_text,
)

# Rows decoded per json.loads call when reading many (see _iter_rows).
_DECODE_BATCH = 1000


class LocalStore(ProspectStore):
    backend_name = "local"

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(
            self.path, timeout=30, isolation_level=None, check_same_thread=False
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=30000")
        ensure_sqlite_store(self._db, self.path)

    # --- header ---------------------------------------------------------------------------
    def header(self) -> list[str]:
        found = self._db.execute("SELECT value FROM prospect_meta WHERE key='header'").fetchone()
        return json.loads(found[0]) if found else []

    def _save_header(self, header: list[str]) -> None:
        self._db.execute(
            "INSERT INTO prospect_meta(key, value) VALUES('header', ?) "
            "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            (json.dumps(header),),
        )

    def ensure_schema(self, *, dry_run: bool = False) -> SchemaReport:
        with self._lock:
            header = self.header()
            report = SchemaReport(added_columns=missing_columns(header))
            if not dry_run and report.added_columns:
                self._save_header(header + report.added_columns)
            # Local rows always get a hub_id on insert, so there is nothing to assign here.
            return report

    # --- reading ----------------------------------------------------------------------------
    def _iter_rows(self, where: str = "", params: tuple = ()) -> Iterator[Row]:
        cursor = self._db.execute(f"SELECT data FROM prospects {where} ORDER BY pos", params)
        while batch := cursor.fetchmany(_DECODE_BATCH):
            yield from decode_rows(data for (data,) in batch)

    def rows(self) -> list[Row]:
        sharer = CellSharer()  # repeated statuses, scores, timestamps: one string each
        with self._lock:
            return [sharer.share_row(row) for row in self._iter_rows()]

    def get(self, hub_id: str) -> Row | None:
        with self._lock:
            found = self._db.execute(
                "SELECT data FROM prospects WHERE hub_id=?", (hub_id,)
            ).fetchone()
        return json.loads(found[0]) if found else None

    def select(self, predicate: Callable[[Row], bool], limit: int | None = None) -> list[Row]:
        # Streams from the cursor, so picking 100 eligible rows of 200k never loads them all.
        picked: list[Row] = []
        sharer = CellSharer()
        with self._lock:
            for row in self._iter_rows():
                if predicate(row):
                    picked.append(sharer.share_row(row))
                    if limit is not None and len(picked) >= limit:
                        break
        return picked

    def count_by_status(self) -> dict[str, int]:
        with self._lock:
            found = self._db.execute(
                "SELECT outreach_status, COUNT(*) FROM prospects GROUP BY outreach_status"
            ).fetchall()
        counts: dict[str, int] = {}
        for status, count in found:  # a blank status reads as pending: add, don't overwrite
            key = status or "pending"
            counts[key] = counts.get(key, 0) + count
        return counts

    def domains(self) -> set[str]:
        with self._lock:
            return {d for (d,) in self._db.execute("SELECT domain FROM prospects") if d}

    # --- writing ----------------------------------------------------------------------------
    def append(
        self, rows: Iterable[Mapping[str, object]], *, dedupe_by_domain: bool = True
    ) -> AppendReport:
        with self._lock:
            fresh, skipped = prepare_new_rows(
                rows, self.domains(), dedupe_by_domain=dedupe_by_domain
            )
            header = header_with_new_columns(self.header() or list(HUB_COLUMNS), fresh)
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._save_header(header)
                self._db.executemany(
                    "INSERT INTO prospects(hub_id, domain, outreach_status, data) "
                    "VALUES(?, ?, ?, ?)",
                    [stored_record(row) for row in fresh],
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return AppendReport(added=[row["hub_id"] for row in fresh], duplicates=skipped)

    def update(self, changes: Mapping[str, Mapping[str, object]]) -> WriteReport:
        report = WriteReport()
        if not changes:
            return report
        now = utc_now_text()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for hub_id, wanted in changes.items():
                    found = self._db.execute(
                        "SELECT data FROM prospects WHERE hub_id=?", (hub_id,)
                    ).fetchone()
                    if found is None:
                        report.missing.append(hub_id)
                        continue
                    current: Row = json.loads(found[0])
                    allowed = writable_changes(current, wanted)
                    kept = [c for c in wanted if c not in allowed]
                    if kept:
                        report.protected[hub_id] = kept
                    if not allowed:
                        continue
                    current.update(allowed)
                    current["updated_at"] = now
                    self._write(hub_id, current)
                    report.written.append(hub_id)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return report

    def edit(
        self,
        edits: Mapping[str, Mapping[str, object]],
        *,
        unmodified_since: datetime | None = None,
    ) -> EditReport:
        cleaned = {hub_id: clean_edit(wanted) for hub_id, wanted in edits.items()}
        report = EditReport()
        now = utc_now_text()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                header = self.header() or list(HUB_COLUMNS)
                widened = header_with_new_columns(header, cleaned.values())
                if widened != header:
                    self._save_header(widened)
                for hub_id, wanted in cleaned.items():
                    found = self._db.execute(
                        "SELECT data FROM prospects WHERE hub_id=?", (hub_id,)
                    ).fetchone()
                    if found is None:
                        report.missing.append(hub_id)
                        continue
                    current: Row = json.loads(found[0])
                    changes = plan_row(current, wanted, unmodified_since, report)
                    if changes is None:
                        continue
                    current.update({c: after for c, (_, after) in changes.items()})
                    current["updated_at"] = now
                    self._write(hub_id, current)
                    report.changed[hub_id] = changes
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return report

    def delete(self, hub_id: str) -> bool:
        """Remove a row, as a person deleting it from the sheet would (used by tests)."""
        with self._lock:
            cur = self._db.execute("DELETE FROM prospects WHERE hub_id=?", (hub_id,))
        return cur.rowcount > 0

    def human_edit(self, hub_id: str, column: str, value: str) -> None:
        """Set a cell as a person would, bypassing the hub's ownership rules (tests, CSV)."""
        with self._lock:
            found = self._db.execute(
                "SELECT data FROM prospects WHERE hub_id=?", (hub_id,)
            ).fetchone()
            if found is None:
                raise KeyError(hub_id)
            row = json.loads(found[0])
            row[column] = value
            self._write(hub_id, row)

    def _write(self, hub_id: str, row: Row) -> None:
        """Store a whole row, keeping the indexed copies of domain and status in step."""
        self._db.execute(
            "UPDATE prospects SET domain=?, outreach_status=?, data=? WHERE hub_id=?",
            (*stored_record(row)[1:], hub_id),
        )

    def close(self) -> None:
        with self._lock:
            self._db.close()


__all__ = ["LocalStore", "new_hub_id"]
