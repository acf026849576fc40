"""CSV import and export for any store.

Export neutralises spreadsheet formulas (OWASP CSV injection): a cell that starts with
``= + - @``, TAB or CR gets a leading apostrophe, so opening the file never runs anything.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from pathlib import Path

from sheets.store import AppendReport, ProspectStore

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


def read_csv_rows(path: str | Path) -> Iterator[dict[str, str]]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames:
            raise ValueError(f"{path}: the file has no header row")
        if "domain" not in reader.fieldnames and "page_url" not in reader.fieldnames:
            raise ValueError(
                f"{path}: needs a 'domain' or 'page_url' column; found {reader.fieldnames}"
            )
        for raw in reader:
            yield {k.strip(): (v or "").strip() for k, v in raw.items() if k}


def import_csv(
    store: ProspectStore,
    path: str | Path,
    *,
    batch_size: int = 500,
    on_batch: Callable[[int], None] = lambda n: None,
) -> AppendReport:
    """Append the file's rows in batches (one store append each), de-duplicated by domain."""
    total = AppendReport()
    batch: list[dict[str, str]] = []

    def flush() -> None:
        report = store.append(batch)
        total.added += report.added
        total.duplicates += report.duplicates
        on_batch(len(batch))
        batch.clear()

    for row in read_csv_rows(path):
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
