"""The prospect row: its columns and who owns each one.

Columns are always found by header name, never by position (users reorder, hide and add
columns). This module is the single place that says which columns the hub may write and
under which condition; both store backends apply :func:`writable_changes` before writing.
"""

from __future__ import annotations

from collections.abc import Mapping

from sheets.cells import BadCell, domain_from_cell

Row = dict[str, str]
"""A row as the store sees it: header name -> cell text. Missing cells read as ``""``."""

# Order matters only when the hub creates or extends a header: new columns go at the end.
DISCOVERY_COLUMNS = (
    "domain",
    "page_url",
    "page_title",
    "snippet",
    "keyword",
    "location",
    "serp_rank",
    "discovery_job",
)
ENRICHMENT_COLUMNS = (
    "contact_email",
    "contact_name",
    "contact_position",
    "email_confidence",
    "email_status",
    "email_source",
)
SCORING_COLUMNS = ("da_est", "score", "score_reasons")
DRAFT_COLUMNS = ("draft_subject", "draft_body")
STATE_COLUMNS = ("approved", "outreach_status", "hold_reason", "last_error")
SENDING_COLUMNS = (
    "message_id",
    "gmail_thread_id",
    "last_sent",
    "followups_sent",
    "next_followup_at",
    "replied_at",
    "reply_snippet",
    "sender_identity",  # the identity (HUB_IDENTITIES_FILE) its messages go out from
)
TIMESTAMP_COLUMNS = ("created_at", "updated_at")

HUB_COLUMNS: tuple[str, ...] = (
    "hub_id",
    *DISCOVERY_COLUMNS,
    *ENRICHMENT_COLUMNS,
    *SCORING_COLUMNS,
    *DRAFT_COLUMNS,
    *STATE_COLUMNS,
    *SENDING_COLUMNS,
    *TIMESTAMP_COLUMNS,
)

# The person owns these outright: the hub creates the header but never writes a value.
HUMAN_COLUMNS = frozenset({"approved"})

# The hub fills these only while they are empty; once a person (or an earlier run) has put
# something there, it is final. A hand-typed contact_email is the person's choice of address.
WRITE_ONLY_WHEN_EMPTY = frozenset({"draft_subject", "draft_body", "contact_email"})

# Values of outreach_status a person may set; the hub never moves a row out of them.
HUMAN_TERMINAL_STATUSES = frozenset({"skip", "do_not_contact"})

# Cells Google Sheets accepts (50,000 characters); longer text is cut so a write never fails.
MAX_CELL_CHARS = 50_000


def is_hub_column(name: str) -> bool:
    return name in HUB_COLUMNS


def missing_columns(header: list[str]) -> list[str]:
    """Hub columns absent from ``header``, in canonical order (to append at the end)."""
    present = set(header)
    return [name for name in HUB_COLUMNS if name not in present]


def clip(value: object) -> str:
    """Cell text for any value: ``None`` is empty, everything is a string within the cell cap."""
    if value is None:
        return ""
    if isinstance(value, bool):
        text = "TRUE" if value else "FALSE"
    else:
        text = str(value)
    return text if len(text) <= MAX_CELL_CHARS else text[: MAX_CELL_CHARS - 1] + "…"


def writable_changes(current: Mapping[str, str], changes: Mapping[str, object]) -> Row:
    """The subset of ``changes`` the hub may write over ``current`` (the row as it is now).

    - unknown (user) columns and human-owned columns are dropped;
    - ``hub_id`` is never rewritten;
    - write-only-when-empty columns are dropped when the current cell has text;
    - a row a person marked ``skip``/``do_not_contact`` keeps that status.
    """
    allowed: Row = {}
    status_now = (current.get("outreach_status") or "").strip().lower()
    for name, value in changes.items():
        if name not in HUB_COLUMNS or name in HUMAN_COLUMNS or name == "hub_id":
            continue
        if name in WRITE_ONLY_WHEN_EMPTY and (current.get(name) or "").strip():
            continue
        if name == "outreach_status" and status_now in HUMAN_TERMINAL_STATUSES:
            continue
        allowed[name] = clip(value)
    return allowed


def normalise_domain(value: str) -> str:
    """The de-duplication key of a ``domain`` cell: its host in IDNA form without ``www.``
    (``https://WWW.Example.com/a`` and ``example.com`` are one), or, for a cell that holds no
    host name, the text as typed (stripped, lower-cased): never a fragment of it, so the
    enrich stage's ``NO_EMAIL:bad_domain`` quotes what the person wrote."""
    try:
        return domain_from_cell(value or "")
    except BadCell:
        return (value or "").strip().lower()
