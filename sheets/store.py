"""The prospect store contract, shared by the Google Sheet and the local SQLite backends.

Both backends behave the same; ``tests/store_contract.py`` runs one suite against each.
The store is synchronous (gspread and sqlite3 are); async callers use ``asyncio.to_thread``.
"""

from __future__ import annotations

import abc
import json
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sheets.columns import Row, clip, normalise_domain
from sheets.human_edits import EditReport


def new_hub_id() -> str:
    """A short, stable, unguessable row key (never an e-mail address: it goes into URLs)."""
    return "h_" + uuid.uuid4().hex[:16]


def utc_now_text() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass
class SchemaReport:
    """What :meth:`ProspectStore.ensure_schema` did (or, with ``dry_run``, would do)."""

    added_columns: list[str] = field(default_factory=list)
    ids_assigned: int = 0


@dataclass
class WriteReport:
    """Outcome of a batched update: which rows were written and which were not, and why."""

    written: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # hub_id no longer in the store
    protected: dict[str, list[str]] = field(default_factory=dict)  # hub_id -> columns kept


@dataclass
class AppendReport:
    added: list[str] = field(default_factory=list)  # hub_ids of the new rows
    duplicates: list[str] = field(default_factory=list)  # normalised domains already present


class StoreError(Exception):
    """The store could not be read or written (after retries); the message says why."""


class StoreUnreachable(StoreError):
    """The store (or the sign-in it needs) did not answer: trying again later may work."""


class ProspectStore(abc.ABC):
    """Rows keyed by ``hub_id``; every column addressed by header name."""

    backend_name: str = "abstract"

    @abc.abstractmethod
    def ensure_schema(self, *, dry_run: bool = False) -> SchemaReport:
        """Append missing hub columns to the header (never reorder, never touch data) and
        give every row that lacks a ``hub_id`` a new one."""

    @abc.abstractmethod
    def header(self) -> list[str]:
        """Column names in their current order (hub and user columns)."""

    @abc.abstractmethod
    def rows(self) -> list[Row]:
        """Every row, in the order the user sees them. Rows without ``hub_id`` are skipped."""

    def get(self, hub_id: str) -> Row | None:
        for row in self.rows():
            if row.get("hub_id") == hub_id:
                return row
        return None

    def select(self, predicate: Callable[[Row], bool], limit: int | None = None) -> list[Row]:
        """Rows for which ``predicate`` holds, in sheet order, at most ``limit``."""
        picked: list[Row] = []
        for row in self.rows():
            if predicate(row):
                picked.append(row)
                if limit is not None and len(picked) >= limit:
                    break
        return picked

    @abc.abstractmethod
    def append(
        self, rows: Iterable[Mapping[str, object]], *, dedupe_by_domain: bool = True
    ) -> AppendReport:
        """Add rows in one batch. Each gets a ``hub_id``, ``created_at`` and ``updated_at``;
        with ``dedupe_by_domain`` a row whose normalised domain is already in the store (or
        earlier in the same batch) is skipped and reported."""

    @abc.abstractmethod
    def update(self, changes: Mapping[str, Mapping[str, object]]) -> WriteReport:
        """Write ``{hub_id: {column: value}}`` in one batch.

        Rows are located by ``hub_id`` immediately before writing, so results land on the
        right row however the user sorted, inserted or deleted rows meanwhile; a vanished row
        is reported in ``missing`` and nothing is written for it. Ownership rules of
        :func:`sheets.columns.writable_changes` apply; ``updated_at`` is set on written rows.
        """

    @abc.abstractmethod
    def edit(
        self,
        edits: Mapping[str, Mapping[str, object]],
        *,
        unmodified_since: datetime | None = None,
    ) -> EditReport:
        """Apply a person's edits ``{hub_id: {column: value}}`` (API, status page, CLI).

        Values are checked first by :func:`sheets.human_edits.clean_edit` (hub-owned column
        or bad value: ``EditRefused``, nothing written). Each row is then located by
        ``hub_id`` and re-read right before writing; a row changed after
        ``unmodified_since`` is reported ``stale`` and not written, as is a status change
        the row's current status does not allow (``refused``). ``updated_at`` is set on
        written rows.
        """

    def count_by_status(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for row in self.rows():
            status = row.get("outreach_status") or "pending"
            counts[status] = counts.get(status, 0) + 1
        return counts

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections; the default has nothing to release."""


def compact_row(row: Mapping[str, object]) -> Row:
    """Keep non-empty cells only: an empty cell and a missing one read the same (the database
    stores, local and PostgreSQL, keep a row as JSON of these)."""
    return {k: v for k, v in row.items() if v not in ("", None)}  # type: ignore[misc]


def stored_record(row: Mapping[str, object]) -> tuple[str, str, str, str]:
    """``(hub_id, domain, outreach_status, data)``: a row as the database stores keep it (the
    whole row as compact JSON, with the two columns they index copied beside it)."""
    return (
        str(row.get("hub_id", "")),
        str(row.get("domain", "")),
        str(row.get("outreach_status", "")),
        json.dumps(compact_row(row)),
    )


def decode_rows(datas: Iterable[str]) -> list[Row]:
    """Rows from their stored JSON, one ``json.loads`` per batch: the decoder memoises object
    keys within a call, so the batch's rows share one copy of each column name (per row ~14 key
    strings, ~800 B of a ~2.2 KB row: at 200k rows, 523 -> ~360 MB peak)."""
    return json.loads("[" + ",".join(datas) + "]")


def header_with_new_columns(header: list[str], rows: Iterable[Mapping[str, object]]) -> list[str]:
    """``header`` plus the columns of ``rows`` it lacks, in first-seen order (there is no sheet
    to add a header cell to: a person's new column joins here)."""
    extra = [c for row in rows for c in row if c not in header]
    return header + list(dict.fromkeys(extra)) if extra else header


def prepare_new_rows(
    rows: Iterable[Mapping[str, object]],
    existing_domains: set[str],
    *,
    dedupe_by_domain: bool,
) -> tuple[list[Row], list[str]]:
    """Shared append logic: assign ids and timestamps, drop duplicate domains.

    Returns the rows to insert and the normalised domains that were skipped.
    """
    now = utc_now_text()
    seen = set(existing_domains)
    fresh: list[Row] = []
    skipped: list[str] = []
    for raw in rows:
        row: Row = {str(k): clip(v) for k, v in raw.items() if k is not None}
        domain = normalise_domain(row.get("domain") or row.get("page_url") or "")
        if domain:
            row["domain"] = domain
        if dedupe_by_domain and domain:
            if domain in seen:
                skipped.append(domain)
                continue
            seen.add(domain)
        row["hub_id"] = row.get("hub_id") or new_hub_id()
        row.setdefault("outreach_status", "pending")
        if not row["outreach_status"]:
            row["outreach_status"] = "pending"
        row["created_at"] = row.get("created_at") or now
        row["updated_at"] = now
        fresh.append(row)
    return fresh, skipped
