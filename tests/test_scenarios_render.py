"""The shipped blueprints: their shape, rendering, and what a running hub makes of their calls."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from hub.app import create_app
from hub.config import Settings
from scenarios.lint import lint_document
from scenarios.lint_context import LintOptions
from scenarios.markers import find_placeholders
from scenarios.render import RenderError, RenderOptions, catalogue, render, render_shipped
from tests.emulators.serve import serve_in_thread
from webhooks.signing import verify_hub
from webhooks.tokens import (
    DATAFORSEO_SALT,
    TokenError,
    body_signing_keys,
    verify,
    verify_make_token,
)

KEYS = ["old-key-0123456789abcdef", "new-key-fedcba9876543210"]
HUB = "https://hub.example.com"
NAMES = [b.name for b in catalogue()]
HUB_ACTIONS = {
    "weekly-discovery": {"discover"},
    "daily-tick": {"tick"},
    "sheet-row-changed": {"row_changed"},
    "dataforseo-task-post": set(),
    "hub-events-notify": set(),
}
_MAKE_URL = re.compile(r"/webhooks/make/([A-Za-z0-9_.\-]+)")
_DFS_URL = re.compile(
    r"/webhooks/dataforseo/(postback|pingback)/([A-Za-z0-9_.\-]+)\?id=\$id&tag=\$tag"
)


def options(**overrides: Any) -> RenderOptions:
    values = {"hub_url": HUB, "secret_keys": KEYS, "notify_email": "me@example.com"}
    return RenderOptions(**{**values, **overrides})


def modules(flow: list[dict[str, Any]]):
    for module in flow:
        yield module
        for route in module.get("routes") or []:
            yield from modules(route["flow"])
        yield from modules(module.get("onerror") or [])


def test_the_catalogue_ships_the_five_scenarios():
    assert sorted(NAMES) == sorted(HUB_ACTIONS)
    for blueprint in catalogue():
        assert blueprint.title and len(blueprint.summary) > 40
        assert "## After import" in blueprint.description


@pytest.mark.parametrize("name", NAMES)
def test_shipped_blueprints_have_the_shape_of_real_exports(name):
    document = next(b for b in catalogue() if b.name == name).load()
    assert set(document) == {"name", "flow", "metadata"}
    metadata = document["metadata"]
    assert {"instant", "version", "scenario", "designer", "zone"} <= set(metadata)
    assert metadata["scenario"]["dlq"] is True  # Break retries need incomplete executions
    ids = [m["id"] for m in modules(document["flow"])]
    assert len(ids) == len(set(ids))
    for module in modules(document["flow"]):
        assert re.fullmatch(r"[a-z0-9-]+:[A-Za-z0-9]+", module["module"])
        assert isinstance(module["version"], int)
        designer = module["metadata"]["designer"]
        assert isinstance(designer["x"], int) and isinstance(designer["y"], int)


@pytest.mark.parametrize("name", NAMES)
def test_unrendered_blueprints_only_warn_about_their_placeholders(name):
    document = next(b for b in catalogue() if b.name == name).load()
    findings = lint_document(document)
    assert findings and {(f.severity, f.code) for f in findings} == {("warning", "placeholder")}


@pytest.mark.parametrize("sign", [False, True], ids=["plain", "signed"])
@pytest.mark.parametrize("name", NAMES)
def test_rendered_blueprints_are_complete_and_lint_clean(name, sign):
    rendered = render_shipped(name, options(sign=sign, zone="us2.make.com"))
    text = json.dumps(rendered)
    assert find_placeholders(text) == []
    assert rendered["metadata"]["zone"] == "us2.make.com"
    assert lint_document(rendered, LintOptions(require_signature=sign)) == []
    actions = {verify_make_token(token, KEYS) for token in _MAKE_URL.findall(text)}
    assert actions == HUB_ACTIONS[name]
    assert all(
        url.startswith(HUB + "/webhooks/") for url in re.findall(r"https://hub[^\"\s]*", text)
    )


def test_tokens_are_signed_with_the_newest_key_and_refused_under_other_keys():
    text = json.dumps(render_shipped("daily-tick", options()))
    [token] = _MAKE_URL.findall(text)
    assert verify_make_token(token, KEYS[-1:]) == "tick"
    with pytest.raises(TokenError):
        verify_make_token(token, ["some-other-key"])


def test_dataforseo_callbacks_point_at_the_hub_with_a_job_token():
    rendered = render_shipped("dataforseo-task-post", options(dataforseo_job="weekly"))
    http = rendered["flow"][0]["mapper"]
    tasks = json.loads(http["data"])  # still a raw JSON array after rendering
    assert isinstance(tasks, list) and len(tasks) == 2
    kinds = set()
    for task in tasks:
        url = task.get("postback_url") or task.get("pingback_url")
        kind, token = _DFS_URL.search(url).groups()
        kinds.add(kind)
        assert url.startswith(HUB)
        assert verify(token, KEYS, DATAFORSEO_SALT) == {"j": "make-dfs:weekly"}
    assert kinds == {"postback", "pingback"}


def test_the_input_document_is_not_changed():
    document = next(b for b in catalogue() if b.name == "weekly-discovery").load()
    before = json.dumps(document)
    render(document, options(sign=True))
    assert json.dumps(document) == before


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"hub_url": "hub.example.com"}, "http(s) URL"),
        ({"hub_url": "ftp://hub.example.com"}, "http(s) URL"),
        ({"hub_url": "https://hub.example.com/?x=1"}, "query"),
        ({"secret_keys": []}, "no secret key"),
        ({"zone": "example.com"}, "not a Make zone"),
        ({"notify_email": ""}, "--notify-email"),
        ({"notify_email": "not an address"}, "not an e-mail"),
    ],
)
def test_render_refuses_what_it_cannot_fill(overrides, message):
    with pytest.raises(RenderError, match=re.escape(message)):
        render_shipped("hub-events-notify", options(**overrides))


def test_unknown_placeholders_are_refused():
    document = {"name": "x", "flow": [], "metadata": {"note": "__HUB_SOMETHING_NEW__"}}
    with pytest.raises(RenderError, match="__HUB_SOMETHING_NEW__"):
        render(document, options())


def test_signing_inserts_variables_and_keeps_the_filter_in_front():
    rendered = render_shipped("sheet-row-changed", options(sign=True))
    kinds = [m["module"] for m in rendered["flow"]]
    assert kinds == [
        "google-sheets:watchRows",
        "util:SetVariable2",
        "util:SetVariable2",
        "util:SetVariable2",
        "http:ActionSendData",
    ]
    assert "filter" in rendered["flow"][1] and "filter" not in rendered["flow"][4]
    xs = [m["metadata"]["designer"]["x"] for m in rendered["flow"]]
    assert xs == sorted(xs) and len(set(xs)) == len(xs)


# --- what Make would send, evaluated here ---------------------------------------------------------


class MakeRun:
    """Runs a rendered flow the way Make would for the few IML forms our blueprints use."""

    _REF = re.compile(r"(\d+)\.`?([^`]+?)`?")
    _HMAC = re.compile(r'sha256\((\d+)\.(\w+); "hex"; "([0-9a-f]+)"\)')

    def __init__(self, now: int, trigger_bundle: dict[str, str] | None = None):
        self.now = now
        self.trigger_bundle = trigger_bundle or {}
        self.outputs: dict[int, dict[str, str]] = {}

    def evaluate(self, text: str) -> str:
        return re.sub(r"\{\{(.+?)\}\}", lambda m: self._expression(m.group(1)), text)

    def _expression(self, expr: str) -> str:
        if expr == "timestamp":
            return str(self.now)
        if match := self._HMAC.fullmatch(expr):
            value = self.outputs[int(match[1])][match[2]]
            return hmac.new(match[3].encode(), value.encode(), hashlib.sha256).hexdigest()
        if match := self._REF.fullmatch(expr):
            return self.outputs[int(match[1])][match[2]]
        raise AssertionError(f"this test does not evaluate {{{{{expr}}}}}")

    def requests(self, flow: list[dict[str, Any]]) -> list[tuple[str, bytes, dict[str, str]]]:
        sent = []
        for module in flow:
            condition = (module.get("filter") or {}).get("conditions")
            if condition and not all(self.evaluate(c["a"]) for c in condition[0]):
                break  # "exist" filters only, in our blueprints
            kind, mapper = module["module"], module.get("mapper") or {}
            if kind == "google-sheets:watchRows":
                self.outputs[module["id"]] = self.trigger_bundle
            elif kind == "util:SetVariable2":
                self.outputs[module["id"]] = {mapper["name"]: self.evaluate(mapper["value"])}
            elif kind == "http:ActionSendData":
                headers = {h["name"]: self.evaluate(h["value"]) for h in mapper["headers"]}
                headers["Content-Type"] = mapper["contentType"]
                sent.append((mapper["url"], self.evaluate(mapper["data"]).encode(), headers))
        return sent


def test_signed_requests_verify_with_the_hub_signing_keys():
    now = int(time.time())
    rendered = render_shipped("weekly-discovery", options(sign=True))
    [(url, body, headers)] = MakeRun(now).requests(rendered["flow"])
    assert url.startswith(HUB + "/webhooks/make/")
    assert headers["X-Hub-Timestamp"] == str(now)
    verified = verify_hub(body, headers, body_signing_keys(KEYS), datetime.fromtimestamp(now, UTC))
    assert verified.timestamp == now
    assert json.loads(body)["keywords"]


@pytest.fixture
def hub_settings(data_dir, monkeypatch):
    monkeypatch.chdir(data_dir.parent)

    def make(require_signature: bool) -> Settings:
        return Settings(
            _env_file=None,
            data_dir=data_dir,
            secret_keys=KEYS,
            require_signature=require_signature,
            tick_minutes=0,
        )

    return make


@pytest.mark.parametrize("sign", [False, True], ids=["plain", "signed"])
def test_a_running_hub_accepts_every_rendered_call(hub_settings, sign):
    app = create_app(hub_settings(require_signature=sign))
    bundle = {"0": "hub-row-0001", "__ROW_NUMBER__": "2"}
    with serve_in_thread(app) as server:
        for name, actions in HUB_ACTIONS.items():
            if not actions:
                continue
            rendered = render_shipped(name, options(hub_url=server.url, sign=sign))
            requests = MakeRun(int(time.time()), bundle).requests(rendered["flow"])
            assert len(requests) == 1, name
            url, body, headers = requests[0]
            response = httpx.post(url, content=body, headers=headers, timeout=10)
            assert response.status_code == 202, (name, response.text)
            assert response.json().get("job_id")


def test_a_hub_that_requires_signatures_refuses_the_unsigned_render(hub_settings):
    app = create_app(hub_settings(require_signature=True))
    with serve_in_thread(app) as server:
        rendered = render_shipped("daily-tick", options(hub_url=server.url))
        [(url, body, headers)] = MakeRun(int(time.time())).requests(rendered["flow"])
        response = httpx.post(url, content=body, headers=headers, timeout=10)
    assert response.status_code == 401
    assert "signature" in response.text
