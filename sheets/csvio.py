"""CSV import and export for any store.

Import checks every line at the boundary (:mod:`sheets.cells`): a line whose ``domain`` (or,
without one, the host of its ``page_url``) is not a host name is refused and reported with its
line number and the reason; NUL bytes are dropped from every cell. Other cells are kept as the
person wrote them (a bad ``contact_email`` is held on its row by the enrich stage, naming it).

Export neutralises spreadsheet formulas (OWASP CSV injection): a cell that starts with
``= + - @``, TAB or CR gets a leading apostrophe, so opening the file never runs anything.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sheets.cells import BadCell, domain_from_cell
from sheets.store import AppendReport, ProspectStore

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


@dataclass(frozen=True)
class RefusedLine:
    line: int  # as a text editor numbers it (the header is line 1)
    reason: str  # names the column: "domain: '[::1]' is an IP address, not a host name"


@dataclass
class ImportReport(AppendReport):
    refused: list[RefusedLine] = field(default_factory=list)


def checked_line(row: dict[str, str]) -> dict[str, str]:
    """The line's cells with NUL bytes dropped and ``domain`` normalised; raises BadCell."""
    clean = {k: v.replace("\0", "") for k, v in row.items()}
    if (clean.get("domain") or "").strip() or not (clean.get("page_url") or "").strip():
        clean["domain"] = domain_from_cell(clean.get("domain", ""), "domain")
    else:
        clean["domain"] = domain_from_cell(clean["page_url"], "page_url")
    return clean


def read_csv_lines(path: str | Path) -> Iterator[tuple[int, dict[str, str] | BadCell]]:
    """``(line number, checked cells or why the line is refused)`` for every line."""
    for line, raw in read_csv_rows(path):
        try:
            yield line, checked_line(raw)
        except BadCell as exc:
            yield line, exc


def read_csv_rows(path: str | Path) -> Iterator[tuple[int, dict[str, str]]]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames:
            raise ValueError(f"{path}: the file has no header row")
        if "domain" not in reader.fieldnames and "page_url" not in reader.fieldnames:
            raise ValueError(
                f"{path}: needs a 'domain' or 'page_url' column; found {reader.fieldnames}"
            )
        for raw in reader:
            cells = {k.strip(): _text(v).strip() for k, v in raw.items() if k}
            yield reader.line_num, cells


def _text(value: object) -> str:
    # A line with more cells than the header gives a list under the None key (dropped above).
    return value if isinstance(value, str) else ""


def import_csv(
    store: ProspectStore,
    path: str | Path,
    *,
    batch_size: int = 500,
    on_batch: Callable[[int], None] = lambda n: None,
) -> ImportReport:
    """Append the file's good lines in batches (one store append each), de-duplicated by
    domain; the refused lines are in the report with their reasons."""
    total = ImportReport()
    batch: list[dict[str, str]] = []

    def flush() -> None:
        report = store.append(batch)
        total.added += report.added
        total.duplicates += report.duplicates
        on_batch(len(batch))
        batch.clear()

    for line, row in read_csv_lines(path):
        if isinstance(row, BadCell):
            total.refused.append(RefusedLine(line, str(row)))
            on_batch(1)
            continue
        batch.append(row)
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    return total


def export_csv(store: ProspectStore, path: str | Path) -> int:
    header = store.header()
    rows = store.rows()
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for row in rows:
            writer.writerow([neutralise(row.get(name, "")) for name in header])
    return len(rows)
