"""``PATCH /api/prospects/{id}`` and ``POST /api/prospects/approve``: one contract, run on the
local store and on a Google Sheet (real gspread against the Sheets emulator), with a person
editing the sheet behind the hub's back."""

from __future__ import annotations

import hashlib

import pytest
from openapi_spec_validator import validate
from starlette.testclient import TestClient

from hub.app import build_services, create_app
from hub.rows.history import RowHistory
from tests.store_contract import (
    GoogleHarness,
    LocalHarness,
    emulator_servers,  # noqa: F401 - a fixture shared by this module's tests
    google_sheet_env,
)

KEY = "edit-api-key-0123456789"
AUTH = {"authorization": f"Bearer {KEY}"}


@pytest.fixture(params=["local", "google"])
def api_on_each_store(request, data_dir, emulator_servers):  # noqa: F811
    """(client, services, harness) on either backend."""
    if request.param == "local":
        harness = LocalHarness(data_dir)
        yield from _served(harness, _settings(data_dir))
        return
    with google_sheet_env(
        data_dir / "sheet", servers=emulator_servers, read_quota=10_000, write_quota=10_000
    ) as env:
        harness = GoogleHarness(env)
        yield from _served(harness, env.settings(data_dir=data_dir))


def _settings(data_dir):
    from hub.config import Settings

    return Settings(_env_file=None, data_dir=data_dir)


def _served(harness, settings):
    settings.api_keys = [KEY]
    settings.tick_minutes = 0
    harness.seed([["domain", "notes"]])  # a person's sheet, with a column of their own
    harness.store.ensure_schema()
    services = build_services(settings, store=harness.store)
    app = create_app(settings, services=services)
    with TestClient(app, headers=AUTH) as client:
        yield client, services, harness


def seed(store, n=3, **cells):
    rows = [
        {
            "domain": f"site{i}.example",
            "contact_email": f"ed{i}@site{i}.example",
            "outreach_status": "drafted",
            "draft_subject": f"Hello {i}",
            "draft_body": "Body",
            **cells,
        }
        for i in range(n)
    ]
    return store.append(rows).added


def test_patch_writes_human_columns_and_records_who(api_on_each_store):
    client, services, _ = api_on_each_store
    hub_id, other = seed(services.store, 2)
    before_other = services.store.get(other)
    response = client.patch(
        f"/api/prospects/{hub_id}",
        json={
            "approved": True,
            "contact_email": " Ann@Site0.Example ",
            "contact_name": "Ann",
            "draft_body": "New body\nsecond line",
            "notes": "=IMPORTXML(x)",
        },
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["changed"]["contact_email"] == {
        "before": "ed0@site0.example",
        "after": "Ann@site0.example",
    }
    row = services.store.get(hub_id)
    assert row["approved"] == "TRUE" and row["contact_email"] == "Ann@site0.example"
    assert row["draft_body"] == "New body\nsecond line" and row["notes"] == "=IMPORTXML(x)"
    assert answer["prospect"]["updated_at"] == row["updated_at"]
    assert services.store.get(other) == before_other

    changes = RowHistory.from_settings(services.settings).for_row(hub_id)
    fingerprint = hashlib.sha256(KEY.encode()).hexdigest()[:12]
    assert {c.actor for c in changes} == {f"api key {fingerprint}"}
    assert {c.column for c in changes} == {
        "approved",
        "contact_email",
        "contact_name",
        "draft_body",
        "notes",
    }
    assert KEY not in str(changes)
    listed = client.get(f"/api/prospects/{hub_id}/history").json()["changes"]
    assert {c["by"] for c in listed} == {f"api key {fingerprint}"}
    assert {"column": "approved", "before": "", "after": "TRUE"}.items() <= next(
        c for c in listed if c["column"] == "approved"
    ).items()
    assert client.get("/api/prospects/h_nobody/history").status_code == 404


def test_hub_owned_columns_and_bad_values_are_422_and_change_nothing(api_on_each_store):
    client, services, _ = api_on_each_store
    [hub_id] = seed(services.store, 1)
    before = services.store.get(hub_id)
    cases = [
        ({"message_id": "<a@b>", "score": "99", "approved": "TRUE"}, ["message_id", "score"]),
        ({"outreach_status": "sent"}, ["outreach_status"]),
        ({"hub_id": "h_other"}, ["hub_id"]),
        ({"contact_email": "ann@a.example, bob@b.example"}, ["contact_email"]),
        ({"contact_email": "not-an-address"}, ["contact_email"]),
        ({"approved": "maybe"}, ["approved"]),
        ({"draft_subject": "Hi\r\nBcc: x@y.example"}, ["draft_subject"]),
        ({"notes": {"nested": 1}}, ["notes"]),
        ({}, ["body"]),
    ]
    for body, columns in cases:
        response = client.patch(f"/api/prospects/{hub_id}", json=body)
        assert response.status_code == 422, (body, response.text)
        error = response.json()["error"]
        assert [f["field"] for f in error["fields"]] == columns, body
        for column in columns:
            assert column in error["message"]
    assert services.store.get(hub_id) == before
    assert RowHistory.from_settings(services.settings).for_row(hub_id) == []
    assert client.patch("/api/prospects/h_nobody", json={"notes": "x"}).status_code == 404
    assert client.patch(f"/api/prospects/{hub_id}", content=b"[1]").status_code == 422


def test_status_goes_to_skip_and_back_but_not_elsewhere(api_on_each_store):
    client, services, _ = api_on_each_store
    hub_id, sent = seed(services.store, 2)
    services.store.update({sent: {"outreach_status": "sent"}})
    refused = client.patch(f"/api/prospects/{sent}", json={"outreach_status": "drafted"})
    assert refused.status_code == 422 and "this row is 'sent'" in refused.text
    assert client.patch(f"/api/prospects/{hub_id}", json={"outreach_status": "skip"}).is_success
    assert services.store.get(hub_id)["outreach_status"] == "skip"
    back = client.patch(f"/api/prospects/{hub_id}", json={"outreach_status": "Drafted"})
    assert back.status_code == 200
    assert services.store.get(hub_id)["outreach_status"] == "drafted"


def test_precondition_answers_409_instead_of_overwriting_a_newer_edit(api_on_each_store):
    client, services, harness = api_on_each_store
    [hub_id] = seed(services.store, 1)
    harness.human_edit(hub_id, "updated_at", "2026-03-01T10:00:00Z")
    harness.human_edit(hub_id, "draft_subject", "A person's newer subject")

    for headers, body in (
        ({"If-Unmodified-Since": "Sun, 01 Mar 2026 09:59:59 GMT"}, {"draft_subject": "Mine"}),
        ({}, {"draft_subject": "Mine", "updated_at": "2026-03-01T09:00:00Z"}),
    ):
        response = client.patch(f"/api/prospects/{hub_id}", json=body, headers=headers)
        assert response.status_code == 409, response.text
        assert "2026-03-01T10:00:00Z" in response.json()["error"]["message"]
    assert services.store.get(hub_id)["draft_subject"] == "A person's newer subject"

    ok = client.patch(
        f"/api/prospects/{hub_id}",
        json={"draft_subject": "Mine"},
        headers={"If-Unmodified-Since": "Sun, 01 Mar 2026 10:00:00 GMT"},
    )
    assert ok.status_code == 200 and services.store.get(hub_id)["draft_subject"] == "Mine"
    bad = client.patch(
        f"/api/prospects/{hub_id}", json={"notes": "x"}, headers={"If-Unmodified-Since": "soon"}
    )
    assert bad.status_code == 422 and "If-Unmodified-Since" in bad.text


def test_edit_lands_on_its_row_after_the_sheet_was_sorted(api_on_each_store):
    client, services, harness = api_on_each_store
    ids = seed(services.store, 3)
    harness.human_sort("domain", reverse=True)
    harness.human_insert_top({"hub_id": "h_typed", "domain": "typed.example"})
    assert client.patch(f"/api/prospects/{ids[0]}", json={"approved": "TRUE"}).is_success
    rows = {r["hub_id"]: r for r in services.store.rows()}
    assert rows[ids[0]]["approved"] == "TRUE"
    assert [h for h, r in rows.items() if r.get("approved")] == [ids[0]]


def test_bulk_approve_by_ids_or_by_filter(api_on_each_store):
    client, services, _ = api_on_each_store
    ids = seed(services.store, 3)
    pending = services.store.append([{"domain": "later.example"}]).added[0]

    by_ids = client.post("/api/prospects/approve", json={"hub_ids": [ids[0], "h_gone"]})
    assert by_ids.status_code == 200
    assert by_ids.json() | {"message": ""} == {
        "approved": 1,
        "already_approved": 0,
        "matched": 2,
        "hub_ids": [ids[0]],
        "missing": ["h_gone"],
        "message": "",
    }
    by_filter = client.post("/api/prospects/approve", json={"status": "drafted"}).json()
    assert (by_filter["approved"], by_filter["already_approved"]) == (2, 1)
    assert services.store.get(pending).get("approved", "") == ""
    by_q = client.post("/api/prospects/approve?q=later").json()
    assert by_q["approved"] == 1 and by_q["hub_ids"] == [pending]

    for body in ({}, {"hub_ids": ids, "status": "drafted"}, {"hub_ids": "x"}, {"colour": 1}):
        assert client.post("/api/prospects/approve", json=body).status_code == 422, body


def test_user_columns(api_on_each_store):
    client, services, harness = api_on_each_store
    [hub_id] = seed(services.store, 1)
    response = client.patch(f"/api/prospects/{hub_id}", json={"my_rating": 5})
    if harness.name == "google":
        # A person's sheet has no such header: say how to add it rather than invent one.
        assert response.status_code == 422 and "add it to the header row" in response.text
    else:
        assert response.status_code == 200
        assert services.store.get(hub_id)["my_rating"] == "5"
        assert "my_rating" in services.store.header()


def test_openapi_documents_the_edit_endpoints(api_on_each_store):
    client, _, _ = api_on_each_store
    document = client.get("/openapi.json").json()
    validate(document)
    patch = document["paths"]["/api/prospects/{hub_id}"]["patch"]
    assert {"200", "404", "409", "422"} <= set(patch["responses"])
    assert "approved" in patch["requestBody"]["content"]["application/json"]["schema"]["properties"]
    approve = document["paths"]["/api/prospects/approve"]["post"]
    body = approve["requestBody"]["content"]["application/json"]["schema"]["properties"]
    assert set(body) == {"hub_ids", "status", "hold_reason", "q"}
