"""Approval on the embedded defaults (``make run``: local store, outbox mailer, templates, demo
rows), end to end through the REST API: nothing goes out before approval; approving one row
sends that row and only that row; do_not_contact keeps a row from ever being sent."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from hub.app import create_app
from hub.cli import app as cli_app
from hub.cli.serve import apply_demo_defaults
from tests.emulators.serve import wait_until

AUTH = {"authorization": "Bearer flow-key"}


@pytest.fixture
def demo_hub(settings):
    settings.api_keys = ["flow-key"]
    settings.tick_minutes = 0
    apply_demo_defaults(settings)  # what `make run` (hub serve --demo) does
    app = create_app(settings)
    with TestClient(app, headers=AUTH) as client:
        yield client, app.state.services


def run_job(client, stage: str) -> dict:
    job_id = client.post(f"/api/jobs/{stage}").json()["job_id"]

    def finished():
        status = client.get(f"/api/jobs/{job_id}/status").json()
        return status if status["status"] in ("completed", "failed", "cancelled") else None

    status = wait_until(finished, what=f"{stage} job")
    assert status["status"] == "completed", status
    return status["result"] or {}


def previews(services) -> list[str]:
    return sorted(p.name for p in services.settings.outbox_dir.glob("*.eml"))


def drafted_rows(client) -> list[dict]:
    rows = client.get("/api/prospects", params={"status": "drafted"}).json()["prospects"]
    assert len(rows) >= 2, "the demo rows with an address should be drafted"
    return rows


def prepare(client) -> list[dict]:
    for stage in ("enrich", "score", "draft"):
        run_job(client, stage)
    return drafted_rows(client)


def test_nothing_is_sent_before_approval_and_patch_sends_that_row_only(demo_hub):
    client, services = demo_hub
    assert services.settings.require_approval and not services.settings.uses_gmail
    drafted = prepare(client)

    run_job(client, "send")
    assert previews(services) == []
    assert all(not r.get("hold_reason", "").startswith("DRY_RUN") for r in drafted_rows(client))

    chosen = drafted[0]["hub_id"]
    response = client.patch(f"/api/prospects/{chosen}", json={"approved": "TRUE"})
    assert response.status_code == 200
    assert response.json()["changed"]["approved"] == {"before": "", "after": "TRUE"}

    run_job(client, "send")
    assert previews(services) == [f"{chosen}-0.eml"]
    after = {r["hub_id"]: r for r in drafted_rows(client)}
    assert after[chosen]["hold_reason"] == f"DRY_RUN {chosen}-0.eml"
    assert all(not r.get("hold_reason") for h, r in after.items() if h != chosen)


@pytest.mark.parametrize(
    "body, column",
    [({"outreach_status": "sent"}, "outreach_status"), ({"message_id": "<x@y>"}, "message_id")],
)
def test_hub_owned_values_answer_422_naming_the_column(demo_hub, body, column):
    client, services = demo_hub
    row = client.get("/api/prospects").json()["prospects"][0]
    response = client.patch(f"/api/prospects/{row['hub_id']}", json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert [f["field"] for f in error["fields"]] == [column]
    assert column in error["message"]
    assert services.store.get(row["hub_id"]) == row


def test_do_not_contact_keeps_a_row_from_ever_being_sent(demo_hub):
    client, services = demo_hub
    drafted = prepare(client)
    kept, other = drafted[0]["hub_id"], drafted[1]["hub_id"]
    response = client.patch(f"/api/prospects/{kept}", json={"outreach_status": "do_not_contact"})
    assert response.status_code == 200
    # Approving it afterwards, approving everything, sending it by hand: still never sent.
    assert client.patch(f"/api/prospects/{kept}", json={"approved": True}).status_code == 200
    approved = client.post("/api/prospects/approve", json={"hub_ids": [kept, other]}).json()
    assert approved["approved"] == 1 and approved["already_approved"] == 1
    run_job(client, "send")
    assert client.post(f"/api/prospects/{kept}/send").status_code == 409
    run_job(client, "send")
    assert previews(services) == [f"{other}-0.eml"]
    assert services.store.get(kept)["outreach_status"] == "do_not_contact"
    # The hub never moves the row out of it by itself: only a person can.
    services.store.update({kept: {"outreach_status": "drafted"}})
    assert services.store.get(kept)["outreach_status"] == "do_not_contact"


def test_hub_rows_help_lists_the_commands():
    result = CliRunner().invoke(cli_app, ["rows", "--help"])
    assert result.exit_code == 0
    for command in ("list", "show", "approve", "skip", "set"):
        assert f" {command} " in result.output
