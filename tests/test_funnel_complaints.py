"""The status page counts spam complaints apart from unsubscribes (both leave the funnel, but
only complaints count against the sender with mailbox providers)."""

from __future__ import annotations

from hub.web.funnel import build_funnel


def row(status: str, hold: str = "", sent: bool = True) -> dict[str, str]:
    out = {"outreach_status": status, "hold_reason": hold, "contact_email": "a@b.example"}
    if sent:
        out["last_sent"] = "2025-06-01T10:00:00Z"
        out["message_id"] = "<m@hub.example>"
    return out


def test_complaints_and_unsubscribes_are_counted_apart():
    rows = [row("sent")] * 6 + [
        row("do_not_contact", "COMPLAINT:abuse"),
        row("do_not_contact", "COMPLAINT:fraud"),
        row("do_not_contact"),  # a person's own choice: no complaint
        row("unsubscribed", "SKIP:unsubscribed"),
    ]
    funnel = build_funnel(rows)
    assert funnel.complaints == 2
    assert funnel.unsubscribes == 1
    assert funnel.complaint_rate == f"{2 / funnel.sent:.2%} (2 of {funnel.sent})"
    assert {c.label for c in funnel.holds} >= {"COMPLAINT:abuse", "COMPLAINT:fraud"}


def test_no_complaint_rate_before_anything_is_sent():
    assert build_funnel([row("pending", sent=False)]).complaint_rate == "no messages sent yet"
