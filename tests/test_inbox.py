"""The inbox through the real app: Make actions become durable jobs; DataForSEO callbacks for
tasks the hub never created are refused and leave nothing behind."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from hub.app import create_app
from hub.stages.row_changed import next_stage_for
from tests.core_plugin import marking_stage, registered
from tests.emulators.serve import wait_until
from webhooks.dataforseo import dataforseo_callback_urls
from webhooks.make import make_webhook_url

KEYS = ["inbox-test-key"]


@pytest.fixture
def app(settings):
    settings.secret_keys = KEYS
    settings.tick_minutes = 0
    return create_app(settings)


@pytest.fixture
def client(app):
    with TestClient(app) as client:
        yield client


@pytest.fixture
def state(app, client):
    return app.state.services.state


def post(client, action, payload):
    return client.post(make_webhook_url("", action, KEYS), json=payload)


def done(state, job_id):
    job = state.get_job(job_id)
    return job if job["status"] in ("completed", "failed", "cancelled") else None


def test_stage_action_queues_that_job_with_the_payload_as_params(client, state):
    with registered({"score": marking_stage("score")}):
        response = post(client, "score", {"max_prospects": 7})
        assert response.status_code == 202
        job = wait_until(lambda: done(state, response.json()["job_id"]))
    assert (job["job_type"], job["source"], job["params"]) == (
        "score",
        "make",
        {"max_prospects": 7},
    )
    assert job["status"] == "completed"


def test_import_rows_appends_deduplicated_rows_and_chains_enrich(client, state, app):
    rows = [
        {"domain": "https://www.Gallery.example/about", "page_title": "Gallery"},
        {"domain": "gallery.example"},
        {"page_url": "https://artblog.example/post"},
    ]
    with registered({"enrich": marking_stage("email_status")}):
        response = post(client, "import_rows", {"rows": rows})
        job = wait_until(lambda: done(state, response.json()["job_id"]))
        assert job["result"] == {"received": 3, "added": 2, "duplicates": 1}
        enrich = wait_until(lambda: state.list_jobs("enrich"))
    assert enrich[0]["parent_id"] == job["id"]
    domains = sorted(r["domain"] for r in app.state.services.store.rows())
    assert domains == ["artblog.example", "gallery.example"]
    again = post(client, "import_rows", {"rows": rows[1:2]})  # nothing new: no chain
    repeat = wait_until(lambda: done(state, again.json()["job_id"]))
    assert repeat["result"]["added"] == 0
    assert len(state.list_jobs("enrich")) == 1


def test_row_changed_queues_the_rows_next_stage_for_that_row(client, state, app):
    store = app.state.services.store
    hub_id = store.append(
        [
            {
                "domain": "a.example",
                "contact_email": "ed@a.example",
                "outreach_status": "drafted",
                "score": "40",
                "draft_subject": "Hi",
                "draft_body": "Hello",
            }
        ]
    ).added[0]
    with registered({"send": marking_stage("message_id")}):
        response = post(client, "row_changed", {"hub_id": hub_id, "approved": "TRUE"})
        job = wait_until(lambda: done(state, response.json()["job_id"]))
        send = wait_until(lambda: state.list_jobs("send"))
    assert job["result"]["next_stage"] == "send"
    assert send[0]["params"] == {"prospect_ids": [hub_id]} and send[0]["parent_id"] == job["id"]
    unknown = post(client, "row_changed", {"hub_id": "h_gone"})
    assert wait_until(lambda: done(state, unknown.json()["job_id"]))["result"]["next_stage"] is None


@pytest.mark.parametrize(
    ("row", "stage"),
    [
        ({}, "enrich"),
        ({"outreach_status": "failed"}, "enrich"),
        ({"outreach_status": "enriched", "contact_email": "a@b.c"}, "score"),
        ({"outreach_status": "enriched", "contact_email": "a@b.c", "score": "5"}, "draft"),
        ({"outreach_status": "drafted"}, "send"),
        ({"outreach_status": "sent"}, "followup"),
        ({"outreach_status": "replied"}, None),
        ({"outreach_status": "do_not_contact"}, None),
        ({"outreach_status": "sending"}, None),
    ],
)
def test_next_stage_follows_the_state_machine(row, stage):
    assert next_stage_for(row) == stage


def test_tick_queues_followup_and_check_replies_once(client, state):
    with registered(
        {
            "followup": marking_stage("followups_sent"),
            "check_replies": marking_stage("reply_snippet"),
        }
    ):
        response = post(client, "tick", {})
        tick = wait_until(lambda: done(state, response.json()["job_id"]))
        assert set(tick["result"]["queued"]) == {"followup", "check_replies"}
        for job_type in ("followup", "check_replies"):
            job = state.list_jobs(job_type)[0]
            assert job["source"] == "tick"
            wait_until(lambda job=job: done(state, job["id"]))


def test_dataforseo_callback_for_an_unknown_task_is_refused_and_not_stored(client, state):
    urls = dataforseo_callback_urls("http://testserver", "job-never-created", KEYS)
    url = urls.pingback_url.replace("$id", "task-x").replace("$tag", "t")
    response = client.get(url.replace("http://testserver", ""))
    assert response.status_code == 404
    assert "task-x" in response.json()["error"]["message"]
    assert state.query("SELECT COUNT(*) FROM inbox")[0][0] == 0
    last = state.list_deliveries(limit=1)[0]
    assert (last["verdict"], last["status"]) == ("refused", 404)


def test_every_delivery_is_logged_with_its_verdict(client, state):
    with registered({"score": marking_stage("score")}):
        post(client, "score", {"max_prospects": 1})
        post(client, "score", {"max_prospects": 1})
    client.post("/webhooks/make/not-a-token", json={})
    verdicts = [(d["verdict"], d["status"]) for d in state.list_deliveries()]
    assert verdicts == [("refused", 401), ("duplicate", 200), ("accepted", 202)]
