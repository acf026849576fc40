"""Edit, approve, skip: one implementation behind the API, the status page and the CLI.

Each action goes through the store's :meth:`~sheets.store.ProspectStore.edit` (the sheet's
ownership rules, the row re-read by ``hub_id`` right before writing, on either backend), then
records what changed in the row's history. Errors are ``HubError`` subclasses, so the API maps
them to statuses and the page and the CLI show the same message.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hub.errors import Conflict, HubError, NotFound, short_id
from hub.rows.filter import RowFilter
from hub.rows.history import Change, RowHistory
from sheets.columns import Row
from sheets.human_edits import EditRefused, EditReport

STATUS_PAGE = "status page"
CLI = "cli"
APPROVE = {"approved": "TRUE"}


def api_key_actor(key: str) -> str:
    """Who, for a change made with an API key: a short fingerprint, never the key."""
    return "api key " + hashlib.sha256(key.encode()).hexdigest()[:12]


class EditInvalid(HubError):
    """422: a hub-owned column or a bad value; ``fields`` names each column."""

    status = 422
    code = "invalid_edit"

    def __init__(self, refused: EditRefused):
        super().__init__(f"not changed: {refused}")
        self.fields = [{"field": p.column, "message": p.why} for p in refused.problems]


class StaleEdit(Conflict):
    code = "row_changed"


@dataclass
class EditResult:
    hub_id: str
    changed: dict[str, tuple[str, str]]  # column -> (before, after)

    def message(self) -> str:
        if not self.changed:
            return f"{self.hub_id}: nothing to change (the row already says so)"
        parts = [
            f"{c} {_show(before)} → {_show(after)}" for c, (before, after) in self.changed.items()
        ]
        return f"{self.hub_id}: " + "; ".join(parts)


@dataclass
class ApproveResult:
    matched: int
    approved: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    def message(self) -> str:
        text = f"approved {len(self.approved)} of {self.matched} rows"
        if self.already:
            text += f"; {len(self.already)} already approved"
        if self.missing:
            text += f"; {len(self.missing)} no longer in the store: {', '.join(self.missing[:5])}"
        return text

    def as_json(self) -> dict[str, Any]:
        return {
            "approved": len(self.approved),
            "already_approved": len(self.already),
            "matched": self.matched,
            "hub_ids": self.approved,
            "missing": self.missing,
        }


def _show(text: str) -> str:
    text = text or ""
    if not text:
        return "(empty)"
    return repr(text) if len(text) <= 60 else repr(text[:57] + "...")


def _record(settings, report: EditReport, actor: str) -> None:
    history = RowHistory.from_settings(settings)
    try:
        history.record(report.changed, actor)
    finally:
        history.close()


def changes_of(settings, hub_id: str) -> list[Change]:
    """The row's history of changes, newest first."""
    history = RowHistory.from_settings(settings)
    try:
        return history.for_row(hub_id)
    finally:
        history.close()


def edit_row(
    services,
    hub_id: str,
    changes: Mapping[str, object],
    actor: str,
    *,
    unmodified_since: datetime | None = None,
) -> EditResult:
    """Apply a person's edit to one row. Raises EditInvalid (422), NotFound, StaleEdit (409)."""
    try:
        report = services.store.edit({hub_id: changes}, unmodified_since=unmodified_since)
    except EditRefused as refused:
        raise EditInvalid(refused) from None
    if hub_id in report.missing:
        raise NotFound(f"no prospect with id {short_id(hub_id)}")
    if hub_id in report.stale:
        raise StaleEdit(
            f"prospect {hub_id} was changed at {report.stale[hub_id]}, after the time you "
            "gave: read it again and repeat your edit if it still applies"
        )
    if hub_id in report.refused:
        raise EditInvalid(report.refused[hub_id])
    _record(services.settings, report, actor)
    return EditResult(hub_id, report.changed.get(hub_id, {}))


def approve_rows(
    services,
    actor: str,
    *,
    hub_ids: Iterable[str] = (),
    where: RowFilter | None = None,
) -> ApproveResult:
    """Tick ``approved`` on the named rows, or on every row ``where`` matches."""
    ids = list(dict.fromkeys(h for h in hub_ids if h))
    if not ids and where is not None and not where.empty:
        rows = services.store.select(where.matches)
        ids = [row["hub_id"] for row in rows]
    result = ApproveResult(matched=len(ids))
    if not ids:
        return result
    report = services.store.edit({hub_id: APPROVE for hub_id in ids})
    _record(services.settings, report, actor)
    result.approved = [h for h in ids if h in report.changed]
    result.already = [h for h in ids if h in report.unchanged]
    result.missing = report.missing
    return result


def resume_status(row: Row) -> str:
    """Where a row taken out (skip / do_not_contact) goes back to: as far as its cells allow."""
    if row.get("contact_email") and row.get("draft_subject") and row.get("draft_body"):
        return "drafted"
    return "enriched" if row.get("contact_email") else "pending"


def parse_assignments(pairs: Iterable[str]) -> dict[str, str]:
    """``column=value`` words (the CLI's ``hub rows set``) as a dict; ValueError says which."""
    changes: dict[str, str] = {}
    for pair in pairs:
        column, sep, value = pair.partition("=")
        if not sep or not column.strip():
            raise ValueError(f"{pair!r}: write column=value, e.g. contact_name='Ann Smith'")
        changes[column.strip()] = value
    return changes
