"""One string object per distinct value in the columns where a few values repeat on every row.

A 200,000-row read makes ~3 million cell strings, and each ``str`` costs 49 bytes before its
first character. In some hub columns the same few values come back row after row: the status
(a dozen states), ranks and 0-100 scores, the discovery keyword, location and job, the e-mail
verdict and source, and the timestamps the hub writes once per batch. Reading those through a
:class:`CellSharer` keeps one object per value: ~60-70 MB less at 200,000 rows. Columns whose
values are mostly unique (names, URLs, drafts, ids, reasons) are left alone: sharing them would
only add a lookup per cell.
"""

from __future__ import annotations

from sheets.columns import Row

# Hub columns that hold few distinct values in practice (why, per column group):
SHARED_COLUMNS: tuple[str, ...] = (
    "outreach_status",  # the state machine's states
    "keyword",  # a discovery job asks a handful of keywords ...
    "location",  # ... in a handful of locations
    "discovery_job",  # one id per discovery job
    "serp_rank",  # 1-100
    "email_confidence",  # 0-100 from Hunter
    "email_status",  # valid / accept_all / unknown ...
    "email_source",  # hunter / manual
    "da_est",  # 0-100
    "score",  # 0-100
    "approved",  # TRUE / FALSE / empty, typed by a person
    "followups_sent",  # 0-3
    "created_at",  # one timestamp per append batch
    "updated_at",  # one timestamp per written chunk
)

# A column that turns out to hold mostly distinct values must not grow the table without end.
MAX_DISTINCT = 50_000


class CellSharer:
    """Replaces repeated values in :data:`SHARED_COLUMNS` with one shared object each.

    One sharer lives for one read (``rows()``/``select()``), so nothing outlives the rows.
    """

    def __init__(self) -> None:
        self._seen: dict[str, str] = {}

    def share_row(self, row: Row) -> Row:
        """``row`` itself, its shared columns now pointing at the shared strings."""
        seen = self._seen
        for column in SHARED_COLUMNS:
            value = row.get(column)
            if value is not None:
                found = seen.get(value)
                if found is not None:
                    row[column] = found
                elif len(seen) < MAX_DISTINCT:
                    seen[value] = value
        return row


__all__ = ["MAX_DISTINCT", "SHARED_COLUMNS", "CellSharer"]
