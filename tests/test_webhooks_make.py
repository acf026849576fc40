"""POST /webhooks/make/{token}: security cases per auth scheme, payloads, dedupe, hand-over."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from starlette.testclient import TestClient

from tests.helpers_signing import (
    NOW,
    RecordingAccept,
    client_post_signed,
    hub_headers,
    standard_headers,
    webhook_app,
)
from tests.webhook_cases import NEW_KEY, OLD_KEY, WRONG_KEY, Req, WebhookSecurityCases
from webhooks.events import BODY_HASH_WINDOW_SECONDS, EXPLICIT_ID_WINDOW_SECONDS, Refused
from webhooks.make import make_webhook_url
from webhooks.tokens import MAKE_ACTIONS, body_signing_key, make_action_token

KEYS = [OLD_KEY, NEW_KEY]
DISCOVER_URL = make_webhook_url("", "discover", KEYS)


class _MakeCases(WebhookSecurityCases):
    require_signature = True

    def build_app(self, accept, record):
        return webhook_app(
            accept,
            record,
            secret_keys=self.secret_keys,
            require_signature=self.require_signature,
            max_body_bytes=self.max_body_bytes,
        )

    def valid_body(self) -> bytes:
        return json.dumps({"keywords": ["art blog", "gallery"], "max_results": 50}).encode()

    def wrong_types_body(self) -> bytes:
        return json.dumps({"keywords": 5, "max_results": "many", "live": "perhaps"}).encode()

    def unauthenticated(self, body: bytes) -> Req:
        return Req("POST", DISCOVER_URL, {"content-type": "application/json"}, body)


class TestMakeStandardWebhooksSecurity(_MakeCases):
    """Token valid; the body is signed the Standard Webhooks way with the derived body key."""

    def authenticated(self, body, *, key=NEW_KEY, **overrides):
        headers = standard_headers(body, secret=body_signing_key(key), now=self.now, **overrides)
        return Req("POST", DISCOVER_URL, headers, body)

    def dated(self, body, when):
        return self.authenticated(body, timestamp=int(when.timestamp()))

    def malformed_credentials(self, body):
        req = self.authenticated(body)
        ts = str(int(self.now.timestamp()))
        return {
            "garbage": replace_headers(req, {"webhook-signature": "garbage"}),
            "not base64": replace_headers(req, {"webhook-signature": "v1,not-base64!!"}),
            "short digest": replace_headers(req, {"webhook-signature": "v1,AAAA"}),
            "only other versions": replace_headers(req, {"webhook-signature": "v2,abc= v0,x"}),
            "non-numeric timestamp": replace_headers(req, {"webhook-timestamp": "yesterday"}),
            "float timestamp": replace_headers(req, {"webhook-timestamp": ts + ".5"}),
            "missing id": replace_headers(req, {"webhook-id": None}),
            "id with spaces": replace_headers(req, {"webhook-id": "a b"}),
            "missing timestamp": replace_headers(req, {"webhook-timestamp": None}),
            "empty signature": replace_headers(req, {"webhook-signature": ""}),
        }


class TestMakeHubSignatureSecurity(_MakeCases):
    """Token valid; ``X-Hub-Signature-256`` over ``{X-Hub-Timestamp}.{body}``."""

    def authenticated(self, body, *, key=NEW_KEY, **overrides):
        headers = hub_headers(body, key=body_signing_key(key), now=self.now, **overrides)
        return Req("POST", DISCOVER_URL, headers, body)

    def dated(self, body, when):
        return self.authenticated(body, timestamp=int(when.timestamp()))

    def malformed_credentials(self, body):
        req = self.authenticated(body)
        return {
            "garbage": replace_headers(req, {"x-hub-signature-256": "garbage"}),
            "sha1": replace_headers(req, {"x-hub-signature-256": "sha1=" + "0" * 40}),
            "not hex": replace_headers(req, {"x-hub-signature-256": "sha256=" + "zz" * 32}),
            "non-numeric timestamp": replace_headers(req, {"x-hub-timestamp": "-5"}),
            "empty": replace_headers(req, {"x-hub-signature-256": ""}),
        }


class TestMakeTokenOnlySecurity(_MakeCases):
    """Signatures optional: the capability token in the URL is the credential."""

    require_signature = False
    credential_word = "token"
    credentials_cover_body = False

    def authenticated(self, body, *, key=NEW_KEY, **overrides):
        url = "/webhooks/make/" + make_action_token("discover", [key])
        return Req("POST", url, {"content-type": "application/json"}, body)

    def unauthenticated(self, body):
        return Req("POST", "/webhooks/make/", {"content-type": "application/json"}, body)

    def malformed_credentials(self, body):
        token = make_action_token("discover", KEYS)
        return {
            "garbage": Req("POST", "/webhooks/make/garbage", {}, body),
            "truncated": Req("POST", "/webhooks/make/" + token[:-3], {}, body),
            "no slash": Req("POST", "/webhooks/make", {}, body),
            "dataforseo salt": Req("POST", "/webhooks/make/" + _dataforseo_token(), {}, body),
        }


def _dataforseo_token() -> str:
    from webhooks.dataforseo import dataforseo_callback_token

    return dataforseo_callback_token("job-1", KEYS)


def replace_headers(req: Req, changes: dict[str, str | None]) -> Req:
    headers = {k: v for k, v in req.headers.items() if k not in changes}
    headers.update({k: v for k, v in changes.items() if v is not None})
    return Req(req.method, req.url, headers, req.content)


# --- behaviour beyond the security cases ------------------------------------------------------


@pytest.fixture
def recording_accept():
    return RecordingAccept()


@pytest.fixture
def webhook_client(recording_accept, deliveries):
    with TestClient(
        webhook_app(recording_accept, deliveries.append, secret_keys=KEYS)
    ) as test_client:
        yield test_client


def url_for(action: str, keys=KEYS) -> str:
    return make_webhook_url("http://testserver/", action, keys)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"keywords": "art blogs, galleries"}, ["art blogs", "galleries"]),
        ({"keywords": "art blogs\ngalleries\n\n"}, ["art blogs", "galleries"]),
        ({"keywords": [" art ", "", "zines"]}, ["art", "zines"]),
        ({"keywords": "single"}, ["single"]),
    ],
)
def test_discover_accepts_keywords_as_make_maps_them(
    webhook_client, recording_accept, body, expected
):
    response = webhook_client.post(url_for("discover"), json=body)
    assert response.status_code == 202, response.text
    payload = recording_accept.events[0].payload
    assert payload == {"keywords": expected, "locations": [], "max_results": 100, "live": False}


def test_discover_coerces_text_numbers_and_unmapped_fields(webhook_client, recording_accept):
    body = {"keywords": "art", "locations": "London, Paris", "max_results": "700", "live": "true"}
    response = webhook_client.post(url_for("discover"), json=body)
    assert response.status_code == 202, response.text
    assert recording_accept.events[0].payload == {
        "keywords": ["art"],
        "locations": ["London", "Paris"],
        "max_results": 700,
        "live": True,
    }
    # A field left unmapped in Make arrives as "": the default applies.
    response = webhook_client.post(url_for("discover"), json={"keywords": "art", "max_results": ""})
    assert response.status_code == 202
    assert recording_accept.events[1].payload["max_results"] == 100


@pytest.mark.parametrize(
    ("action", "body", "field"),
    [
        ("discover", {}, "keywords"),
        ("discover", {"keywords": " , \n"}, "keywords"),
        ("discover", {"keywords": "a", "max_results": 701}, "max_results"),
        ("discover", {"keywords": "a", "max_results": 0}, "max_results"),
        ("discover", {"keywords": "a", "keyword": "b"}, "keyword"),
        ("import_rows", {"rows": []}, "rows"),
        ("import_rows", {"rows": [{"domain": "a.com"}, {"notes": "x"}]}, "rows"),
        ("import_rows", {"rows": [{"domain": "a.com"}] * 5001}, "rows"),
        ("import_rows", {"rows": ["a.com"]}, "rows[0]"),
        ("row_changed", {"row": 3}, "hub_id"),
        ("enrich", {"max_prospects": 0}, "max_prospects"),
        ("enrich", {"auto_send": True}, "auto_send"),
        ("send", {"auto_send": "sometimes"}, "auto_send"),
        ("tick", {"anything": 1}, "anything"),
    ],
)
def test_invalid_payload_names_the_field(
    webhook_client, recording_accept, deliveries, action, body, field
):
    response = webhook_client.post(url_for(action), json=body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_payload"
    assert field in [f["field"] for f in error["fields"]], error
    assert field in error["message"] and action in error["message"]
    assert recording_accept.events == []
    assert deliveries[-1].verdict == "refused" and deliveries[-1].action == action


def test_body_that_is_not_an_object_is_refused(webhook_client, recording_accept):
    response = webhook_client.post(url_for("enrich"), content=b'"enrich please"')
    assert response.status_code == 422
    assert "JSON object" in response.json()["error"]["message"]
    assert recording_accept.events == []


@pytest.mark.parametrize(
    "action", ["enrich", "score", "draft", "send", "followup", "check_replies", "tick"]
)
def test_empty_body_means_defaults(webhook_client, recording_accept, action):
    response = webhook_client.post(url_for(action), content=b"")
    assert response.status_code == 202, response.text
    event = recording_accept.events[0]
    assert event.action == action and event.source == "make"
    assert event.payload == (
        {}
        if action == "tick"
        else {"max_prospects": None, **({"auto_send": None} if action == "send" else {})}
    )


def test_import_rows_takes_a_bare_array_and_keeps_row_fields(webhook_client, recording_accept):
    rows = [
        {"domain": "artzine.example", "notes": "met at fair"},
        {"page_url": "https://g.example/a"},
    ]
    response = webhook_client.post(url_for("import_rows"), json=rows)
    assert response.status_code == 202, response.text
    assert recording_accept.events[0].payload == {"rows": rows}


def test_row_changed_ignores_the_rest_of_a_sheets_bundle(webhook_client, recording_accept):
    bundle = {"hub_id": "h-17", "__IMTINDEX__": 1, "approved": "TRUE", "notes": "x"}
    response = webhook_client.post(url_for("row_changed"), json=bundle)
    assert response.status_code == 202
    assert recording_accept.events[0].payload == {"hub_id": "h-17"}


def test_every_action_token_reaches_its_action(webhook_client, recording_accept):
    bodies = {
        "discover": {"keywords": "a"},
        "import_rows": {"rows": [{"domain": "a.com"}]},
        "row_changed": {"hub_id": "h-1"},
    }
    for action in MAKE_ACTIONS:
        response = webhook_client.post(url_for(action), json=bodies.get(action, {}))
        assert response.status_code == 202, (action, response.text)
    assert [e.action for e in recording_accept.events] == list(MAKE_ACTIONS)


def test_duplicate_delivery_returns_same_job(webhook_client, recording_accept, deliveries):
    first = webhook_client.post(url_for("enrich"), json={"max_prospects": 5})
    again = webhook_client.post(url_for("enrich"), json={"max_prospects": 5})
    assert first.status_code == 202 and again.status_code == 200
    assert first.json() == {"job_id": "job-1", "status_url": "/api/jobs/job-1/status"}
    assert again.json() == {**first.json(), "duplicate": True}
    assert [d.verdict for d in deliveries] == ["accepted", "duplicate"]
    assert deliveries[0].job_id == deliveries[1].job_id == "job-1"


def test_dedupe_key_from_body_hash_per_action(webhook_client, recording_accept):
    webhook_client.post(url_for("enrich"), json={})
    webhook_client.post(url_for("score"), json={})  # same body, another action: another event
    keys = [e.dedupe_key for e in recording_accept.events]
    assert keys[0].startswith("make:body:enrich:") and keys[1].startswith("make:body:score:")
    assert keys[0].split(":")[-1] == keys[1].split(":")[-1]  # sha256 of the same raw body
    assert {e.dedupe_window_seconds for e in recording_accept.events} == {BODY_HASH_WINDOW_SECONDS}
    assert recording_accept.jobs_by_key.keys() == set(keys)


def test_signed_webhook_id_is_the_dedupe_key(webhook_client, recording_accept):
    key = body_signing_key(NEW_KEY)
    for _ in range(2):
        response = client_post_signed(
            webhook_client, url_for("tick"), {}, key=key, msg_id="exec-42"
        )
    assert response.status_code == 200 and response.json()["duplicate"] is True
    event = recording_accept.events[0]
    assert event.dedupe_key == "make:wh:exec-42"
    assert event.dedupe_window_seconds == EXPLICIT_ID_WINDOW_SECONDS
    assert event.signature_scheme == "standard"
    assert event.received_at == NOW


def test_unsigned_delivery_id_header_is_the_dedupe_key(webhook_client, recording_accept):
    webhook_client.post(url_for("tick"), json={}, headers={"X-Hub-Delivery": "d-1"})
    webhook_client.post(url_for("tick"), json={}, headers={"X-Hub-Delivery": "d-2"})  # same body
    assert [e.dedupe_key for e in recording_accept.events] == ["make:wh:d-1", "make:wh:d-2"]
    response = webhook_client.post(url_for("tick"), json={}, headers={"webhook-id": "bad id"})
    assert response.status_code == 400 and "webhook-id" in response.json()["error"]["message"]


def test_signature_is_optional_unless_required_but_always_checked_when_sent(
    webhook_client, recording_accept
):
    assert webhook_client.post(url_for("tick"), json={}).status_code == 202
    wrong = client_post_signed(webhook_client, url_for("tick"), {}, key=body_signing_key(WRONG_KEY))
    assert wrong.status_code == 401 and "signature" in wrong.json()["error"]["message"]
    assert len(recording_accept.events) == 1


def test_master_key_is_not_a_body_signing_key(webhook_client, recording_accept):
    """Make holds only the derived key; a body signed with the master key itself is refused."""
    response = client_post_signed(webhook_client, url_for("tick"), {}, key=NEW_KEY, scheme="hub")
    assert response.status_code == 401
    assert recording_accept.events == []


def test_github_style_signature_without_timestamp_is_accepted(webhook_client, recording_accept):
    response = client_post_signed(
        webhook_client,
        url_for("tick"),
        {},
        key=body_signing_key(OLD_KEY),
        scheme="hub",
        timestamp=None,
    )
    assert response.status_code == 202, response.text
    assert recording_accept.events[0].signature_scheme == "hub"


def test_required_signature_refuses_unsigned_with_instructions(recording_accept, deliveries):
    app = webhook_app(recording_accept, deliveries.append, secret_keys=KEYS, require_signature=True)
    with TestClient(app) as webhook_client:
        response = webhook_client.post(url_for("tick"), json={})
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "signature_required" and "X-Hub-Signature-256" in error["message"]
    assert recording_accept.events == []


def test_urls_survive_key_rotation_until_the_key_is_removed(recording_accept, deliveries):
    url = url_for("enrich", keys=[OLD_KEY])
    with TestClient(
        webhook_app(recording_accept, deliveries.append, secret_keys=[OLD_KEY, NEW_KEY])
    ) as c:
        assert c.post(url, json={}).status_code == 202
    with TestClient(webhook_app(recording_accept, deliveries.append, secret_keys=[NEW_KEY])) as c:
        response = c.post(url, json={"max_prospects": 1})
    assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_token"


def test_keys_are_read_on_every_request(recording_accept, deliveries):
    from starlette.applications import Starlette

    from webhooks.routes import WebhookConfig, webhook_routes

    keys = [OLD_KEY]
    config = WebhookConfig(secret_keys=lambda: keys, now=lambda: NOW)
    app = Starlette(routes=webhook_routes(config, recording_accept, deliveries.append))
    url = url_for("tick", keys=[NEW_KEY])
    with TestClient(app) as webhook_client:
        assert webhook_client.post(url, json={}).status_code == 401
        keys.append(NEW_KEY)  # rotated in while running
        assert webhook_client.post(url, json={}).status_code == 202


def test_no_keys_configured_says_which_setting(recording_accept, deliveries):
    with TestClient(
        webhook_app(recording_accept, deliveries.append, secret_keys=[])
    ) as webhook_client:
        response = webhook_client.post(DISCOVER_URL, json={"keywords": "a"})
    assert response.status_code == 503
    assert "HUB_SECRET_KEYS" in response.json()["error"]["message"]
    assert recording_accept.events == []


def test_compressed_body_is_refused_with_a_hint(webhook_client, recording_accept):
    response = webhook_client.post(
        url_for("tick"), content=b"{}", headers={"content-encoding": "br"}
    )
    assert response.status_code == 415 and "uncompressed" in response.json()["error"]["message"]
    assert recording_accept.events == []


def test_hub_refusal_is_passed_on(deliveries):
    recording_accept = RecordingAccept(
        fail_with=Refused(409, "a discovery for these keywords is running")
    )
    with TestClient(
        webhook_app(recording_accept, deliveries.append, secret_keys=KEYS)
    ) as webhook_client:
        response = webhook_client.post(url_for("discover"), json={"keywords": "a"})
    assert response.status_code == 409
    assert response.json() == {
        "error": {"code": "conflict", "message": "a discovery for these keywords is running"}
    }
    assert (deliveries[-1].verdict, deliveries[-1].status) == ("refused", 409)


def test_broken_inbox_answers_503_with_retry_after(deliveries):
    recording_accept = RecordingAccept(fail_with=RuntimeError("database is locked"))
    with TestClient(
        webhook_app(recording_accept, deliveries.append, secret_keys=KEYS)
    ) as webhook_client:
        response = webhook_client.post(url_for("tick"), json={})
    assert response.status_code == 503 and response.headers["retry-after"]
    assert "database is locked" not in response.text
    assert deliveries[-1].status == 503


def test_a_failing_delivery_log_does_not_change_the_answer(recording_accept):
    def broken_record(delivery):
        raise OSError("disk full")

    with TestClient(
        webhook_app(recording_accept, broken_record, secret_keys=KEYS)
    ) as webhook_client:
        response = webhook_client.post(url_for("tick"), json={})
    assert response.status_code == 202
    assert len(recording_accept.events) == 1


def test_make_webhook_url_is_rooted_at_the_base_url():
    url = make_webhook_url("https://hub.example.org/", "score", KEYS)
    assert url.startswith("https://hub.example.org/webhooks/make/")
    assert NEW_KEY not in url and OLD_KEY not in url
    with pytest.raises(ValueError, match="unknown action"):
        make_webhook_url("https://hub.example.org", "delete_everything", KEYS)


def test_timestamps_use_the_injected_clock(recording_accept, deliveries):
    later = NOW + timedelta(days=3)
    app = webhook_app(recording_accept, deliveries.append, secret_keys=KEYS, now=later)
    with TestClient(app) as webhook_client:
        stale = client_post_signed(
            webhook_client, url_for("tick"), {}, key=body_signing_key(NEW_KEY)
        )
        fresh = client_post_signed(
            webhook_client, url_for("tick"), {}, key=body_signing_key(NEW_KEY), now=later
        )
    assert stale.status_code == 401 and "too old" in stale.json()["error"]["message"]
    assert fresh.status_code == 202
    assert recording_accept.events[0].received_at == later
    assert deliveries[-1].at == later
