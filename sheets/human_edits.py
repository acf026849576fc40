"""What a person may change through the hub (API, status page, CLI), and to which values.

The same ownership rules as the sheet (``sheets/columns.py``), seen from the other side: a
person owns ``approved``, may fix the contact and rewrite the draft, may take a row out of the
pipeline (``skip`` / ``do_not_contact``) and back, and owns every column the hub does not know.
Everything else is the hub's record of what happened and is refused, naming each column.

:func:`clean_edit` checks the values alone (no store read); :func:`transition_problem` and
:func:`is_stale` need the row as it is *now*, so each store backend calls them on the row it
re-read right before writing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sheets.cells import BadCell, normalize_email
from sheets.columns import HUB_COLUMNS, HUMAN_TERMINAL_STATUSES, MAX_CELL_CHARS, Row

# Hub columns a person may set; any column the hub does not know is the person's too.
HUMAN_EDITABLE = frozenset(
    {"approved", "outreach_status", "contact_email", "contact_name", "draft_subject", "draft_body"}
)
# Where a row may go back to from skip / do_not_contact: states before anything was sent.
RESUME_STATUSES = ("pending", "enriched", "drafted")
SETTABLE_STATUSES = (*sorted(HUMAN_TERMINAL_STATUSES), *RESUME_STATUSES)

TRUE_WORDS = frozenset({"true", "yes", "y", "1", "x", "✓", "✔", "☑", "checked"})
FALSE_WORDS = frozenset({"false", "no", "n", "0", "", "unchecked"})
ONE_LINE_COLUMNS = frozenset({"contact_name", "draft_subject"})
MAX_ONE_LINE_CHARS = 998  # RFC 5322's line limit: these end up in a header
MAX_COLUMN_NAME_CHARS = 100


class EditRefused(ValueError):
    """The edit cannot be applied; ``problems`` name each column and say why (a 422)."""

    def __init__(self, problems: list[BadCell]):
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems

    @property
    def columns(self) -> list[str]:
        return [p.column for p in self.problems]


@dataclass
class EditReport:
    """What :meth:`ProspectStore.edit` did, per row."""

    # hub_id -> {column: (before, after)}; only cells whose text really changed
    changed: dict[str, dict[str, tuple[str, str]]] = field(default_factory=dict)
    unchanged: list[str] = field(default_factory=list)  # every value was already there
    missing: list[str] = field(default_factory=list)  # no row with that hub_id any more
    stale: dict[str, str] = field(default_factory=dict)  # hub_id -> its newer updated_at
    refused: dict[str, EditRefused] = field(default_factory=dict)  # e.g. not from skip


def hub_owned(columns: Iterable[str]) -> list[str]:
    return [c for c in columns if c in HUB_COLUMNS and c not in HUMAN_EDITABLE]


def clean_edit(changes: Mapping[str, object]) -> Row:
    """Cell text for each change, or :class:`EditRefused` listing every problem at once
    (hub-owned columns first)."""
    if not changes:
        raise EditRefused([BadCell("body", "nothing to change: name at least one column")])
    problems = [
        BadCell(c, "is written by the hub only; a person may not set it")
        for c in hub_owned(changes)
    ]
    cleaned: Row = {}
    for column, value in changes.items():
        if column in HUB_COLUMNS and column not in HUMAN_EDITABLE:
            continue
        try:
            cleaned[column] = _clean_value(column, value)
        except BadCell as problem:
            problems.append(problem)
    if problems:
        raise EditRefused(problems)
    return cleaned


def _clean_value(column: str, value: object) -> str:
    if not column.strip() or len(column) > MAX_COLUMN_NAME_CHARS or _has_control(column):
        raise BadCell(column[:MAX_COLUMN_NAME_CHARS], "is not a usable column name")
    if column == "approved":
        return _flag(value)
    if value is None:
        text = ""
    elif isinstance(value, str):
        text = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        text = str(value)
    else:
        raise BadCell(column, f"must be text, not {type(value).__name__}")
    if "\0" in text:
        raise BadCell(column, "contains a NUL character")
    if len(text) > MAX_CELL_CHARS:
        raise BadCell(column, f"is longer than {MAX_CELL_CHARS} characters (a sheet cell's cap)")
    if column == "outreach_status":
        return _status(text)
    if column == "contact_email":
        return normalize_email(text, column) if text.strip() else ""
    if column in ONE_LINE_COLUMNS:
        if "\r" in text or "\n" in text:
            raise BadCell(column, "must be one line (it goes into an e-mail header)")
        if len(text) > MAX_ONE_LINE_CHARS:
            raise BadCell(column, f"is longer than {MAX_ONE_LINE_CHARS} characters")
        return text.strip()
    return text


def _flag(value: object) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    word = value.strip().lower() if isinstance(value, str) else None
    if word in TRUE_WORDS:
        return "TRUE"
    if word in FALSE_WORDS:
        return "FALSE"
    raise BadCell("approved", f"must be TRUE or FALSE, not {value!r}")


def _status(text: str) -> str:
    status = text.strip().lower()
    if status not in SETTABLE_STATUSES:
        raise BadCell(
            "outreach_status",
            f"a person may set skip or do_not_contact (and take a row back from them to "
            f"{', '.join(RESUME_STATUSES)}), not {text!r}; the hub sets every other status",
        )
    return status


def _has_control(text: str) -> bool:
    return any(ord(ch) < 32 for ch in text)


def transition_problem(current: Mapping[str, str], cleaned: Mapping[str, str]) -> BadCell | None:
    """A status change that needs the current row: only a row taken out may be put back."""
    wanted = cleaned.get("outreach_status")
    now = (current.get("outreach_status") or "").strip().lower() or "pending"
    if wanted is None or wanted == now or wanted in HUMAN_TERMINAL_STATUSES:
        return None
    if now not in HUMAN_TERMINAL_STATUSES:
        return BadCell(
            "outreach_status",
            f"only a row marked skip or do_not_contact can be set back to {wanted!r}; "
            f"this row is {now!r}",
        )
    return None


def parse_time(text: str) -> datetime | None:
    """ISO 8601 (``2026-12-04T15:00:00Z``) as an aware datetime, or None."""
    try:
        moment = datetime.fromisoformat((text or "").strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def is_stale(current_updated_at: str, unmodified_since: datetime | None) -> bool:
    """True when the row changed after the moment the editor read it."""
    if unmodified_since is None:
        return False
    changed = parse_time(current_updated_at)
    return changed is not None and changed > unmodified_since


def diff(current: Mapping[str, str], cleaned: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """``{column: (before, after)}`` for cells whose text changes."""
    return {
        c: (current.get(c, "") or "", v) for c, v in cleaned.items() if (current.get(c) or "") != v
    }


def plan_row(
    current: Mapping[str, str],
    cleaned: Mapping[str, str],
    unmodified_since: datetime | None,
    report: EditReport,
) -> dict[str, tuple[str, str]] | None:
    """Shared by both backends: decide one row's edit against its freshly read cells and
    note the outcome in ``report``; returns the cells to write (None: write nothing)."""
    hub_id = current.get("hub_id", "")
    changes = diff(current, cleaned)
    if not changes:  # already so (also after a retried write whose answer was lost)
        report.unchanged.append(hub_id)
        return None
    if is_stale(current.get("updated_at", ""), unmodified_since):
        report.stale[hub_id] = current.get("updated_at", "")
        return None
    problem = transition_problem(current, cleaned)
    if problem is not None:
        report.refused[hub_id] = EditRefused([problem])
        return None
    return changes
