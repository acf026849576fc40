"""The Sheets v4 methods themselves: what each request does to the grid and what it answers.

Response bodies follow the recorded gspread cassettes in ``tests/fixtures/real/sheets_*.json``
(``updatedRange`` without quotes for plain titles, ``updates{...}`` for append, ``valueRanges``
for batchGet, ``responses`` + ``totalUpdated*`` for batchUpdate). A batch is validated whole
before anything is written, so a bad range in it changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tests.emulators.sheets_grid import (
    Cell,
    GridRange,
    RangeError,
    Worksheet,
    a1,
    parse_user_entered,
    resolve,
    split_sheet,
)

if TYPE_CHECKING:
    from tests.emulators.sheets_api import SheetsEmulator, Spreadsheet

_METADATA_PROPERTIES = {
    "locale": "en_US",
    "autoRecalc": "ON_CHANGE",
    "timeZone": "Etc/GMT",
}
_INPUT_OPTIONS = ("RAW", "USER_ENTERED")


class SheetsValues:
    def __init__(self, emulator: SheetsEmulator):
        self.emulator = emulator

    def serves(self, method: str) -> bool:
        """Whether the emulator carries out ``method`` (``"values.append"``)."""
        return bool(method) and hasattr(self, "_" + method.replace(".", "_"))

    def handle(
        self,
        method: str,
        book: Spreadsheet,
        range_text: str,
        query: Mapping[str, str],
        payload: dict[str, Any],
    ) -> tuple[int, dict]:
        handler = getattr(self, "_" + method.replace(".", "_"))
        return handler(book, range_text, query, payload)

    # --- metadata -----------------------------------------------------------------------------
    def _spreadsheets_get(self, book, range_text, query, payload):
        return 200, {
            "spreadsheetId": book.spreadsheet_id,
            "properties": {"title": book.title, **_METADATA_PROPERTIES},
            "sheets": [{"properties": sheet.properties()} for sheet in book.sheets],
            "spreadsheetUrl": f"https://docs.google.com/spreadsheets/d/{book.spreadsheet_id}/edit",
        }

    def _spreadsheets_batchUpdate(self, book, range_text, query, payload):
        requests = payload.get("requests") or []
        replies = [self._structure(book, request) for request in _checked(requests)]
        return 200, {"spreadsheetId": book.spreadsheet_id, "replies": replies}

    def _structure(self, book: Spreadsheet, request: dict) -> dict:
        (kind, spec), *_ = request.items()
        if kind == "addSheet":
            props = spec.get("properties", {})
            grid = props.get("gridProperties", {})
            if any(s.title == props.get("title") for s in book.sheets):
                raise RangeError(
                    f'Invalid requests[0].addSheet: A sheet with the name "{props.get("title")}" '
                    "already exists. Please enter another name."
                )
            new_id = max(s.sheet_id for s in book.sheets) + 1 if book.sheets else 0
            sheet = Worksheet(
                props.get("sheetId", new_id),
                props.get("title") or f"Sheet{len(book.sheets) + 1}",
                len(book.sheets),
                grid.get("rowCount", 1000),
                grid.get("columnCount", 26),
            )
            book.sheets.append(sheet)
            return {"addSheet": {"properties": sheet.properties()}}
        if kind == "appendDimension":
            sheet = _by_id(book, spec["sheetId"])
            if spec["dimension"] == "ROWS":
                sheet.row_count += int(spec["length"])
            else:
                sheet.column_count += int(spec["length"])
            return {}
        if kind in ("insertDimension", "deleteDimension"):
            span = spec["range"]
            sheet = _by_id(book, span["sheetId"])
            start, end = int(span["startIndex"]), int(span["endIndex"])
            if span["dimension"] != "ROWS":
                raise RangeError(f"{kind} on columns is not emulated")
            if kind == "insertDimension":
                sheet.insert_rows(start, end - start)
            else:
                sheet.delete_rows(start, end - start)
            return {}
        if kind == "updateSheetProperties":
            props = spec["properties"]
            sheet = _by_id(book, props["sheetId"])
            grid = props.get("gridProperties", {})
            sheet.row_count = grid.get("rowCount", sheet.row_count)
            sheet.column_count = grid.get("columnCount", sheet.column_count)
            sheet.title = props.get("title", sheet.title)
            return {}
        raise RangeError(f"Invalid requests[0]: {kind} is not supported by the emulator")

    # --- reading -----------------------------------------------------------------------------
    def _value_range(self, book, range_text, query) -> dict:
        sheet, area = resolve(range_text, book.sheets)
        option = query.get("valueRenderOption", "FORMATTED_VALUE")
        values = sheet.read(area, option)
        if query.get("majorDimension", "ROWS") == "COLUMNS":
            width = max((len(line) for line in values), default=0)
            values = [[line[c] if c < len(line) else "" for line in values] for c in range(width)]
        found: dict[str, Any] = {"range": a1(sheet, area), "majorDimension": "ROWS"}
        if query.get("majorDimension") == "COLUMNS":
            found["majorDimension"] = "COLUMNS"
        if values:
            found["values"] = values
        return found

    def _values_get(self, book, range_text, query, payload):
        return 200, self._value_range(book, range_text, query)

    def _values_batchGet(self, book, range_text, query, payload):
        ranges = query.getlist("ranges") if hasattr(query, "getlist") else query.get("ranges", [])
        return 200, {
            "spreadsheetId": book.spreadsheet_id,
            "valueRanges": [self._value_range(book, text, query) for text in ranges],
        }

    # --- writing -----------------------------------------------------------------------------
    def _plan(self, book, range_text, values, major="ROWS"):
        """Check one write and return (sheet, written area, values); raises before writing."""
        if not isinstance(values, list) or not all(isinstance(v, list) for v in values):
            raise RangeError(
                "Invalid value at 'data.values' (type.googleapis.com/google.protobuf.ListValue), "
                f'"{values}"'
            )
        if major == "COLUMNS":
            width = max((len(v) for v in values), default=0)
            values = [[v[r] if r < len(v) else None for v in values] for r in range(width)]
        sheet, area = resolve(range_text, book.sheets)
        rows = len(values)
        cols = max((len(v) for v in values), default=0)
        if ":" not in split_sheet(range_text.strip())[1]:
            # A single cell (or a bare sheet name) is only the anchor: the data decides the size,
            # as in the recorded PUT of 2x3 values to "...!A1" answering updatedRange A1:C2.
            if area.row0 + rows > sheet.row_count or area.col0 + cols > sheet.column_count:
                raise RangeError(
                    f"Range ({range_text}) exceeds grid limits. Max rows: {sheet.row_count}, "
                    f"max columns: {sheet.column_count}"
                )
            area = GridRange(area.row0, sheet.row_count, area.col0, sheet.column_count)
        if rows > area.rows or cols > area.cols:
            raise RangeError(
                f"Requested writing within range [{range_text}], but tried writing to "
                f"{'row' if rows > area.rows else 'column'} "
                f"[{area.row0 + rows if rows > area.rows else area.col0 + cols}]"
            )
        return sheet, GridRange(area.row0, area.row0 + rows, area.col0, area.col0 + cols), values

    @staticmethod
    def _write(sheet: Worksheet, area: GridRange, values, option: str) -> int:
        written = 0
        for r, line in enumerate(values):
            for c, value in enumerate(line):
                if value is None:  # null leaves the cell as it is (Sheets API semantics)
                    continue
                if value == "":
                    cell = None
                else:
                    cell = parse_user_entered(value) if option == "USER_ENTERED" else Cell(value)
                sheet.set(area.row0 + r, area.col0 + c, cell)
                written += 1
        return written

    def _updated(self, book, sheet, area, cells) -> dict:
        return {
            "spreadsheetId": book.spreadsheet_id,
            "updatedRange": a1(sheet, area),
            "updatedRows": area.rows,
            "updatedColumns": area.cols,
            "updatedCells": cells,
        }

    def _values_update(self, book, range_text, query, payload):
        option = _input_option(query.get("valueInputOption"))
        sheet, area, values = self._plan(
            book, range_text, payload.get("values"), payload.get("majorDimension") or "ROWS"
        )
        cells = self._write(sheet, area, values, option)
        return 200, self._updated(book, sheet, area, cells)

    def _values_batchUpdate(self, book, range_text, query, payload):
        option = _input_option(payload.get("valueInputOption"))
        plans = [
            self._plan(
                book, item["range"], item.get("values"), item.get("majorDimension") or "ROWS"
            )
            for item in payload.get("data") or []
        ]
        responses = [
            self._updated(book, sheet, area, self._write(sheet, area, values, option))
            for sheet, area, values in plans
        ]
        return 200, {
            "spreadsheetId": book.spreadsheet_id,
            "totalUpdatedRows": sum(r["updatedRows"] for r in responses),
            "totalUpdatedColumns": max((r["updatedColumns"] for r in responses), default=0),
            "totalUpdatedCells": sum(r["updatedCells"] for r in responses),
            "totalUpdatedSheets": len({id(plan[0]) for plan in plans}),
            "responses": responses,
        }

    def _values_append(self, book, range_text, query, payload):
        """Rows go after the last row of the table found in the range (``INSERT_ROWS`` inserts
        them, moving what is below; ``OVERWRITE`` writes over the empty rows there)."""
        option = _input_option(query.get("valueInputOption"))
        values = payload.get("values")
        if (
            not isinstance(values, list)
            or not values
            or not all(isinstance(v, list) for v in values)
        ):
            raise RangeError(
                "Invalid value at 'data.values' (type.googleapis.com/google.protobuf.ListValue), "
                f'"{values}"'
            )
        sheet, area = resolve(range_text, book.sheets)
        last = sheet.used_rows()
        rows = len(values)
        cols = max(len(v) for v in values)
        if area.col0 + cols > sheet.column_count:
            raise RangeError(
                f"Range ({range_text}) exceeds grid limits. Max rows: {sheet.row_count}, "
                f"max columns: {sheet.column_count}"
            )
        answer: dict[str, Any] = {"spreadsheetId": book.spreadsheet_id}
        if last:
            used = GridRange(area.row0, last, area.col0, sheet.column_count)
            width = max((len(line) for line in sheet.read(used)), default=1)
            answer["tableRange"] = a1(
                sheet, GridRange(area.row0, last, area.col0, area.col0 + width)
            )
        if query.get("insertDataOption", "OVERWRITE") == "INSERT_ROWS":
            sheet.insert_rows(last, rows)
        elif last + rows > sheet.row_count:
            sheet.row_count = last + rows  # Sheets adds the rows an append needs
        target = GridRange(last, last + rows, area.col0, area.col0 + cols)
        _, target, values = self._plan(book, a1(sheet, target), values)
        cells = self._write(sheet, target, values, option)
        answer["updates"] = self._updated(book, sheet, target, cells)
        return 200, answer

    def _values_clear(self, book, range_text, query, payload):
        sheet, area = resolve(range_text, book.sheets)
        for r in range(area.row0, min(area.row1, len(sheet.grid))):
            for c in range(area.col0, area.col1):
                if sheet.get(r, c) is not None:
                    sheet.set(r, c, None)
        return 200, {"spreadsheetId": book.spreadsheet_id, "clearedRange": a1(sheet, area)}

    def _values_batchClear(self, book, range_text, query, payload):
        cleared = [self._values_clear(book, text, query, {})[1] for text in payload["ranges"]]
        return 200, {
            "spreadsheetId": book.spreadsheet_id,
            "clearedRanges": [c["clearedRange"] for c in cleared],
        }


def _input_option(value: str | None) -> str:
    if value not in _INPUT_OPTIONS:
        if not value:
            raise RangeError("'valueInputOption' is required but not specified")
        raise RangeError(f"Invalid value at 'value_input_option' ({value})")
    return value


def _by_id(book: Spreadsheet, sheet_id: int) -> Worksheet:
    for sheet in book.sheets:
        if sheet.sheet_id == int(sheet_id):
            return sheet
    raise RangeError(f"No grid with id: {sheet_id}")


def _checked(requests: list) -> list[dict]:
    for request in requests:
        if not isinstance(request, dict) or len(request) != 1:
            raise RangeError("Invalid requests: each request must set exactly one kind")
    return requests
