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
