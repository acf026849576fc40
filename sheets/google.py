"""The Google Sheet backend: gspread 6 with a service account, RAW batched writes, paced calls.

How a write finds its row: every chunk of an ``update`` first re-reads (one
``values.batchGet``) the header row, the ``hub_id`` column and the columns the ownership rules
look at, maps ids to the row numbers they have *now*, and writes only what
:func:`sheets.columns.writable_changes` allows, in ONE ``values.batchUpdate``
(``valueInputOption=RAW``). A retried chunk repeats the re-read, so a backoff during which a
person sorted the sheet cannot send a result to the wrong row. An ``append`` that lost its answer
re-reads ``hub_id`` before trying again, so a row is never added twice.

The remaining window is the few milliseconds between that re-read and the write: the Sheets API
has no conditional write, so an edit in exactly that gap is not detected.

The connection (credentials, pacing, what a failed call means) is ``sheets/google_client.py``;
the header row and the schema migration are ``sheets/google_schema.py``.

Reading rows: ``rows``, ``select`` and ``get`` are one streamed ``values.get`` of the worksheet
(``sheets/google_stream.py``); each line becomes a dict keyed by the shared header strings as it
arrives and is dropped unless wanted, so a 200,000-row sheet never exists as text, as lists and
as dicts at once. A read that fails midway is retried from the start with nothing kept.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import gspread
from gspread.http_client import HTTPClient
from gspread.urls import SPREADSHEET_VALUES_URL
from gspread.utils import quote

from sheets.columns import HUB_COLUMNS, Row, normalise_domain, writable_changes
from sheets.google_auth import GOOGLE_SHEETS_URL
from sheets.google_client import (
    SCOPES,
    TIMEOUT,
    PacedHTTPClient,
    connect,
    failure_message,
    open_streamed_get,
    write_raw,
)
from sheets.google_edits import SheetEditsMixin
from sheets.google_ranges import a1_ranges, column_letters
from sheets.google_schema import header_of, migrate
from sheets.google_stream import CHUNK_BYTES, iter_array
from sheets.retry import RetryPolicy
from sheets.shared_cells import CellSharer
from sheets.store import (
    AppendReport,
    ProspectStore,
    SchemaReport,
    StoreError,
    WriteReport,
    prepare_new_rows,
    utc_now_text,
)

log = logging.getLogger(__name__)

# Columns whose current value writable_changes() needs to decide what may be written.
_GUARD_COLUMNS = ("outreach_status", "draft_subject", "draft_body", "contact_email")


class GoogleSheetStore(SheetEditsMixin, ProspectStore):
    backend_name = "google"

    def __init__(
        self,
        client: gspread.Client,
        spreadsheet_id: str,
        worksheet: str,
        *,
        chunk_rows: int = 500,
        retry: RetryPolicy | None = None,
        account_email: str = "",
    ):
        self._http: HTTPClient = client.http_client
        self.spreadsheet_id = spreadsheet_id
        self.worksheet = worksheet
        self.chunk_rows = chunk_rows
        self.retry = retry or RetryPolicy()
        self.account_email = account_email
        self._sheet = gspread.utils.absolute_range_name(worksheet)  # 'Prospects'
        self._header: list[str] | None = None
        self._lock = threading.RLock()

    @classmethod
    def from_settings(
        cls,
        settings: Any,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        window: float = 60.0,
    ) -> GoogleSheetStore:
        """Build from ``hub.config.Settings`` (duck-typed: ``sheets`` never imports ``hub``)."""
        client, account_email = connect(settings, clock=clock, sleep=sleep, window=window)
        return cls(
            client,
            settings.sheet_id,
            settings.worksheet,
            chunk_rows=settings.sheets_chunk_rows,
            retry=RetryPolicy(sleep=sleep),
            account_email=account_email,
        )

    def close(self) -> None:
        """Close pooled connections (a server shutting down otherwise waits for them)."""
        self._http.session.close()

    # --- plumbing -----------------------------------------------------------------------------
    def _run(self, what: str, operation: Callable[[], Any]) -> Any:
        """Run ``operation`` with retries; turn what is left into a StoreError that says why."""
        try:
            return self.retry.run(operation, what=what)
        except Exception as exc:
            message = failure_message(
                exc,
                what,
                spreadsheet_id=self.spreadsheet_id,
                worksheet=self.worksheet,
                account_email=self.account_email,
                attempts=self.retry.attempts,
            )
            if message is None:
                raise
            raise StoreError(message) from None

    def _get(self, a1: str) -> list[list[str]]:
        found = self._http.values_get(
            self.spreadsheet_id, f"{self._sheet}!{a1}" if a1 else self._sheet
        )
        return found.get("values", [])

    def _read_columns(self, names: Iterable[str]) -> tuple[list[str], dict[str, list[str]]]:
        """Header plus the named columns, in one batchGet (a second if columns moved)."""
        wanted = list(dict.fromkeys(names))
        if self._header is None:
            self._header = header_of(self._get("1:1"))
        for _ in range(2):
            header = self._header
            present = [n for n in wanted if n in header]
            ranges = [f"{self._sheet}!1:1"] + [
                f"{self._sheet}!{column_letters(header.index(n))}2:{column_letters(header.index(n))}"
                for n in present
            ]
            found = self._http.values_batch_get(self.spreadsheet_id, ranges)["valueRanges"]
            now = header_of(found[0].get("values", []))
            if all(now.index(n) == header.index(n) if n in now else False for n in present):
                self._header = now
                return now, {
                    n: [line[0] if line else "" for line in vr.get("values", [])]
                    for n, vr in zip(present, found[1:], strict=True)
                }
            self._header = now  # someone moved columns since we looked: map again
        raise StoreError("the header keeps changing while the hub reads it; try again")

    # --- schema -------------------------------------------------------------------------------
    def header(self) -> list[str]:
        with self._lock:
            self._header = self._run("read the header", lambda: header_of(self._get("1:1")))
            return list(self._header)

    def ensure_schema(self, *, dry_run: bool = False) -> SchemaReport:
        with self._lock:
            report, header = self._run(
                "check the header",
                lambda: migrate(self._http, self.spreadsheet_id, self.worksheet, dry_run=dry_run),
            )
            if header is not None:
                self._header = header
            return report

    def _require_columns(self, names: Iterable[str]) -> None:
        """A hub column a person deleted is put back (at the end) before writing to it."""
        if self._header is None:
            self._header = header_of(self._run("read the header", lambda: self._get("1:1")))
        if any(n in HUB_COLUMNS and n not in self._header for n in names):
            self.ensure_schema()

    # --- reading ------------------------------------------------------------------------------
    def rows(self) -> list[Row]:
        with self._lock:
            return self._run("read the sheet", self._read_rows)

    def select(self, predicate: Callable[[Row], bool], limit: int | None = None) -> list[Row]:
        with self._lock:
            return self._run("read the sheet", lambda: self._read_rows(predicate, limit))

    def get(self, hub_id: str) -> Row | None:
        if not hub_id:
            return None
        found = self.select(lambda row: row["hub_id"] == hub_id, limit=1)
        return found[0] if found else None

    def count_by_status(self) -> dict[str, int]:
        with self._lock:
            _, cols = self._run(
                "count rows", lambda: self._read_columns(["hub_id", "outreach_status"])
            )
        statuses = cols.get("outreach_status", [])
        counts: dict[str, int] = {}
        for index, hub_id in enumerate(cols.get("hub_id", [])):
            if hub_id:  # rows() skips a line without a hub_id, so counting does too
                status = _at(statuses, index) or "pending"
                counts[status] = counts.get(status, 0) + 1
        return counts

    def _read_rows(
        self, keep: Callable[[Row], bool] | None = None, limit: int | None = None
    ) -> list[Row]:
        """One attempt: stream the worksheet, keep rows with a hub_id that ``keep`` accepts.

        Row dicts use the header's strings as keys (one copy for all rows) and leave empty
        cells out (an empty cell reads as missing: ``row.get(col, "")``).
        """
        endpoint = SPREADSHEET_VALUES_URL % (self.spreadsheet_id, quote(self._sheet))
        # prettyPrint=false: Google's standard parameter; its default pretty-printed JSON puts
        # every cell on its own indented line (more bytes to receive and skip).
        response = open_streamed_get(self._http, endpoint, {"prettyPrint": "false"})
        try:
            lines = iter_array(response.iter_content(CHUNK_BYTES))
            self._header = header = header_of([next(lines, [])])
            leftmost = {name: i for i, name in reversed(list(enumerate(header))) if name}
            position = sorted(leftmost.items(), key=lambda item: item[1])  # header order
            found: list[Row] = []
            sharer = CellSharer()  # repeated statuses, scores, timestamps: one string each
            for line in lines:
                width = len(line)
                row = {n: line[i] for n, i in position if i < width and line[i] != ""}
                if row.get("hub_id") and (keep is None or keep(row)):
                    found.append(sharer.share_row(row))
                    if limit is not None and len(found) >= limit:
                        break
            return found
        finally:
            response.close()

    # --- writing ------------------------------------------------------------------------------
    def append(
        self, rows: Iterable[Mapping[str, object]], *, dedupe_by_domain: bool = True
    ) -> AppendReport:
        rows = list(rows)
        if not rows:
            return AppendReport()
        with self._lock:
            _, cols = self._run("read domains", lambda: self._read_columns(["domain"]))
            known = {normalise_domain(d) for d in cols.get("domain", []) if d}
            fresh, skipped = prepare_new_rows(rows, known, dedupe_by_domain=dedupe_by_domain)
            self._require_columns({c for row in fresh for c in row})
            for start in range(0, len(fresh), self.chunk_rows):
                self._append_chunk(fresh[start : start + self.chunk_rows])
        return AppendReport(added=[row["hub_id"] for row in fresh], duplicates=skipped)

    def _append_chunk(self, chunk: list[Row]) -> None:
        attempts = 0

        def once() -> None:
            nonlocal attempts
            attempts += 1
            todo = chunk
            if attempts > 1:  # the last try may have landed before its answer was lost
                _, cols = self._read_columns(["hub_id"])
                there = set(cols.get("hub_id", []))
                todo = [row for row in chunk if row["hub_id"] not in there]
                if not todo:
                    return
            header = self._header or []
            width = max(header.index(c) for row in todo for c in row if c in header) + 1
            values = [[row.get(name, "") for name in header[:width]] for row in todo]
            self._http.values_append(
                self.spreadsheet_id,
                f"{self._sheet}!A1",
                params={"valueInputOption": "RAW", "insertDataOption": "INSERT_ROWS"},
                body={"values": values},
            )

        self._run("append rows", once)

    def update(self, changes: Mapping[str, Mapping[str, object]]) -> WriteReport:
        report = WriteReport()
        if not changes:
            return report
        with self._lock:
            self._require_columns({c for wanted in changes.values() for c in wanted})
            ids = list(changes)
            for start in range(0, len(ids), self.chunk_rows):
                chunk = ids[start : start + self.chunk_rows]
                part = self._run("write results", lambda c=chunk: self._write_chunk(c, changes))
                report.written += part.written
                report.missing += part.missing
                report.protected.update(part.protected)
        if report.missing:
            log.warning("rows gone from the sheet, not written: %s", ", ".join(report.missing))
        return report

    def _write_chunk(self, ids: list[str], changes: Mapping[str, Mapping[str, object]]):
        """One attempt: re-read ids and guard columns, then one RAW batchUpdate."""
        report = WriteReport()
        header, cols = self._read_columns(["hub_id", *_GUARD_COLUMNS])
        position = {name: i for i, name in reversed(list(enumerate(header))) if name}
        row_of: dict[str, int] = {}
        for number, hub_id in enumerate(cols.get("hub_id", []), start=2):
            row_of.setdefault(hub_id, number)  # a copied row keeps the first one's results
        now = utc_now_text()
        cells: list[tuple[int, int, str]] = []
        for hub_id in ids:
            number = row_of.get(hub_id) if hub_id else None
            if number is None:
                report.missing.append(hub_id)
                continue
            current = {g: _at(cols.get(g, []), number - 2) for g in _GUARD_COLUMNS}
            allowed = writable_changes(current, changes[hub_id])
            kept = [c for c in changes[hub_id] if c not in allowed]
            if kept:
                report.protected[hub_id] = kept
            allowed = {k: v for k, v in allowed.items() if k in position}
            if not allowed:
                continue
            if "updated_at" in position:
                allowed["updated_at"] = now
            cells += [(number, position[k], v) for k, v in allowed.items()]
            report.written.append(hub_id)
        write_raw(self._http, self.spreadsheet_id, a1_ranges(self._sheet, cells))
        return report


def _at(column: list[str], index: int) -> str:
    return column[index] if 0 <= index < len(column) else ""


__all__ = ["GOOGLE_SHEETS_URL", "SCOPES", "TIMEOUT", "GoogleSheetStore", "PacedHTTPClient"]
