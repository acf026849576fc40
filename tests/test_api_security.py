"""The shared security cases (tests/webhook_cases.py) against the real hub app.

- ``/api`` with bearer keys: missing, wrong, rotated keys; malformed Authorization headers;
  invalid JSON; wrong types; oversized bodies -> the right 4xx and NOTHING queued (we look in
  the durable job table, not at a fake).
- ``/webhooks/make`` mounted by ``create_app`` with the real inbox: the same refusals leave the
  job table and inbox empty.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hub.app import create_app
from hub.config import Settings
from tests import test_webhooks_make as make_cases
from tests.webhook_cases import NEW_KEY, OLD_KEY, Req, WebhookSecurityCases


def hub_app(case, **overrides):
    case._tmp = tempfile.TemporaryDirectory()
    settings = Settings(
        _env_file=None,
        data_dir=Path(case._tmp.name) / "hub-data",
        tick_minutes=0,
        max_body_bytes=case.max_body_bytes,
        **overrides,
    )
    case.hub = create_app(settings)
    return case.hub


def queued_jobs(case) -> list[dict]:
    """Jobs created by requests (chained successors of an accepted job are not requests)."""
    state = case.hub.state.services.state
    return [job for job in state.list_jobs(limit=1000) if job["source"] != "chain"]


class TestApiBearerSecurity(WebhookSecurityCases):
    credential_word = "key"
    credentials_cover_body = False  # a bearer key authenticates the caller, not the body

    def build_app(self, accept, record):
        return hub_app(self, api_keys=list(self.secret_keys))

    def accepted(self):
        return queued_jobs(self)

    def authenticated(self, body, *, key=NEW_KEY, **overrides):
        headers = {"authorization": f"Bearer {key}", "content-type": "application/json"}
        return Req("POST", "/api/jobs/discover", headers, body)

    def unauthenticated(self, body):
        return Req("POST", "/api/jobs/discover", {"content-type": "application/json"}, body)

    def malformed_credentials(self, body):
        def with_auth(value: str) -> Req:
            return Req("POST", "/api/jobs/discover", {"authorization": value}, body)

        return {
            "garbage": with_auth("garbage"),
            "basic scheme": with_auth("Basic " + NEW_KEY),
            "empty bearer": with_auth("Bearer "),
            "key without scheme": with_auth(NEW_KEY),
        }

    def valid_body(self):
        return json.dumps({"keywords": ["art blog"], "locations": ["London"]}).encode()

    def wrong_types_body(self):
        return json.dumps({"keywords": 5, "max_results": "many", "live": "perhaps"}).encode()

    # --- /api specifics beyond the shared cases -------------------------------------------
    def test_no_keys_configured_means_closed_with_a_hint(self):
        app = hub_app(self)  # no HUB_API_KEYS
        from starlette.testclient import TestClient

        with TestClient(app) as client:
            response = client.get("/api/jobs", headers={"authorization": "Bearer anything"})
        assert response.status_code == 401
        assert "HUB_API_KEYS" in response.json()["error"]["message"]

    def test_every_api_route_needs_the_key(self):
        for method, path in (
            ("GET", "/api/jobs"),
            ("GET", "/api/stats"),
            ("GET", "/api/prospects"),
            ("GET", "/api/prospects/h_x"),
            ("POST", "/api/prospects/h_x/send"),
            ("POST", "/api/jobs/x/cancel"),
            ("POST", "/api/jobs/send?auto_send=true"),
            ("GET", "/api/nowhere"),
        ):
            response = self.client.request(method, path)
            assert response.status_code == 401, (method, path, response.text)
        assert self.accepted() == []

    def test_wrong_type_error_names_every_field(self):
        response = self.send(self.authenticated(self.wrong_types_body()))
        fields = {f["field"] for f in response.json()["error"]["fields"]}
        assert {"keywords", "max_results", "live"} <= fields

    def test_unknown_field_is_refused_not_ignored(self):
        body = json.dumps({"keywords": ["a"], "max_result": 5}).encode()
        response = self.send(self.authenticated(body))
        assert response.status_code == 422 and "max_result" in response.text
        assert self.accepted() == []

    def test_rotated_out_key_is_refused_once_removed(self):
        app = hub_app(self, api_keys=[NEW_KEY])
        from starlette.testclient import TestClient

        with TestClient(app) as client:
            response = client.get("/api/jobs", headers={"authorization": f"Bearer {OLD_KEY}"})
            assert response.status_code == 401
            ok = client.get("/api/jobs", headers={"authorization": f"Bearer {NEW_KEY}"})
            assert ok.status_code == 200


class TestHubMakeWebhookSecurity(make_cases.TestMakeTokenOnlySecurity):
    """The edge's Make cases, through the real inbox: refusals store and queue nothing."""

    def build_app(self, accept, record):
        return hub_app(self, secret_keys=list(self.secret_keys))

    def accepted(self):
        state = self.hub.state.services.state
        assert len(queued_jobs(self)) == state.query("SELECT COUNT(*) FROM inbox")[0][0]
        return queued_jobs(self)
