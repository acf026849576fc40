"""A person's edits (``ProspectStore.edit``) on the Google Sheet when the network misbehaves or a
person sorts the sheet meanwhile: the edit lands once, on its row, and is reported as made."""

from __future__ import annotations

import pytest

from tests.store_contract import (
    emulator_servers,  # noqa: F401 - a fixture shared by the tests of this module
    google_sheet_env,
)


@pytest.fixture
def store(data_dir, emulator_servers):  # noqa: F811
    with google_sheet_env(data_dir, servers=emulator_servers) as env:
        store = env.store()
        store.ensure_schema()
        store.append([{"domain": d} for d in ("a.example", "b.example", "c.example")])
        store.env = env
        yield store


def _by_domain(store):
    return {row["domain"]: row for row in store.rows()}


def test_an_edit_whose_answer_was_lost_is_reported_as_made(store):
    rows = _by_domain(store)
    target = rows["b.example"]["hub_id"]
    store.env.sheets.drop_next(match="values.batchUpdate", after_processing=True)
    report = store.edit({target: {"approved": "TRUE"}})

    assert report.changed == {target: {"approved": ("", "TRUE")}}
    assert not report.stale and not report.unchanged
    assert [d for d, r in _by_domain(store).items() if r.get("approved")] == ["b.example"]


def test_a_sort_during_backoff_does_not_misplace_the_retried_edit(store):
    rows = _by_domain(store)
    env = store.env

    def person_sorts_after_the_failure(emu):
        emu.before_next_request(lambda e: e.sort_rows("domain", reverse=True), match="read")

    env.sheets.before_next_request(person_sorts_after_the_failure, match="values.batchUpdate")
    env.sheets.fail_next(503, match="values.batchUpdate")
    report = store.edit(
        {rows["a.example"]["hub_id"]: {"contact_name": "Ann", "outreach_status": "skip"}}
    )

    assert list(report.changed) == [rows["a.example"]["hub_id"]]
    after = _by_domain(store)
    assert [r["domain"] for r in store.rows()] == ["c.example", "b.example", "a.example"]
    assert after["a.example"]["contact_name"] == "Ann"
    assert after["a.example"]["outreach_status"] == "skip"
    assert not after["b.example"].get("contact_name") and not after["c.example"].get("contact_name")


def test_one_read_and_one_write_for_a_bulk_edit(store):
    ids = [r["hub_id"] for r in store.rows()]
    store.env.sheets.reset_log()
    report = store.edit({hub_id: {"approved": "TRUE"} for hub_id in ids})
    assert sorted(report.changed) == sorted(ids)
    assert store.env.sheets.count("values.batchGet") == 1
    assert store.env.sheets.count("values.batchUpdate") == 1
