"""Outbound events: durable outbox -> emulated Make.com webhook, signed, retried, logged."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest
from pydantic import SecretStr

from hub.app import create_app
from hub.providers.events_out import EventDelivery
from hub.state.sqlite import State
from tests.core_plugin import marking_stage, registered
from tests.emulators.make_webhook import MakeWebhook
from tests.emulators.serve import free_port, serve_in_thread, wait_until
from webhooks.signing import VerificationError, verify_standard

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


class Clock:
    def __init__(self, start: float = 1_760_000_000.0):
        self.t = start

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture
def hook():
    hook = MakeWebhook()
    with serve_in_thread(hook.app) as server:
        hook.url = server.url + "/hook/abc123"
        yield hook


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def state(settings, clock):
    state = State(settings.state_db_path, now=clock, deliver_events=True)
    yield state
    state.close()


@pytest.fixture
async def delivery(state, hook, clock):
    delivery = EventDelivery(state, hook.url, SECRET, now=clock, jitter=lambda: 0.0)
    yield delivery
    await delivery.aclose()


def verify(request, at: float):
    return verify_standard(request.body, request.headers, [SECRET], datetime.fromtimestamp(at, UTC))


async def test_event_is_delivered_on_the_third_try_signed_with_a_stable_id(
    state, delivery, hook, clock
):
    event_id = state.add_event("prospect.replied", {"hub_id": "h_1", "snippet": "Thanks!"})
    hook.fail_next(2, status=500)
    sent_at = []
    for _ in range(3):
        sent_at.append(clock())
        await delivery.deliver_due()
        assert await delivery.deliver_due() == 0  # not due again before its backoff
        clock.advance(3600)
    assert [r.answered for r in hook.received] == [500, 500, 200]
    assert {r.headers["webhook-id"] for r in hook.received} == {event_id}
    assert len({r.body for r in hook.received}) == 1  # the same bytes on every attempt
    for request, at in zip(hook.received, sent_at, strict=True):
        assert verify(request, at).message_id == event_id
    with pytest.raises(VerificationError):
        verify_standard(
            hook.received[-1].body,
            hook.received[-1].headers,
            ["whsec_" + "A" * 32],
            datetime.fromtimestamp(sent_at[-1], UTC),
        )
    body = json.loads(hook.received[-1].body)
    assert body["type"] == "prospect.replied" and body["data"]["hub_id"] == "h_1"
    assert body["timestamp"].endswith("Z")
    stored = state.get_event(event_id)
    assert stored["status"] == "delivered" and stored["attempts"] == 3
    assert [a["status_code"] for a in state.event_attempts(event_id)] == [500, 500, 200]


async def test_backoff_grows_exponentially_and_honours_retry_after(state, delivery, hook, clock):
    event_id = state.add_event("job.completed", {"job_id": "j"})
    hook.fail_next(3, status=500)
    waits = []
    for _ in range(3):
        start = clock()
        await delivery.deliver_due()
        waits.append(state.get_event(event_id)["next_attempt_at"] - start)
        clock.advance(waits[-1])
    assert waits == [2.5, 5.0, 10.0]  # base 5 s, doubling, jitter pinned at its low end
    hook.fail_next(1, status=429, retry_after="120")
    start = clock()
    await delivery.deliver_due()
    assert state.get_event(event_id)["next_attempt_at"] - start == 120


async def test_event_is_marked_dead_after_24_hours_of_failures(state, delivery, hook, clock):
    event_id = state.add_event("job.failed", {"job_id": "j"})
    hook.fail_next(10_000, status=503)
    for _ in range(100):
        if state.get_event(event_id)["status"] != "pending":
            break
        clock.t = state.get_event(event_id)["next_attempt_at"]
        await delivery.deliver_due()
    event = state.get_event(event_id)
    assert event["status"] == "dead" and event["last_error"] == "HTTP 503"
    assert clock() - event["created_at"] <= 24 * 3600
    assert 5 < event["attempts"] < 40  # exponential, capped at 4 h: bounded attempts
    assert len(state.event_attempts(event_id)) == event["attempts"]


async def test_gone_endpoint_kills_the_event_at_once(state, delivery, hook):
    event_id = state.add_event("job.completed", {})
    hook.fail_next(1, status=410)
    await delivery.deliver_due()
    assert state.get_event(event_id)["status"] == "dead"


async def test_unreachable_receiver_is_retried_without_leaking_the_url(state, clock):
    url = f"http://127.0.0.1:{free_port()}/hook/secret-hook-id"
    delivery = EventDelivery(state, url, SECRET, now=clock, jitter=lambda: 0.0, timeout=2)
    try:
        event_id = state.add_event("job.completed", {})
        await delivery.deliver_due()
    finally:
        await delivery.aclose()
    event = state.get_event(event_id)
    assert event["status"] == "pending" and event["attempts"] == 1
    assert event["last_error"] == "ConnectError" and "secret-hook-id" not in event["last_error"]


def test_app_delivers_job_completed_to_the_configured_url(settings, hook):
    settings.events_url = hook.url
    settings.events_secret = SecretStr(SECRET)
    settings.api_keys = ["k"]
    settings.tick_minutes = 0
    with registered({"score": marking_stage("score")}):
        app = create_app(settings)
        with serve_in_thread(app) as server:
            created = httpx.post(
                server.url + "/api/jobs/score", headers={"Authorization": "Bearer k"}
            ).json()
            wait_until(lambda: hook.accepted, what="the job.completed event")
    request = hook.accepted[0]
    body = json.loads(request.body)
    assert body["type"] == "job.completed"
    assert body["data"]["job_id"] == created["job_id"]
    assert verify(request, int(request.headers["webhook-timestamp"])).scheme == "standard"


def test_without_events_url_events_stay_in_the_local_log(settings):
    state = State.from_settings(settings)
    try:
        event_id = state.add_event("prospect.bounced", {"hub_id": "h"})
        assert state.get_event(event_id)["status"] == "local"
        assert state.due_events() == []
    finally:
        state.close()
