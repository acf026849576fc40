"""The worksheet's header row and its migration to the hub's columns.

``migrate`` brings a sheet up to :data:`sheets.columns.HUB_COLUMNS` without touching a person's
cells: it adds the worksheet if it is missing, grows the grid when the header needs more
columns than it has (a write past the grid is a 400), appends the missing hub columns at the
end of the header and gives every non-empty row without a ``hub_id`` one. All cells go in one
RAW ``values.batchUpdate``; the caller retries the whole attempt.
"""

from __future__ import annotations

from gspread.http_client import HTTPClient
from gspread.utils import absolute_range_name

from sheets.columns import HUB_COLUMNS, missing_columns
from sheets.google_client import write_raw
from sheets.google_ranges import a1_ranges
from sheets.store import SchemaReport, new_hub_id


def header_of(values: list[list[str]]) -> list[str]:
    """The first line's cells, stripped, without the empty ones at the end."""
    header = [str(cell).strip() for cell in values[0]] if values else []
    while header and not header[-1]:
        header.pop()
    return header


def migrate(
    http: HTTPClient, spreadsheet_id: str, worksheet: str, *, dry_run: bool
) -> tuple[SchemaReport, list[str] | None]:
    """One attempt; returns the report and the header now on the sheet (None on a dry run)."""
    meta = http.fetch_sheet_metadata(spreadsheet_id)
    props = next(
        (s["properties"] for s in meta["sheets"] if s["properties"]["title"] == worksheet),
        None,
    )
    if props is None:
        if dry_run:
            return SchemaReport(added_columns=list(HUB_COLUMNS)), None
        props = _add_worksheet(http, spreadsheet_id, worksheet)
    sheet = absolute_range_name(worksheet)
    values = http.values_get(spreadsheet_id, sheet).get("values", [])
    header = header_of(values)
    report = SchemaReport(added_columns=missing_columns(header))
    new_header = header + report.added_columns
    id_col = new_header.index("hub_id")
    needs_id = [
        number
        for number, line in enumerate(values[1:], start=2)
        if any(cell != "" for cell in line) and not (line[id_col] if id_col < len(line) else "")
    ]
    report.ids_assigned = len(needs_id)
    if dry_run:
        return report, None
    grid_cols = props["gridProperties"]["columnCount"]
    if len(new_header) > grid_cols:  # grow the grid first, or the header write is a 400
        http.batch_update(
            spreadsheet_id,
            {"requests": [_append_columns(props["sheetId"], len(new_header) - grid_cols)]},
        )
    cells = [(1, len(header) + i, name) for i, name in enumerate(report.added_columns)]
    cells += [(number, id_col, new_hub_id()) for number in needs_id]
    write_raw(http, spreadsheet_id, a1_ranges(sheet, cells))
    return report, new_header


def _add_worksheet(http: HTTPClient, spreadsheet_id: str, worksheet: str) -> dict:
    grid = {"rowCount": 1000, "columnCount": len(HUB_COLUMNS)}
    request = {"addSheet": {"properties": {"title": worksheet, "gridProperties": grid}}}
    reply = http.batch_update(spreadsheet_id, {"requests": [request]})
    return reply["replies"][0]["addSheet"]["properties"]


def _append_columns(sheet_id: int, count: int) -> dict:
    return {"appendDimension": {"sheetId": sheet_id, "dimension": "COLUMNS", "length": count}}
