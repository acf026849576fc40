"""A person's edits (API, status page, CLI) written to the Google Sheet.

As for the hub's own results (``sheets/google.py``), every attempt first re-reads, in one
``values.batchGet``, the header, the ``hub_id`` column and the columns the edit and its rules
look at, so the edit lands on the row that has that ``hub_id`` *now* (a person may have sorted
the sheet meanwhile) and is judged against the row's current status and ``updated_at``; then
ONE ``values.batchUpdate`` (RAW) writes it. A retried attempt repeats the re-read.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from threading import RLock
from typing import Any

from sheets.cells import BadCell
from sheets.columns import HUB_COLUMNS
from sheets.google_client import write_raw
from sheets.google_ranges import a1_ranges
from sheets.human_edits import EditRefused, EditReport, clean_edit, plan_row
from sheets.store import utc_now_text

# What plan_row() needs besides the edited columns.
_RULE_COLUMNS = ("hub_id", "outreach_status", "updated_at")


class SheetEditsMixin:
    """``GoogleSheetStore.edit``: the store inherits it (one class, two modules by concept)."""

    # provided by sheets.google.GoogleSheetStore
    _lock: RLock
    _header: list[str] | None
    _http: Any
    _sheet: str
    spreadsheet_id: str
    chunk_rows: int
    _require_columns: Any
    _read_columns: Any
    _run: Any

    def edit(
        self,
        edits: Mapping[str, Mapping[str, object]],
        *,
        unmodified_since: datetime | None = None,
    ) -> EditReport:
        cleaned = {hub_id: clean_edit(wanted) for hub_id, wanted in edits.items()}
        columns = list(dict.fromkeys(c for wanted in cleaned.values() for c in wanted))
        report = EditReport()
        with self._lock:
            self._require_columns(columns)  # a hub column a person deleted comes back first
            header = self._header or []
            unknown = [c for c in columns if c not in HUB_COLUMNS and c not in header]
            if unknown:
                why = "there is no such column in the sheet: add it to the header row first"
                raise EditRefused([BadCell(c, why) for c in unknown])
            ids = list(cleaned)
            for start in range(0, len(ids), self.chunk_rows):
                chunk = ids[start : start + self.chunk_rows]
                planned: dict[str, dict[str, tuple[str, str]]] = {}
                part = self._run(
                    "write edits",
                    lambda c=chunk, p=planned: self._edit_chunk(
                        c, cleaned, columns, unmodified_since, p
                    ),
                )
                report.changed.update(part.changed)
                report.unchanged += part.unchanged
                report.missing += part.missing
                report.stale.update(part.stale)
                report.refused.update(part.refused)
        return report

    def _edit_chunk(
        self,
        ids: list[str],
        cleaned: Mapping[str, Mapping[str, str]],
        columns: list[str],
        unmodified_since: datetime | None,
        planned: dict[str, dict[str, tuple[str, str]]],
    ) -> EditReport:
        """One attempt. ``planned`` outlives attempts: a row an earlier attempt wrote (whose
        answer was lost) reads back as already edited, and still counts as changed."""
        report = EditReport()
        header, cols = self._read_columns([*_RULE_COLUMNS, *columns])
        position = {name: i for i, name in reversed(list(enumerate(header))) if name}
        row_of: dict[str, int] = {}
        for number, hub_id in enumerate(cols.get("hub_id", []), start=2):
            row_of.setdefault(hub_id, number)
        now = utc_now_text()
        cells: list[tuple[int, int, str]] = []
        for hub_id in ids:
            number = row_of.get(hub_id) if hub_id else None
            if number is None:
                report.missing.append(hub_id)
                continue
            current = {c: _at(cols.get(c, []), number - 2) for c in (*_RULE_COLUMNS, *columns)}
            changes = plan_row(current, cleaned[hub_id], unmodified_since, report)
            if changes is None:
                if hub_id in report.unchanged and hub_id in planned:
                    report.unchanged.remove(hub_id)
                    report.changed[hub_id] = planned[hub_id]
                continue
            planned[hub_id] = changes
            cells += [(number, position[c], after) for c, (_, after) in changes.items()]
            if "updated_at" in position:
                cells.append((number, position["updated_at"], now))
            report.changed[hub_id] = changes
        write_raw(self._http, self.spreadsheet_id, a1_ranges(self._sheet, cells))
        return report


def _at(column: list[str], index: int) -> str:
    return column[index] if 0 <= index < len(column) else ""
