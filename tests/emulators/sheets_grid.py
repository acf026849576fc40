"""The data model behind the Sheets v4 emulator: worksheets as grids of cells, A1 ranges.

Kept apart from the HTTP layer (``sheets_api.py``) so the range rules can be read at once:

- ``'My Sheet'!A1:C3`` (quotes doubled inside), ``Sheet1!A:A`` (whole columns), ``1:1`` (whole
  rows), ``A2:C`` (open-ended), a bare sheet title (the whole grid) and a bare range (the first
  sheet). Open bounds stop at the grid; explicit bounds past the grid are a 400, as in Sheets.
- A cell holds a value and, when it was entered as ``=...`` with ``USER_ENTERED``, a formula.
  ``RAW`` never makes a formula: ``=IMPORTXML(...)`` stays text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

CellValue = str | int | float | bool


class RangeError(ValueError):
    """A range Sheets would refuse with 400 INVALID_ARGUMENT; the message is Google's wording."""


@dataclass
class Cell:
    value: CellValue
    formula: str | None = None


@dataclass
class GridRange:
    """Zero-based, end-exclusive, clipped to the grid."""

    row0: int
    row1: int
    col0: int
    col1: int

    @property
    def rows(self) -> int:
        return self.row1 - self.row0

    @property
    def cols(self) -> int:
        return self.col1 - self.col0


@dataclass
class Worksheet:
    sheet_id: int
    title: str
    index: int
    row_count: int = 1000
    column_count: int = 26
    grid: list[list[Cell | None]] = field(default_factory=list)

    # --- cells ----------------------------------------------------------------------------
    def get(self, row: int, col: int) -> Cell | None:
        if row < len(self.grid) and col < len(self.grid[row]):
            return self.grid[row][col]
        return None

    def set(self, row: int, col: int, cell: Cell | None) -> None:
        while len(self.grid) <= row:
            self.grid.append([])
        line = self.grid[row]
        while len(line) <= col:
            line.append(None)
        line[col] = cell

    def used_rows(self) -> int:
        """Number of rows up to the last one holding any value."""
        for index in range(len(self.grid) - 1, -1, -1):
            if any(cell is not None and cell.value != "" for cell in self.grid[index]):
                return index + 1
        return 0

    def render(self, row: int, col: int, option: str = "FORMATTED_VALUE") -> CellValue:
        cell = self.get(row, col)
        if cell is None:
            return ""
        if option == "FORMULA" and cell.formula is not None:
            return cell.formula
        if option == "UNFORMATTED_VALUE":
            return cell.value
        return format_value(cell.value)

    def read(self, area: GridRange, option: str = "FORMATTED_VALUE") -> list[list[CellValue]]:
        """Values as Sheets returns them: trailing empty rows and cells are left out."""
        out: list[list[CellValue]] = []
        for row in range(area.row0, min(area.row1, len(self.grid))):
            line = [self.render(row, col, option) for col in range(area.col0, area.col1)]
            while line and line[-1] == "":
                line.pop()
            out.append(line)
        while out and not out[-1]:
            out.pop()
        return out

    # --- structure (what a person or a batchUpdate does) ------------------------------------
    def insert_rows(self, at: int, count: int) -> None:
        while len(self.grid) < at:
            self.grid.append([])
        self.grid[at:at] = [[] for _ in range(count)]
        self.row_count += count

    def delete_rows(self, at: int, count: int) -> None:
        del self.grid[at : at + count]
        self.row_count -= min(count, max(self.row_count - at, 0))

    def properties(self) -> dict:
        return {
            "sheetId": self.sheet_id,
            "title": self.title,
            "index": self.index,
            "sheetType": "GRID",
            "gridProperties": {"rowCount": self.row_count, "columnCount": self.column_count},
        }


def format_value(value: CellValue) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def parse_user_entered(value: CellValue) -> Cell:
    """What typing ``value`` into a cell stores (numbers, booleans and formulas are parsed)."""
    if not isinstance(value, str):
        return Cell(value)
    if value.startswith("="):
        # The emulator does not calculate: a formula's value reads as the error Sheets shows
        # while it cannot compute (IMPORTXML cannot reach the internet here either).
        return Cell("#N/A", formula=value)
    if value.startswith("'"):
        return Cell(value[1:])
    if value.upper() in ("TRUE", "FALSE"):
        return Cell(value.upper() == "TRUE")
    if re.fullmatch(r"-?\d+", value):
        return Cell(int(value))
    if re.fullmatch(r"-?\d*\.\d+", value):
        return Cell(float(value))
    return Cell(value)


# --- A1 notation -------------------------------------------------------------------------------
_SIMPLE_TITLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_REF = re.compile(r"([A-Za-z]*)(\d*)")


def column_letters(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def column_index(letters: str) -> int:
    index = 0
    for char in letters.upper():
        index = index * 26 + ord(char) - 64
    return index - 1


def quote_title(title: str) -> str:
    # Google leaves plain titles bare (``Sheet1!A1:D1``) unless they could be read as a cell.
    if _SIMPLE_TITLE.fullmatch(title) and not re.fullmatch(r"[A-Za-z]{1,3}\d+", title):
        return title
    return "'" + title.replace("'", "''") + "'"


def a1(sheet: Worksheet, area: GridRange) -> str:
    start = f"{column_letters(area.col0)}{area.row0 + 1}"
    end = f"{column_letters(area.col1 - 1)}{area.row1}"
    return f"{quote_title(sheet.title)}!{start}:{end}"


def split_sheet(text: str) -> tuple[str | None, str]:
    """``'It''s'!A1`` -> ("It's", "A1"); ``A1`` or ``Sheet1`` -> (None, text)."""
    if text.startswith("'"):
        index, name = 1, []
        while index < len(text):
            char = text[index]
            if char == "'":
                if text[index + 1 : index + 2] == "'":
                    name.append("'")
                    index += 2
                    continue
                rest = text[index + 1 :]
                if rest and not rest.startswith("!"):
                    raise RangeError(f"Unable to parse range: {text}")
                return "".join(name), rest[1:]
            name.append(char)
            index += 1
        raise RangeError(f"Unable to parse range: {text}")
    if "!" in text:
        name, rest = text.rsplit("!", 1)
        return name, rest
    return None, text


_CELL_REF = re.compile(r"(?:[A-Za-z]*\d*|R\d*C\d*)(?::(?:[A-Za-z]*\d*|R\d*C\d*))?", re.IGNORECASE)


def unquoted_title(text: str) -> str | None:
    """The sheet name of an A1 range that needs single quotes and has none, else None.

    Sheets' A1 notation: "Single quotes are required for sheet names with spaces, special
    characters, or an alphanumeric combination" (``'My Sheet'!A1``; developers.google.com/
    sheets/api/guides/concepts#cell). A name may go bare where Google's own answers write it
    bare (:func:`quote_title`): ``Sheet1!A1``, ``Sheet1``.

    Stricter than Google was once seen to be: gspread's 2023 cassettes
    (``tests/fixtures/real/sheets_values_update_and_get.json``) sent ``🌵 test_values_get 1!A1``
    bare and got a 200. The guide is followed anyway: a product that quotes works either way.
    """
    text = text.strip()
    if not text or text.startswith("'"):
        return None  # quoted (split_sheet checks the quoting itself)
    if "!" in text:
        title = text.rsplit("!", 1)[0]
    elif _CELL_REF.fullmatch(text):
        return None  # a range of the first sheet: A1, A1:B2, A:A, 1:1, R1C1
    else:
        title = text  # a bare sheet name means the whole sheet
    return None if quote_title(title) == title else title


def resolve(text: str, sheets: list[Worksheet]) -> tuple[Worksheet, GridRange]:
    """Find the sheet and the (clipped) grid area an A1 range names."""
    title, ref = split_sheet(text.strip())
    if title is None:
        by_title = {s.title: s for s in sheets}
        if ref in by_title:  # a bare sheet title means the whole sheet
            return by_title[ref], GridRange(
                0, by_title[ref].row_count, 0, by_title[ref].column_count
            )
        sheet = sheets[0]
    else:
        matches = [s for s in sheets if s.title == title]
        if not matches:
            raise RangeError(f"Unable to parse range: {text}")
        sheet = matches[0]
    if not ref:
        return sheet, GridRange(0, sheet.row_count, 0, sheet.column_count)
    return sheet, _area(ref, sheet, text)


def _area(ref: str, sheet: Worksheet, text: str) -> GridRange:
    first, _, second = ref.partition(":")
    a, b = _REF.fullmatch(first), _REF.fullmatch(second or first)
    if not a or not b or not (first and (a.group(1) or a.group(2))):
        raise RangeError(f"Unable to parse range: {text}")
    if not second and not (a.group(1) and a.group(2)):
        raise RangeError(f"Unable to parse range: {text}")
    col0 = column_index(a.group(1)) if a.group(1) else 0
    row0 = int(a.group(2)) - 1 if a.group(2) else 0
    col1 = column_index(b.group(1)) + 1 if b.group(1) else sheet.column_count
    row1 = int(b.group(2)) if b.group(2) else sheet.row_count
    if row0 < 0 or row1 <= row0 or col1 <= col0:
        raise RangeError(f"Unable to parse range: {text}")
    if row1 > sheet.row_count or col1 > sheet.column_count:
        raise RangeError(
            f"Range ({text}) exceeds grid limits. Max rows: {sheet.row_count}, "
            f"max columns: {sheet.column_count}"
        )
    return GridRange(row0, row1, col0, col1)
