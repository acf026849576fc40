"""The local prospect store on PostgreSQL (``HUB_DATABASE_URL`` without ``HUB_SHEET_ID``).

The same rules as :mod:`sheets.local`, for several hub processes on several machines at once:
rows as JSON text of their non-empty cells (text, not ``jsonb``, so a row keeps its column
order and a batch decodes in one ``json.loads``), with ``domain`` and ``outreach_status``
copied into indexed columns. Cross-process safety comes from the database, not a thread lock:

- ``update`` locks the rows it rewrites (``SELECT … FOR UPDATE``), so two processes writing
  the same row never lose each other's cells;
- ``append`` and header changes take a transaction-scoped advisory lock, so de-duplication by
  domain holds across processes (two imports of one domain add it once);
- schema creation runs under the same lock, so processes starting together do not race.

``sheets/`` never imports ``hub``: this module has its own pool (psycopg_pool) and its own
tables (``prospects``, ``prospect_meta``: :mod:`sheets.schema`), created or migrated on first
use.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool, PoolTimeout

from sheets.columns import HUB_COLUMNS, Row, missing_columns, normalise_domain, writable_changes
from sheets.human_edits import EditReport, clean_edit, plan_row
from sheets.migrate import ensure_postgres_store
from sheets.shared_cells import CellSharer
from sheets.store import (
    AppendReport,
    ProspectStore,
    SchemaReport,
    StoreError,
    WriteReport,
    decode_rows,
    header_with_new_columns,
    prepare_new_rows,
    stored_record,
    utc_now_text,
)

# One advisory lock key for "the prospect table's shape and its set of domains".
_WRITE_LOCK = "SELECT pg_advisory_xact_lock(hashtext('outreach_hub.sheets.prospects'))"
# Rows fetched and decoded per round (see _iter_rows).
_DECODE_BATCH = 1000
_CONNECT_SECONDS = 10.0


def describe_dsn(dsn: str) -> str:
    """``host:port/dbname`` of a DSN, for messages: never its password."""
    try:
        parts = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "(unparseable database URL)"
    host = parts.get("host") or "localhost"
    return f"{host}:{parts.get('port') or 5432}/{parts.get('dbname') or ''}"


class PostgresStore(ProspectStore):
    backend_name = "postgres"

    def __init__(self, dsn: str, *, max_size: int = 4, connect_timeout: float = _CONNECT_SECONDS):
        self.where = describe_dsn(dsn)
        self._pool = ConnectionPool(
            dsn,
            min_size=1,
            max_size=max_size,
            kwargs={"autocommit": True},
            name="prospects",
            open=False,
        )
        try:
            self._pool.open(wait=True, timeout=connect_timeout)
        except PoolTimeout as exc:
            self._pool.close()
            raise StoreError(f"PostgreSQL at {self.where} is not reachable") from exc
        with self._pool.connection() as conn:
            ensure_postgres_store(conn, dsn, where=self.where, lock=_WRITE_LOCK)

    # --- header ---------------------------------------------------------------------------
    def header(self) -> list[str]:
        with self._pool.connection() as conn:
            return _header(conn)

    def _save_header(self, header: list[str]) -> None:
        """Set the header as a person would (tests seed a store through this, as for local)."""
        with self._pool.connection() as conn:
            _save_header(conn, header)

    def ensure_schema(self, *, dry_run: bool = False) -> SchemaReport:
        with self._pool.connection() as conn, conn.transaction():
            conn.execute(_WRITE_LOCK)
            header = _header(conn)
            report = SchemaReport(added_columns=missing_columns(header))
            if not dry_run and report.added_columns:
                _save_header(conn, header + report.added_columns)
            # Rows always get a hub_id on insert, so there is nothing to assign here.
            return report

    # --- reading ----------------------------------------------------------------------------
    def _iter_rows(self) -> Iterator[Row]:
        # A server-side cursor streams the table: picking 100 rows of 200k never loads them all.
        with self._pool.connection() as conn, conn.transaction():
            cursor = conn.cursor(name="prospect_rows")
            cursor.itersize = _DECODE_BATCH
            cursor.execute("SELECT data FROM prospects ORDER BY pos")
            while batch := cursor.fetchmany(_DECODE_BATCH):
                yield from decode_rows(data for (data,) in batch)
            cursor.close()

    def rows(self) -> list[Row]:
        sharer = CellSharer()
        return [sharer.share_row(row) for row in self._iter_rows()]

    def get(self, hub_id: str) -> Row | None:
        with self._pool.connection() as conn:
            found = conn.execute(
                "SELECT data FROM prospects WHERE hub_id = %s", (hub_id,)
            ).fetchone()
        return json.loads(found[0]) if found else None

    def select(self, predicate: Callable[[Row], bool], limit: int | None = None) -> list[Row]:
        picked: list[Row] = []
        sharer = CellSharer()
        rows = self._iter_rows()
        try:
            for row in rows:
                if predicate(row):
                    picked.append(sharer.share_row(row))
                    if limit is not None and len(picked) >= limit:
                        break
        finally:
            rows.close()  # ends the cursor's transaction and returns the connection now
        return picked

    def count_by_status(self) -> dict[str, int]:
        with self._pool.connection() as conn:
            found = conn.execute(
                "SELECT outreach_status, COUNT(*) FROM prospects GROUP BY outreach_status"
            ).fetchall()
        counts: dict[str, int] = {}
        for status, count in found:  # a blank status reads as pending: add, don't overwrite
            key = status or "pending"
            counts[key] = counts.get(key, 0) + count
        return counts

    def domains(self) -> set[str]:
        with self._pool.connection() as conn:
            return {d for (d,) in conn.execute("SELECT domain FROM prospects") if d}

    # --- writing ----------------------------------------------------------------------------
    def append(
        self, rows: Iterable[Mapping[str, object]], *, dedupe_by_domain: bool = True
    ) -> AppendReport:
        rows = list(rows)
        wanted = {normalise_domain(str(r.get("domain") or r.get("page_url") or "")) for r in rows}
        wanted.discard("")
        with self._pool.connection() as conn, conn.transaction():
            # Under the lock no other process can add one of these domains until we commit.
            conn.execute(_WRITE_LOCK)
            present = {
                d
                for (d,) in conn.execute(
                    "SELECT DISTINCT domain FROM prospects WHERE domain = ANY(%s)", (list(wanted),)
                )
            }
            fresh, skipped = prepare_new_rows(rows, present, dedupe_by_domain=dedupe_by_domain)
            _save_header(conn, header_with_new_columns(_header(conn) or list(HUB_COLUMNS), fresh))
            with conn.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO prospects(hub_id, domain, outreach_status, data) "
                    "VALUES (%s, %s, %s, %s)",
                    [stored_record(row) for row in fresh],
                )
        return AppendReport(added=[row["hub_id"] for row in fresh], duplicates=skipped)

    def update(self, changes: Mapping[str, Mapping[str, object]]) -> WriteReport:
        report = WriteReport()
        if not changes:
            return report
        now = utc_now_text()
        with self._pool.connection() as conn, conn.transaction():
            found = dict(
                conn.execute(
                    # Sorted ids: two processes locking overlapping rows take them in one order.
                    "SELECT hub_id, data FROM prospects WHERE hub_id = ANY(%s) "
                    "ORDER BY hub_id FOR UPDATE",
                    (sorted(changes),),
                ).fetchall()
            )
            written: list[tuple[str, Row]] = []
            for hub_id, wanted in changes.items():
                if hub_id not in found:
                    report.missing.append(hub_id)
                    continue
                current: Row = json.loads(found[hub_id])
                allowed = writable_changes(current, wanted)
                kept = [c for c in wanted if c not in allowed]
                if kept:
                    report.protected[hub_id] = kept
                if not allowed:
                    continue
                current.update(allowed)
                current["updated_at"] = now
                written.append((hub_id, current))
                report.written.append(hub_id)
            _write_rows(conn, written)
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
        with self._pool.connection() as conn, conn.transaction():
            conn.execute(_WRITE_LOCK)  # the header may grow: one writer of it at a time
            header = _header(conn) or list(HUB_COLUMNS)
            widened = header_with_new_columns(header, cleaned.values())
            if widened != header:
                _save_header(conn, widened)
            found = dict(
                conn.execute(
                    "SELECT hub_id, data FROM prospects WHERE hub_id = ANY(%s) "
                    "ORDER BY hub_id FOR UPDATE",
                    (sorted(cleaned),),
                ).fetchall()
            )
            written: list[tuple[str, Row]] = []
            for hub_id, wanted in cleaned.items():
                if hub_id not in found:
                    report.missing.append(hub_id)
                    continue
                current: Row = json.loads(found[hub_id])
                changes = plan_row(current, wanted, unmodified_since, report)
                if changes is None:
                    continue
                current.update({c: after for c, (_, after) in changes.items()})
                current["updated_at"] = now
                written.append((hub_id, current))
                report.changed[hub_id] = changes
            _write_rows(conn, written)
        return report

    def delete(self, hub_id: str) -> bool:
        """Remove a row, as a person deleting it from the sheet would (used by tests)."""
        with self._pool.connection() as conn:
            cur = conn.execute("DELETE FROM prospects WHERE hub_id = %s", (hub_id,))
        return cur.rowcount > 0

    def human_edit(self, hub_id: str, column: str, value: str) -> None:
        """Set a cell as a person would, bypassing the hub's ownership rules (tests, CSV)."""
        with self._pool.connection() as conn, conn.transaction():
            found = conn.execute(
                "SELECT data FROM prospects WHERE hub_id = %s FOR UPDATE", (hub_id,)
            ).fetchone()
            if found is None:
                raise KeyError(hub_id)
            row = json.loads(found[0])
            row[column] = value
            _write_rows(conn, [(hub_id, row)])

    def close(self) -> None:
        self._pool.close()


def _header(conn: psycopg.Connection) -> list[str]:
    found = conn.execute("SELECT value FROM prospect_meta WHERE key = 'header'").fetchone()
    return json.loads(found[0]) if found else []


def _save_header(conn: psycopg.Connection, header: list[str]) -> None:
    conn.execute(
        "INSERT INTO prospect_meta(key, value) VALUES ('header', %s) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (json.dumps(header),),
    )


def _write_rows(conn: psycopg.Connection, rows: list[tuple[str, Row]]) -> None:
    """Store whole rows, keeping the indexed copies of domain and status in step."""
    if not rows:
        return
    with conn.cursor() as cursor:
        cursor.executemany(
            "UPDATE prospects SET domain = %s, outreach_status = %s, data = %s WHERE hub_id = %s",
            [(*stored_record(row)[1:], hub_id) for hub_id, row in rows],
        )
