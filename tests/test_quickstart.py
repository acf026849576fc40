"""The quickstart's promise: the hub starts on embedded defaults with demo rows loaded."""

from __future__ import annotations

import httpx

from hub.app import create_app
from tests.emulators.serve import serve_in_thread


def test_hub_serves_healthz_and_loads_demo_rows(settings):
    settings.load_demo = True
    app = create_app(settings)
    with serve_in_thread(app) as server:
        assert httpx.get(server.url + "/healthz").json() == {"status": "ok"}
        store = app.state.services.store
        domains = {row["domain"] for row in store.rows()}
    assert "artblogweekly.example" in domains
    assert len(domains) == 5


def test_serve_without_api_keys_uses_a_private_embedded_key(settings):
    from hub.state.keys import adopt_api_keys

    path = adopt_api_keys(settings)
    assert path == settings.data_dir / "api_key"
    key = path.read_text().strip()
    assert settings.api_keys == [key] and len(key) >= 40
    assert path.stat().st_mode & 0o777 == 0o600
    # The same key on the next start, so a signed-in browser stays signed in.
    settings.api_keys = []
    adopt_api_keys(settings)
    assert settings.api_keys == [key]


def test_configured_api_keys_are_left_alone(settings):
    from hub.state.keys import adopt_api_keys

    settings.api_keys = ["mine"]
    assert adopt_api_keys(settings) is None
    assert settings.api_keys == ["mine"]
    assert not (settings.data_dir / "api_key").exists()


def test_quickstart_key_opens_the_api_and_status_page(settings):
    from hub.state.keys import adopt_api_keys

    adopt_api_keys(settings)
    key = settings.api_keys[0]
    app = create_app(settings)
    with serve_in_thread(app) as server:
        stats = httpx.get(server.url + "/api/stats", headers={"Authorization": f"Bearer {key}"})
        assert stats.status_code == 200
        page = httpx.get(server.url + "/")
        assert page.status_code == 200 and "Sign in" in page.text


def test_demo_signs_drafts_only_on_the_dry_run_outbox(settings):
    from hub.cli.serve import DEMO_SENDER_NAME, apply_demo_defaults

    assert apply_demo_defaults(settings) and settings.sender_name == DEMO_SENDER_NAME
    settings.sender_name = "Ada Artist"  # a name the user set is kept
    assert apply_demo_defaults(settings) == [] and settings.sender_name == "Ada Artist"
    settings.sender_name, settings.mailer = "", "gmail"  # never a made-up name on real mail
    assert apply_demo_defaults(settings) == [] and settings.sender_name == ""
