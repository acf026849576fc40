"""A person's edits (``ProspectStore.edit``) on the Google Sheet when the network misbehaves or a
person sorts the sheet meanwhile: the edit lands once, on its row, and is reported as made."""

from __future__ import annotations

import pytest

from tests.store_contract import (
    emulator_servers,  # noqa: F401 - a fixture shared by the tests of this module
    google_sheet_env,
)


@pytest.fixture
def google_store(data_dir, emulator_servers):  # noqa: F811
    with google_sheet_env(data_dir, servers=emulator_servers) as env:
        google_store = env.store()
        google_store.ensure_schema()
        google_store.append([{"domain": d} for d in ("a.example", "b.example", "c.example")])
        google_store.env = env
        yield google_store


def _by_domain(google_store):
    return {row["domain"]: row for row in google_store.rows()}


def test_an_edit_whose_answer_was_lost_is_reported_as_made(google_store):
    rows = _by_domain(google_store)
    target = rows["b.example"]["hub_id"]
    google_store.env.sheets.drop_next(match="values.batchUpdate", after_processing=True)
    report = google_store.edit({target: {"approved": "TRUE"}})

    assert report.changed == {target: {"approved": ("", "TRUE")}}
    assert not report.stale and not report.unchanged
    assert [d for d, r in _by_domain(google_store).items() if r.get("approved")] == ["b.example"]


def test_a_sort_during_backoff_does_not_misplace_the_retried_edit(google_store):
    rows = _by_domain(google_store)
    env = google_store.env

    def person_sorts_after_the_failure(emu):
        emu.before_next_request(lambda e: e.sort_rows("domain", reverse=True), match="read")

    env.sheets.before_next_request(person_sorts_after_the_failure, match="values.batchUpdate")
    env.sheets.fail_next(503, match="values.batchUpdate")
    report = google_store.edit(
        {rows["a.example"]["hub_id"]: {"contact_name": "Ann", "outreach_status": "skip"}}
    )

    assert list(report.changed) == [rows["a.example"]["hub_id"]]
    after = _by_domain(google_store)
    assert [r["domain"] for r in google_store.rows()] == ["c.example", "b.example", "a.example"]
    assert after["a.example"]["contact_name"] == "Ann"
    assert after["a.example"]["outreach_status"] == "skip"
    assert not after["b.example"].get("contact_name") and not after["c.example"].get("contact_name")


def test_one_read_and_one_write_for_a_bulk_edit(google_store):
    ids = [r["hub_id"] for r in google_store.rows()]
    google_store.env.sheets.reset_log()
    report = google_store.edit({hub_id: {"approved": "TRUE"} for hub_id in ids})
    assert sorted(report.changed) == sorted(ids)
    assert google_store.env.sheets.count("values.batchGet") == 1
    assert google_store.env.sheets.count("values.batchUpdate") == 1
