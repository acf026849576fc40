"""RFC 8058 one-click unsubscribe: GET shows a page and changes nothing, POST acts at once."""

from __future__ import annotations

import time

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from starlette.applications import Starlette
from starlette.testclient import TestClient

from hub.app import build_services
from hub.sending import message as msg
from hub.sending.suppression import Suppression
from hub.state.sqlite import State
from hub.unsubscribe import routes
from webhooks.tokens import UNSUBSCRIBE_SALT, make_action_token


@pytest.fixture
def unsubscribe_hub(settings):
    configured = settings.model_copy(
        update={"secret_keys": ["k-old", "k-new"], "public_url": "https://hub.example"}
    )
    services = build_services(configured)
    services.store.ensure_schema()
    services.state = State.from_settings(configured)
    added = services.store.append(
        [
            {
                "domain": "gallery.example",
                "contact_email": "Grace@Gallery.example",
                "outreach_status": "sent",
                "next_followup_at": "2026-12-01T09:00:00Z",
            }
        ]
    )
    app = Starlette(routes=routes(services))
    with TestClient(app, base_url="https://hub.example") as client:
        yield services, client, added.added[0]
    services.close()


def _path(services, hub_id: str) -> str:
    return msg.unsubscribe_url(services.settings, hub_id).removeprefix("https://hub.example")


def _events(services) -> list[dict]:
    return [
        e for e in services.state.list_events(100) if e["event_type"] == "prospect.unsubscribed"
    ]


def test_get_shows_a_confirmation_page_and_changes_nothing(unsubscribe_hub):
    services, client, hub_id = unsubscribe_hub
    page = client.get(_path(services, hub_id))
    assert page.status_code == 200
    assert 'method="post"' in page.text
    assert services.store.get(hub_id)["outreach_status"] == "sent"
    assert Suppression(services.settings).reason_for("grace@gallery.example") is None
    assert _events(services) == []


def test_one_click_post_without_cookies_unsubscribes_at_once(unsubscribe_hub):
    services, client, hub_id = unsubscribe_hub
    client.cookies.clear()
    answer = client.post(
        _path(services, hub_id),
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 200
    assert "set-cookie" not in answer.headers
    row = services.store.get(hub_id)
    assert row["outreach_status"] == "unsubscribed"
    assert row["hold_reason"] == "SKIP:unsubscribed"
    assert row.get("next_followup_at", "") == ""  # pending follow-ups are cancelled
    assert Suppression(services.settings).reason_for("grace@gallery.example") == "unsubscribed"
    assert len(_events(services)) == 1

    # A second click (mail clients retry) changes nothing more and queues no second event.
    assert client.post(_path(services, hub_id), content=b"List-Unsubscribe=One-Click").is_success
    assert len(_events(services)) == 1


def test_signed_with_an_older_key_still_works(unsubscribe_hub):
    services, client, hub_id = unsubscribe_hub
    old_only = services.settings.model_copy(update={"secret_keys": ["k-old"]})
    path = msg.unsubscribe_url(old_only, hub_id).removeprefix("https://hub.example")
    assert client.post(path).status_code == 200
    assert services.store.get(hub_id)["outreach_status"] == "unsubscribed"


def test_expired_link_gets_a_clear_page_and_changes_nothing(unsubscribe_hub):
    services, client, hub_id = unsubscribe_hub

    class FourHundredOneDaysAgo(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 401 * 86400

    token = URLSafeTimedSerializer(
        ["k-new"], salt=UNSUBSCRIBE_SALT, signer=FourHundredOneDaysAgo
    ).dumps({"h": hub_id})
    for method in (client.get, client.post):
        answer = method(f"/u/{token}")
        assert answer.status_code == 410
        assert "expired" in answer.text
    assert services.store.get(hub_id)["outreach_status"] == "sent"


@pytest.mark.parametrize("kind", ["forged", "truncated", "other_purpose"])
def test_forged_tokens_are_refused_with_a_clear_page(unsubscribe_hub, kind):
    services, client, hub_id = unsubscribe_hub
    good = _path(services, hub_id).removeprefix("/u/")
    token = {
        "forged": URLSafeTimedSerializer(["guess"], salt=UNSUBSCRIBE_SALT).dumps({"h": hub_id}),
        "truncated": good[:-4],
        "other_purpose": make_action_token("send", ["k-new"]),
    }[kind]
    answer = client.post(f"/u/{token}")
    assert answer.status_code == 400
    assert "not valid" in answer.text
    assert services.store.get(hub_id)["outreach_status"] == "sent"
    assert Suppression(services.settings).entries() == []


def test_the_app_serves_one_click_unsubscribe_without_auth(settings):
    from hub.app import create_app

    configured = settings.model_copy(
        update={"api_keys": ["api-key-for-tests"], "public_url": "https://hub.example"}
    )
    app = create_app(configured)
    with TestClient(app, base_url="https://hub.example") as client:
        services = app.state.services
        [hub_id] = services.store.append(
            [{"domain": "gallery.example", "contact_email": "grace@gallery.example"}]
        ).added
        path = _path(services, hub_id)  # signed with the key the app adopted
        assert client.get(path).status_code == 200
        assert services.store.get(hub_id)["outreach_status"] == "pending"
        answer = client.post(path, content=b"List-Unsubscribe=One-Click")
        assert answer.status_code == 200
        assert services.store.get(hub_id)["outreach_status"] == "unsubscribed"
        assert [e["event_type"] for e in services.state.list_events(10)] == [
            "prospect.unsubscribed"
        ]
