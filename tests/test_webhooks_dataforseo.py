"""DataForSEO postback (POST, gzip task_get JSON) and pingback (GET) callbacks."""

from __future__ import annotations

import copy
import gzip
import json
from urllib.parse import quote, urlsplit

import pytest
from starlette.testclient import TestClient

from tests.fixtures import load_real
from tests.helpers_signing import NOW, RecordingAccept, webhook_app
from tests.webhook_cases import NEW_KEY, OLD_KEY, Req, WebhookSecurityCases
from webhooks.dataforseo import dataforseo_callback_token, dataforseo_callback_urls
from webhooks.events import DATAFORSEO_WINDOW_SECONDS
from webhooks.tokens import make_action_token

KEYS = [OLD_KEY, NEW_KEY]
TASK_GET = load_real("dataforseo_serp_organic_task_get_regular.json")
TASK_ID = TASK_GET["tasks"][0]["id"]  # "11151456-0696-0066-0000-002a5915da37"


def postback_path(job_id: str = "job-7", keys=KEYS, task_id: str = TASK_ID, tag: str = "t1"):
    token = dataforseo_callback_token(job_id, keys)
    return f"/webhooks/dataforseo/postback/{token}?id={task_id}&tag={quote(tag)}"


class _DataForSEOCases(WebhookSecurityCases):
    credential_word = "token"
    credentials_cover_body = False
    kind = "postback"
    method = "POST"

    def build_app(self, accept, record):
        return webhook_app(
            accept,
            record,
            secret_keys=self.secret_keys,
            max_body_bytes=self.max_body_bytes,
            max_decompressed_bytes=self.max_decompressed_bytes,
        )

    def authenticated(self, body, *, key=NEW_KEY, **overrides):
        token = dataforseo_callback_token("job-7", [key])
        url = f"/webhooks/dataforseo/{self.kind}/{token}?id={TASK_ID}&tag=t1"
        return Req(self.method, url, {}, body if self.has_body else None)

    def unauthenticated(self, body):
        url = f"/webhooks/dataforseo/{self.kind}/?id={TASK_ID}&tag=t1"
        return Req(self.method, url, {}, body if self.has_body else None)

    def malformed_credentials(self, body):
        content = body if self.has_body else None
        make_token = make_action_token("discover", KEYS)
        no_job = _sign_raw({"x": 1})
        return {
            "garbage": Req(
                self.method, f"/webhooks/dataforseo/{self.kind}/garbage?id=1", {}, content
            ),
            "make token": Req(
                self.method, f"/webhooks/dataforseo/{self.kind}/{make_token}?id=1", {}, content
            ),
            "token without job": Req(
                self.method, f"/webhooks/dataforseo/{self.kind}/{no_job}?id=1", {}, content
            ),
        }


def _sign_raw(payload) -> str:
    from webhooks.tokens import DATAFORSEO_SALT, sign

    return sign(payload, KEYS, DATAFORSEO_SALT)


class TestPostbackSecurity(_DataForSEOCases):
    accepts_gzip = True
    max_body_bytes = 256 * 1024  # the real task_get fixture, plain, fits

    def valid_body(self) -> bytes:
        return json.dumps(TASK_GET).encode()

    def wrong_types_body(self) -> bytes:
        return json.dumps({"tasks": [{"id": 11151456}]}).encode()


class TestPingbackSecurity(_DataForSEOCases):
    has_body = False
    kind = "pingback"
    method = "GET"


# --- behaviour beyond the security cases ------------------------------------------------------


@pytest.fixture
def recording_accept():
    return RecordingAccept(known_task_ids={TASK_ID})


@pytest.fixture
def webhook_client(recording_accept, deliveries):
    with TestClient(
        webhook_app(recording_accept, deliveries.append, secret_keys=KEYS)
    ) as test_client:
        yield test_client


def test_gzip_postback_becomes_one_event_bound_to_the_job(
    webhook_client, recording_accept, deliveries
):
    response = webhook_client.post(
        postback_path(), content=gzip.compress(json.dumps(TASK_GET).encode())
    )
    assert response.status_code == 202, response.text
    assert response.json() == {"job_id": "job-1", "status_url": "/api/jobs/job-1/status"}
    [event] = recording_accept.events
    assert (event.source, event.action) == ("dataforseo_postback", "dataforseo_result")
    assert event.payload == TASK_GET  # the whole task_get body, untouched
    assert (event.job_id, event.task_id, event.tag) == ("job-7", TASK_ID, "t1")
    assert event.dedupe_key == f"dfs:{TASK_ID}"
    assert event.dedupe_window_seconds == DATAFORSEO_WINDOW_SECONDS
    assert event.received_at == NOW
    assert deliveries[-1].route == "dataforseo_postback" and deliveries[-1].verdict == "accepted"


def test_plain_json_postback_is_accepted_too(webhook_client, recording_accept):
    response = webhook_client.post(postback_path(), content=json.dumps(TASK_GET).encode())
    assert response.status_code == 202
    assert recording_accept.events[0].payload == TASK_GET


def test_content_encoding_header_is_not_needed_nor_trusted(webhook_client, recording_accept):
    body = gzip.compress(json.dumps(TASK_GET).encode())
    response = webhook_client.post(
        postback_path(), content=body, headers={"content-encoding": "gzip"}
    )
    # TestClient sends bytes as given; our gunzip is driven by the magic bytes alone.
    assert response.status_code == 202, response.text
    assert recording_accept.events[0].payload == TASK_GET


def test_multi_member_gzip_is_read_whole(webhook_client, recording_accept):
    raw = json.dumps(TASK_GET).encode()
    body = gzip.compress(raw[:1000]) + gzip.compress(raw[1000:])
    assert webhook_client.post(postback_path(), content=body).status_code == 202
    assert recording_accept.events[0].payload == TASK_GET


def test_gzip_followed_by_garbage_is_refused(webhook_client, recording_accept):
    body = gzip.compress(json.dumps(TASK_GET).encode()) + b"trailing"
    response = webhook_client.post(postback_path(), content=body)
    assert response.status_code == 400 and "gzip" in response.json()["error"]["message"]
    assert recording_accept.events == []


def test_repeated_postback_for_a_task_is_a_duplicate(webhook_client, recording_accept):
    body = gzip.compress(json.dumps(TASK_GET).encode())
    first = webhook_client.post(postback_path(), content=body)
    again = webhook_client.post(postback_path(), content=body)
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["duplicate"] is True and again.json()["job_id"] == first.json()["job_id"]


def test_task_the_hub_did_not_create_is_refused_404(webhook_client, recording_accept, deliveries):
    other = copy.deepcopy(TASK_GET)
    other["tasks"][0]["id"] = "99999999-0000-0000-0000-000000000000"
    response = webhook_client.post(
        postback_path(task_id=other["tasks"][0]["id"]), content=json.dumps(other).encode()
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_task"
    assert recording_accept.events == []
    assert (deliveries[-1].verdict, deliveries[-1].status) == ("refused", 404)


def test_id_must_name_a_task_in_the_body(webhook_client, recording_accept):
    response = webhook_client.post(
        postback_path(task_id="11111111-2222-3333-4444-555555555555"),
        content=json.dumps(TASK_GET).encode(),
    )
    assert response.status_code == 422
    assert "11111111-2222-3333-4444-555555555555" in response.json()["error"]["message"]
    assert recording_accept.events == []


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("", "missing_task_id"),
        ("?id=$id&tag=$tag", "missing_task_id"),
        ("?id=a%20b", "bad_task_id"),
        (f"?id={TASK_ID}&tag=" + "x" * 256, "bad_tag"),
    ],
)
def test_bad_query_is_refused_with_the_url_to_use(webhook_client, recording_accept, query, code):
    token = dataforseo_callback_token("job-7", KEYS)
    response = webhook_client.post(
        f"/webhooks/dataforseo/postback/{token}{query}", content=json.dumps(TASK_GET).encode()
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == code
    if code == "missing_task_id":
        assert "?id=$id&tag=$tag" in error["message"]
    assert recording_accept.events == []


@pytest.mark.parametrize(
    "body",
    [{"status_code": 20000}, {"tasks": {"id": TASK_ID}}, {"tasks": [TASK_ID]}, [TASK_GET], b""],
)
def test_body_not_shaped_like_task_get_is_refused(webhook_client, recording_accept, body):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = webhook_client.post(postback_path(), content=raw)
    assert response.status_code in (400, 422), response.text
    assert "task" in response.json()["error"]["message"]
    assert recording_accept.events == []


def test_pingback_is_a_get_with_an_empty_payload(webhook_client, recording_accept, deliveries):
    urls = dataforseo_callback_urls("http://testserver", "job-9", KEYS)
    url = urls.pingback_url.replace("$id", TASK_ID).replace("$tag", "")
    response = webhook_client.get(url)
    assert response.status_code == 202, response.text
    [event] = recording_accept.events
    assert (event.source, event.payload, event.job_id, event.tag) == (
        "dataforseo_pingback",
        {},
        "job-9",
        None,
    )
    assert event.dedupe_key == f"dfs:{TASK_ID}"
    assert webhook_client.post(url, content=b"{}").status_code == 405
    assert webhook_client.head(url).status_code == 405  # a link checker's HEAD queues nothing
    assert len(recording_accept.events) == 1
    assert deliveries[-1].route == "dataforseo_pingback"


def test_callback_urls_keep_the_placeholders_literal_and_work_once_substituted(
    webhook_client, recording_accept
):
    urls = dataforseo_callback_urls("https://hub.example.org/", "job-3", KEYS)
    for url in (urls.postback_url, urls.pingback_url):
        assert url.startswith("https://hub.example.org/webhooks/dataforseo/")
        assert url.endswith("?id=$id&tag=$tag")
        assert NEW_KEY not in url
    # What DataForSEO does: replace $id with the task id and $tag with the URL-encoded tag.
    tag = "art blogs & zines/UK"
    delivered = urls.postback_url.replace("$id", TASK_ID).replace("$tag", quote(tag, safe=""))
    parts = urlsplit(delivered)
    response = webhook_client.post(
        f"{parts.path}?{parts.query}", content=gzip.compress(json.dumps(TASK_GET).encode())
    )
    assert response.status_code == 202, response.text
    assert (recording_accept.events[0].job_id, recording_accept.events[0].tag) == ("job-3", tag)


def test_callback_token_survives_rotation(webhook_client, recording_accept):
    old_only = postback_path(keys=[OLD_KEY])
    assert webhook_client.post(old_only, content=json.dumps(TASK_GET).encode()).status_code == 202
