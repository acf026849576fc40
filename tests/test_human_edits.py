"""The rules for a person's edits (``sheets/human_edits.py``), on their own: which columns, which
values, which status changes, and when a row counts as changed since it was read."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sheets.columns import HUB_COLUMNS
from sheets.human_edits import (
    HUMAN_EDITABLE,
    EditRefused,
    clean_edit,
    is_stale,
    transition_problem,
)


@pytest.mark.parametrize(
    "given, stored",
    [
        (True, "TRUE"),
        (False, "FALSE"),
        ("TRUE", "TRUE"),
        (" yes ", "TRUE"),
        ("✓", "TRUE"),
        ("", "FALSE"),
        ("no", "FALSE"),
        ("0", "FALSE"),
    ],
)
def test_approved_takes_the_sheets_words_and_stores_true_or_false(given, stored):
    assert clean_edit({"approved": given}) == {"approved": stored}


def test_every_hub_column_but_the_human_ones_is_refused_by_name():
    owned = [c for c in HUB_COLUMNS if c not in HUMAN_EDITABLE]
    with pytest.raises(EditRefused) as refused:
        clean_edit({c: "x" for c in owned})
    assert refused.value.columns == owned


def test_values_are_cleaned_or_refused_with_the_reason():
    cleaned = clean_edit(
        {
            "contact_email": " Ann@Gallery.EXAMPLE ",
            "contact_name": "  Ann  ",
            "outreach_status": " Do_Not_Contact ",
            "notes": 42,
            "draft_body": "two\nlines",
        }
    )
    assert cleaned == {
        "contact_email": "Ann@gallery.example",
        "contact_name": "Ann",
        "outreach_status": "do_not_contact",
        "notes": "42",
        "draft_body": "two\nlines",
    }
    assert clean_edit({"contact_email": ""}) == {"contact_email": ""}  # a person may clear it
    with pytest.raises(EditRefused) as refused:
        clean_edit(
            {
                "contact_email": "a@b.example; c@d.example",
                "contact_name": "Ann\nBcc: x@y.example",
                "approved": "perhaps",
                "outreach_status": "replied",
                "my column": ["a list"],
                "": "no name",
                "draft_body": "x" * 50_001,
            }
        )
    problems = {p.column: p.why for p in refused.value.problems}
    assert set(problems) == {
        "contact_email",
        "contact_name",
        "approved",
        "outreach_status",
        "my column",
        "",
        "draft_body",
    }
    assert "one address only" in problems["contact_email"]
    assert "one line" in problems["contact_name"]
    assert "not 'replied'" in problems["outreach_status"]


def test_only_a_row_taken_out_may_be_put_back():
    assert transition_problem({"outreach_status": "skip"}, {"outreach_status": "drafted"}) is None
    assert transition_problem({"outreach_status": "sent"}, {"outreach_status": "skip"}) is None
    problem = transition_problem({"outreach_status": "sent"}, {"outreach_status": "pending"})
    assert problem is not None and "this row is 'sent'" in problem.why
    assert transition_problem({}, {"outreach_status": "pending"}) is None  # already pending


def test_a_row_is_stale_only_when_it_changed_after_the_given_moment():
    read_at = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    assert is_stale("2026-03-01T10:00:01Z", read_at)
    assert not is_stale("2026-03-01T10:00:00Z", read_at)
    assert not is_stale("", read_at) and not is_stale("typed by hand", read_at)
    assert not is_stale("2030-01-01T00:00:00Z", None)
