"""The funnel: rows per status along the pipeline and off it, the reply rate, and the rows on
hold grouped by reason. Counting is ``hub.api.stats.prospect_stats`` (the same numbers as
``/api/stats``); this module only arranges them for the page and adds filter links.

It never fails on a half-filled store: a missing ``outreach_status`` counts as ``pending`` (as
in the API), a person's ``Skip`` counts as ``skip``, and an unknown status gets its own line.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlencode

from hub.api.stats import prospect_stats
from hub.rows.filter import hold_group, normal_status

# The happy path, in order (DESIGN.md §4), then where rows leave it.
PIPELINE = ("pending", "enriched", "drafted", "sending", "sent", "replied")
OFF_PATH = ("no_email", "bounced", "unsubscribed", "skip", "do_not_contact", "failed")


@dataclass(frozen=True)
class Count:
    label: str
    count: int
    link: str


@dataclass
class Funnel:
    total: int = 0
    pipeline: list[Count] = field(default_factory=list)
    off_path: list[Count] = field(default_factory=list)
    other: list[Count] = field(default_factory=list)  # statuses the hub does not know
    holds: list[Count] = field(default_factory=list)
    on_hold: int = 0
    sent: int = 0  # rows that got a first message (message_id or last_sent)
    replied: int = 0
    # Spam complaints (hold_reason COMPLAINT:<feedback-type>) apart from unsubscribes: mailbox
    # providers count complaints against the sender (Google asks for < 0.3%).
    complaints: int = 0
    unsubscribes: int = 0

    @property
    def complaint_rate(self) -> str:
        if not self.sent:
            return "no messages sent yet"
        return f"{self.complaints / self.sent:.2%} ({self.complaints} of {self.sent})"

    @property
    def reply_rate(self) -> str:
        if not self.sent:
            return "no messages sent yet"
        return f"{self.replied / self.sent:.1%} ({self.replied} of {self.sent} contacted rows)"


def is_complaint(row: dict[str, str]) -> bool:
    return (row.get("hold_reason", "") or "").strip().upper().startswith("COMPLAINT:")


def rows_link(**filters: str) -> str:
    return "/rows?" + urlencode({k: v for k, v in filters.items() if v})


def build_funnel(rows: Iterable[dict[str, str]]) -> Funnel:
    rows = list(rows)
    stats = prospect_stats(rows)
    by_status: dict[str, int] = {}
    for status, n in stats["by_status"].items():
        key = normal_status(status)
        by_status[key] = by_status.get(key, 0) + n
    holds: dict[str, int] = {}
    for row in rows:
        group = hold_group(row.get("hold_reason", ""))
        if group:
            holds[group] = holds.get(group, 0) + 1

    def count(status: str) -> Count:
        return Count(status, by_status.get(status, 0), rows_link(status=status))

    known = set(PIPELINE) | set(OFF_PATH)
    return Funnel(
        total=stats["total"],
        pipeline=[count(s) for s in PIPELINE],
        off_path=[count(s) for s in OFF_PATH],
        other=[count(s) for s in sorted(by_status) if s not in known],
        holds=[
            Count(reason, n, rows_link(hold=reason))
            for reason, n in sorted(holds.items(), key=lambda item: (-item[1], item[0]))
        ],
        on_hold=sum(holds.values()),
        complaints=sum(1 for row in rows if is_complaint(row)),
        unsubscribes=by_status.get("unsubscribed", 0),
        sent=stats["by_stage"]["sent"],
        replied=stats["by_stage"]["replied"],
    )
