"""Google Sheets API v4, emulated for the real gspread + google-auth.

Serves ``spreadsheets.get``, ``spreadsheets.batchUpdate`` (addSheet, appendDimension,
insertDimension, deleteDimension, updateSheetProperties), ``values.get``, ``values.batchGet``,
``values.update``, ``values.batchUpdate``, ``values.append``, ``values.clear`` and
``values.batchClear``, answering in the shape of ``tests/fixtures/real/sheets_*.json``.

What it adds for tests:

- a bearer token issued by :class:`tests.emulators.google_oauth.OAuthEmulator` is required, and a
  spreadsheet can be shared with only some principals (403 ``PERMISSION_DENIED`` otherwise);
- per-user quotas, reads and writes counted apart (60 each per 60 s by default, configurable,
  with an injectable clock), answering Google's 429 ``RESOURCE_EXHAUSTED`` body;
- every request checked against ``sheets.v4.json`` (:mod:`tests.emulators.discovery_validator`)
  plus what Sheets' guides add: a sheet name with spaces or special characters quoted in A1
  ranges, at most 50,000 characters a cell, no object or list cells; a refusal is Google's 400
  ``INVALID_ARGUMENT`` and fails the test that caused it (tests/conftest.py); ``fields`` trims
  the answer (a partial response);
- a request log (``emu.log``) and counters (``emu.count("write")``, ``emu.served(429)``);
- faults for the next matching request: ``fail_next(503)``, ``fail_next(429, retry_after=2)``,
  ``delay_next(0.2)``, ``drop_next(after_processing=True)`` (the write happens, the answer is lost);
- human edits, directly (``sort_rows``, ``insert_rows``, ``delete_rows``, ``edit_cell``) or
  between any two requests (``before_next_request(fn, match="values.batchUpdate")``).

``match`` is a method name (``"values.batchGet"``), ``"read"``, ``"write"`` or None (any).
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.emulators.discovery_validator import (
    DiscoveryApi,
    RefusedRequest,
    Routed,
    Violation,
    error_body,
    query_pairs,
)
from tests.emulators.google_oauth import OAuthEmulator
from tests.emulators.sheets_grid import (
    Cell,
    GridRange,
    RangeError,
    Worksheet,
    column_index,
    parse_user_entered,
    unquoted_title,
)
from tests.emulators.sheets_values import SheetsValues

_FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "real"
READS = frozenset({"spreadsheets.get", "values.get", "values.batchGet"})
MAX_CELL_CHARACTERS = 50_000  # support.google.com/drive/answer/37603 ("Files you can store")
_A1_GUIDE = "developers.google.com/workspace/sheets/api/guides/concepts#cell"


def _a1_range(value, where: str):
    """A range (or list of ranges) whose sheet name needs quotes Google's parser requires."""
    for text in value if isinstance(value, list) else [value]:
        title = unquoted_title(text) if isinstance(text, str) else None
        if title is not None:
            yield Violation(
                where,
                f"Unable to parse range: {text}",
                f'sheets.v4.json: {where} is "The A1 notation or R1C1 notation" of a range '
                f"({_A1_GUIDE}): a sheet name with spaces or special characters goes in single "
                f"quotes, '{title.replace(chr(39), chr(39) * 2)}'!A1",
            )


def _cells(values, where: str):
    """Cells Sheets refuses: an object or list (the document: "For input, supported value types
    are: bool, string, and double") and text longer than a cell holds."""
    for r, line in enumerate(values if isinstance(values, list) else []):
        for c, cell in enumerate(line if isinstance(line, list) else []):
            at = f"{where}[{r}][{c}]"
            if isinstance(cell, dict | list):
                kind = "struct_value" if isinstance(cell, dict) else "list_value"
                yield Violation(
                    at,
                    f"Invalid values[{r}][{c}]: {kind} {json.dumps(cell)[:80]}",
                    'sheets.v4.json: ValueRange.values "For input, supported value types are: '
                    'bool, string, and double."',
                )
            elif isinstance(cell, str) and len(cell) > MAX_CELL_CHARACTERS:
                yield Violation(
                    at,
                    "Your input contains more than the maximum of 50000 characters in a single "
                    "cell.",
                    f"Google Sheets holds at most {MAX_CELL_CHARACTERS:,} characters in a cell; "
                    f"this one has {len(cell):,}",
                )


# What sheets.v4.json says only in prose, checked beside it. A ValueRange body is the request's
# `data` field: the recorded 400 for a bad one reads "Invalid value at 'data.values'".
SHEETS_API = DiscoveryApi.load(
    "sheets.v4",
    extra={
        "?range": _a1_range,
        "?ranges": _a1_range,
        "ValueRange.range": _a1_range,
        "BatchClearValuesRequest.ranges": _a1_range,
        "DataFilter.a1Range": _a1_range,
        "ValueRange.values": _cells,
    },
    body_fields={"ValueRange": "data"},
)


@dataclass
class Spreadsheet:
    spreadsheet_id: str
    title: str
    sheets: list[Worksheet]
    shared_with: set[str] | None = None  # None: every authenticated caller may use it

    def sheet(self, title: str | None = None) -> Worksheet:
        if title is None:
            return self.sheets[0]
        for sheet in self.sheets:
            if sheet.title == title:
                return sheet
        raise KeyError(title)


@dataclass
class LoggedRequest:
    method: str  # "values.batchUpdate"
    http_method: str
    path: str
    query: dict[str, list[str]]
    kind: str  # "read" | "write"
    principal: str = ""
    value_input_option: str | None = None
    status: int = 0
    at: float = 0.0  # the emulator's clock when the request arrived


@dataclass
class _Fault:
    match: str | None
    status: int | None = None
    retry_after: float | None = None
    delay: float = 0.0
    drop: bool = False
    after_processing: bool = True


@dataclass
class SheetsEmulator:
    oauth: OAuthEmulator
    read_quota: int = 60
    write_quota: int = 60
    quota_window: float = 60.0
    clock: Callable[[], float] = time.monotonic
    spreadsheets: dict[str, Spreadsheet] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.lock = threading.RLock()
        self.log: list[LoggedRequest] = []
        self._faults: list[_Fault] = []
        self._hooks: list[tuple[str | None, Callable[[SheetsEmulator], None]]] = []
        self._quota_hits: dict[tuple[str, str], list[float]] = {}
        self._ids = itertools.count(1)
        self._values = SheetsValues(self)
        self.app = Starlette(
            routes=[
                Route(
                    "/v4/spreadsheets/{rest:path}",
                    self._dispatch,
                    methods=["GET", "POST", "PUT"],
                )
            ]
        )

    # --- setting up ---------------------------------------------------------------------------
    def create_spreadsheet(
        self,
        sheets: dict[str, list[list[str]]] | None = None,
        *,
        spreadsheet_id: str | None = None,
        title: str = "Outreach prospects",
        rows: int = 1000,
        cols: int = 26,
        shared_with: set[str] | None = None,
    ) -> str:
        """A spreadsheet whose worksheets hold ``sheets`` (typed in as text); returns its id."""
        spreadsheet_id = spreadsheet_id or f"1EmuSheet{next(self._ids):04d}xYz"
        made = Spreadsheet(spreadsheet_id, title, [], shared_with)
        for index, (name, values) in enumerate((sheets or {"Sheet1": []}).items()):
            sheet = Worksheet(index, name, index, max(rows, len(values)), cols)
            for r, line in enumerate(values):
                sheet.column_count = max(sheet.column_count, len(line))
                for c, text in enumerate(line):
                    if text != "":
                        sheet.set(r, c, Cell(text))
            made.sheets.append(sheet)
        with self.lock:
            self.spreadsheets[spreadsheet_id] = made
        return spreadsheet_id

    # --- counters -----------------------------------------------------------------------------
    def count(self, kind: str | None = None) -> int:
        """Requests received (``kind``: "read", "write" or a method name)."""
        with self.lock:
            return sum(1 for r in self.log if kind in (None, r.kind, r.method))

    def served(self, status: int) -> int:
        with self.lock:
            return sum(1 for r in self.log if r.status == status)

    def reset_log(self) -> None:
        with self.lock:
            self.log.clear()

    # --- faults and human edits between requests ---------------------------------------------
    def fail_next(
        self, status: int, *, match: str | None = None, times: int = 1, retry_after=None
    ) -> None:
        with self.lock:
            self._faults += [_Fault(match, status=status, retry_after=retry_after)] * times

    def delay_next(self, seconds: float, *, match: str | None = None, times: int = 1) -> None:
        with self.lock:
            self._faults += [_Fault(match, delay=seconds)] * times

    def drop_next(
        self, *, match: str | None = None, times: int = 1, after_processing: bool = True
    ) -> None:
        """Close the connection mid-answer; with ``after_processing`` the change is applied."""
        with self.lock:
            self._faults += [_Fault(match, drop=True, after_processing=after_processing)] * times

    def before_next_request(
        self, fn: Callable[[SheetsEmulator], None], *, match: str | None = None
    ) -> None:
        """Run ``fn(emulator)`` (a person editing the sheet) just before the next match."""
        with self.lock:
            self._hooks.append((match, fn))

    def _take(self, items: list, method: str, kind: str):
        for index, item in enumerate(items):
            match = item[0] if isinstance(item, tuple) else item.match
            if match in (None, method, kind):
                return items.pop(index)
        return None

    # --- human edits (no quota, no log: a person in the browser) -------------------------------
    def _ws(self, sheet: str | None, spreadsheet_id: str | None) -> Worksheet:
        book = (
            self.spreadsheets[spreadsheet_id]
            if spreadsheet_id
            else next(iter(self.spreadsheets.values()))
        )
        return book.sheet(sheet)

    def _column(self, ws: Worksheet, column: str | int) -> int:
        if isinstance(column, int):
            return column
        header = [ws.render(0, c) for c in range(ws.column_count)]
        return header.index(column) if column in header else column_index(column)

    def sort_rows(
        self, column: str | int, *, reverse: bool = False, sheet=None, spreadsheet_id=None
    ) -> None:
        """Sort the data rows (below the header) by a column, as Data > Sort range does."""
        with self.lock:
            ws = self._ws(sheet, spreadsheet_id)
            col = self._column(ws, column)
            body = ws.grid[1 : ws.used_rows()]
            body.sort(key=lambda line: str(line[col].value if len(line) > col and line[col] else ""),
                      reverse=reverse)  # fmt: skip
            ws.grid[1 : 1 + len(body)] = body

    def insert_rows(
        self, at_row: int, values: list[list[str]], *, sheet=None, spreadsheet_id=None
    ) -> None:
        """Insert rows before 1-based ``at_row`` (everything below moves down)."""
        with self.lock:
            ws = self._ws(sheet, spreadsheet_id)
            ws.insert_rows(at_row - 1, len(values))
            for offset, line in enumerate(values):
                for c, text in enumerate(line):
                    if text != "":
                        ws.set(at_row - 1 + offset, c, Cell(text))

    def delete_rows(self, row: int, count: int = 1, *, sheet=None, spreadsheet_id=None) -> None:
        with self.lock:
            self._ws(sheet, spreadsheet_id).delete_rows(row - 1, count)

    def edit_cell(self, row: int, column: str | int, text: str, *, sheet=None, spreadsheet_id=None):
        """Type ``text`` into a cell (1-based row; column by header name, letters or index)."""
        with self.lock:
            ws = self._ws(sheet, spreadsheet_id)
            ws.set(row - 1, self._column(ws, column), parse_user_entered(text) if text else None)

    def cells(self, *, sheet=None, spreadsheet_id=None, option="FORMATTED_VALUE") -> list[list]:
        """The grid as a person sees it (trailing blanks trimmed), header row first."""
        with self.lock:
            ws = self._ws(sheet, spreadsheet_id)
            return ws.read(GridRange(0, ws.row_count, 0, ws.column_count), option)

    def cell(self, row: int, column: str | int, *, sheet=None, spreadsheet_id=None) -> Cell | None:
        with self.lock:
            ws = self._ws(sheet, spreadsheet_id)
            return copy.copy(ws.get(row - 1, self._column(ws, column)))

    def row_of(self, column: str, value: str, *, sheet=None, spreadsheet_id=None) -> int | None:
        """1-based row whose ``column`` holds ``value`` (e.g. find a hub_id)."""
        with self.lock:
            ws = self._ws(sheet, spreadsheet_id)
            col = self._column(ws, column)
            for row in range(ws.used_rows()):
                if ws.render(row, col) == value:
                    return row + 1
        return None

    # --- HTTP ------------------------------------------------------------------------------------
    async def _dispatch(self, request: Request) -> Response:
        raw = request.scope["raw_path"].decode("ascii")
        routed = SHEETS_API.route(request.method, raw)
        method = _method_name(routed)
        if routed is None or not self._values.serves(method):
            return _error(404, "NOT_FOUND", f"Method not found: {request.method} {raw}")
        kind = "read" if method in READS else "write"
        body = await request.body()
        query = {k: request.query_params.getlist(k) for k in request.query_params}
        entry = LoggedRequest(method, request.method, request.url.path, query, kind)
        entry.at = self.clock()
        entry.value_input_option = request.query_params.get("valueInputOption")
        if method == "values.batchUpdate" and body:
            entry.value_input_option = _json_or_none(body).get("valueInputOption")
        with self.lock:
            self.log.append(entry)
            hook = self._take(self._hooks, method, kind)
        if hook is not None:
            hook[1](self)
        response = await self._answer(request, entry, routed, body)
        entry.status = response.status_code
        return response

    async def _answer(self, request, entry, routed: Routed, body: bytes) -> Response:
        info = self.oauth.bearer_info(request)
        if info is None:
            return _error(
                401,
                "UNAUTHENTICATED",
                "Request had invalid authentication credentials. Expected OAuth 2 access token, "
                "login cookie or other valid authentication credential.",
            )
        entry.principal = info.principal
        query = query_pairs(request.scope.get("query_string", b""))
        try:
            payload = SHEETS_API.check(routed, query, body)
        except RefusedRequest as refused:
            return JSONResponse(error_body(refused), status_code=400)
        spreadsheet_id = routed.path_params["spreadsheetId"]
        range_text = routed.path_params.get("range", "")
        with self.lock:
            book = self.spreadsheets.get(spreadsheet_id)
            fault = self._take(self._faults, entry.method, entry.kind)
        if book is None:
            return _error(404, "NOT_FOUND", "Requested entity was not found.")
        if book.shared_with is not None and info.principal not in book.shared_with:
            return _error(403, "PERMISSION_DENIED", "The caller does not have permission")
        if fault is not None:
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.status is not None:
                return _fault_response(fault, entry.kind)
            if fault.drop and not fault.after_processing:
                return _Dropped()
        if not self._within_quota(info.principal, entry.kind):
            return _quota_response(entry.kind)
        try:
            with self.lock:
                status, answer = self._values.handle(
                    entry.method, book, range_text, request.query_params, payload
                )
        except RangeError as exc:
            return _error(400, "INVALID_ARGUMENT", str(exc))
        except (ValueError, KeyError, TypeError) as exc:
            return _error(400, "INVALID_ARGUMENT", f"Invalid request: {exc}")
        if fault is not None and fault.drop:
            return _Dropped()
        return JSONResponse(SHEETS_API.partial(routed, answer, query), status_code=status)

    def _within_quota(self, principal: str, kind: str) -> bool:
        """Sliding window per user and kind; a refused request does not use quota."""
        limit = self.read_quota if kind == "read" else self.write_quota
        now = self.clock()
        with self.lock:
            hits = self._quota_hits.setdefault((principal, kind), [])
            hits[:] = [t for t in hits if t > now - self.quota_window]
            if len(hits) >= limit:
                return False
            hits.append(now)
            return True


class _Dropped(Response):
    """Starts an answer and then breaks the connection (the client sees IncompleteRead)."""

    def __init__(self) -> None:
        super().__init__(status_code=200)

    async def __call__(self, scope, receive, send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"512")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"spreadsheetId', "more_body": True})
        raise ConnectionAbortedError("emulated dropped connection")


def _method_name(routed: Routed | None) -> str:
    """``sheets.spreadsheets.values.append`` -> ``values.append`` (the log's and handlers' name)."""
    if routed is None:
        return ""
    name = routed.method.id.removeprefix("sheets.")
    return name.removeprefix("spreadsheets.") if name.startswith("spreadsheets.values.") else name


def _json_or_none(body: bytes) -> dict:
    try:
        found = json.loads(body)
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _error(code: int, status: str, message: str, headers=None) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message, "status": status}},
        status_code=code,
        headers=headers,
    )


def _quota_response(kind: str) -> JSONResponse:
    # The recorded body names the write quota; a read over quota names the read quota.
    body = json.loads(
        (_FIXTURES / "sheets_error_429_rate_limit_exceeded_2021_reconstructed.json").read_text()
    )
    if kind == "read":
        body["error"]["message"] = body["error"]["message"].replace("Write", "Read")
        meta = body["error"]["details"][0]["metadata"]
        meta["quota_limit"] = "ReadRequestsPerMinutePerUser"
        meta["quota_metric"] = "sheets.googleapis.com/read_requests"
    return JSONResponse(body, status_code=429)


def _fault_response(fault: _Fault, kind: str) -> JSONResponse:
    headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else None
    if fault.status == 429:
        response = _quota_response(kind)
        if headers:
            response.headers.update(headers)
        return response
    statuses = {500: "INTERNAL", 502: "UNAVAILABLE", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}
    messages = {
        500: "Internal error encountered.",
        503: "The service is currently unavailable.",
        504: "The service is currently unavailable.",
    }
    code = fault.status or 500
    return _error(code, statuses.get(code, "UNKNOWN"), messages.get(code, "Backend Error"), headers)
