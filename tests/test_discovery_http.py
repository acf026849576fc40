"""Discovery through the running hub: DataForSEO postbacks over HTTP, and the whole chain.

Everything is real: the app (``create_app``), its inbox and job runner, the webhook routes, the
DataForSEO and Hunter emulators (which deliver callbacks over HTTP), the local store.
"""

from __future__ import annotations

import copy
import gzip
import json

import httpx
import pytest

from hub.app import build_services, create_app
from hub.config import Settings
from hub.discovery.tasks import task_book
from tests.emulators.dataforseo import LOGIN, PASSWORD, DataForSEOEmulator, organic
from tests.emulators.hunter import API_KEY as HUNTER_KEY
from tests.emulators.hunter import HunterEmulator
from tests.emulators.serve import free_port, serve_in_thread, wait_until
from tests.fixtures import load_real
from webhooks.dataforseo import dataforseo_callback_urls

API_KEY = "test-api-key"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
FIXTURE_DOMAINS = ["ethiopianairlines.com", "expedia.com", "skyscanner.com", "vietnamairlines.com"]


@pytest.fixture
def emulators():
    dfs, hunter = DataForSEOEmulator(auto_complete=False), HunterEmulator()
    with serve_in_thread(dfs.app) as dfs_server, serve_in_thread(hunter.app) as hunter_server:
        dfs.url, hunter.url = dfs_server.url, hunter_server.url + "/v2"
        yield dfs, hunter


@pytest.fixture
def served_hub(data_dir, local_store, emulators, monkeypatch):
    monkeypatch.chdir(data_dir.parent)
    dfs, hunter = emulators
    port = free_port()
    settings = Settings(
        _env_file=None,
        data_dir=data_dir,
        public_url=f"http://127.0.0.1:{port}",
        api_keys=[API_KEY],
        tick_minutes=0,
        dataforseo_login=LOGIN,
        dataforseo_password=PASSWORD,
        dataforseo_api_url=dfs.url,
        hunter_api_key=HUNTER_KEY,
        hunter_api_url=hunter.url,
    )
    services = build_services(settings, store=local_store)
    app = create_app(settings, services=services)
    with serve_in_thread(app, port=port) as server:
        server.app, server.services = app, services
        yield server
    services.close()


def job(server, job_id):
    return httpx.get(f"{server.url}/api/jobs/{job_id}/status", headers=AUTH).json()


def ended(server, job_id):
    status = job(server, job_id)
    return status if status["status"] in ("completed", "failed", "cancelled") else None


def test_gzip_postback_of_the_recorded_answer_adds_its_domains_once(served_hub, emulators):
    dfs, _ = emulators
    dfs.serp["flights"] = []  # whatever DataForSEO would say; we post the recording ourselves
    created = httpx.post(
        f"{served_hub.url}/api/jobs/discover", json={"keywords": ["flights"]}, headers=AUTH
    ).json()
    job_id = created["job_id"]
    book = task_book(served_hub.services)
    (task,) = wait_until(lambda: book.job_tasks(job_id), what="the posted task")
    answer = copy.deepcopy(load_real("dataforseo_serp_organic_task_get_regular.json"))
    answer["tasks"][0]["id"] = task.task_id
    body = gzip.compress(json.dumps(answer).encode())
    urls = dataforseo_callback_urls(served_hub.url, job_id, served_hub.app.state.secret_keys)
    url = urls.postback_url.replace("$id", task.task_id).replace("$tag", job_id)

    first = httpx.post(url, content=body, headers={"Content-Type": "application/json"})
    second = httpx.post(url, content=body, headers={"Content-Type": "application/json"})
    assert first.status_code == 202 and first.json()["job_id"] == job_id
    assert second.status_code == 200 and second.json()["job_id"] == job_id

    status = wait_until(lambda: ended(served_hub, job_id), what="the discover job")
    assert status["status"] == "completed", status["error"]
    assert status["result"]["added"] == 4
    assert sorted(r["domain"] for r in served_hub.services.store.rows()) == FIXTURE_DOMAINS


def test_postback_for_a_task_the_hub_never_created_is_refused(served_hub):
    created = httpx.post(
        f"{served_hub.url}/api/jobs/discover", json={"keywords": ["x"]}, headers=AUTH
    )
    job_id = created.json()["job_id"]
    urls = dataforseo_callback_urls(served_hub.url, job_id, served_hub.app.state.secret_keys)
    answer = copy.deepcopy(load_real("dataforseo_serp_organic_task_get_regular.json"))
    forged_id = answer["tasks"][0]["id"]
    url = urls.postback_url.replace("$id", forged_id).replace("$tag", "")
    response = httpx.post(url, content=gzip.compress(json.dumps(answer).encode()))
    assert response.status_code == 404
    assert served_hub.services.store.rows() == []


def test_one_discover_request_runs_discovery_enrichment_and_scoring(served_hub, emulators):
    dfs, hunter = emulators
    dfs.auto_complete = True  # DataForSEO finishes and calls back by itself
    dfs.serp["art blog"] = [
        organic(1, "www.painted-words.test", title="An art blog about painting"),
        organic(2, "gallery-notes.test", description="The art blog of a gallery"),
        organic(3, "www.youtube.com"),
    ]
    created = httpx.post(
        f"{served_hub.url}/api/jobs/discover",
        json={"keywords": ["art blog"], "locations": ["United States"]},
        headers=AUTH,
    )
    assert created.status_code == 202

    def scored():
        rows = served_hub.services.store.rows()
        return rows if len(rows) == 2 and all(r.get("score") for r in rows) else None

    rows = wait_until(scored, timeout=30, what="discovered rows to be enriched and scored")
    by_domain = {r["domain"]: r for r in rows}
    assert sorted(by_domain) == ["gallery-notes.test", "painted-words.test"]
    painted = by_domain["painted-words.test"]
    assert painted["contact_email"] == "olivia.martin@painted-words.test"
    assert painted["email_source"] == "hunter"
    assert "rank 1 +25" in painted["score_reasons"]
    assert "keyword in title +15" in painted["score_reasons"]
    assert "personal email 96% +30" in painted["score_reasons"]
    assert int(painted["score"]) > int(by_domain["gallery-notes.test"]["score"])
    assert [kind for kind, _, status in dfs.deliveries if status in (200, 202)] == [
        "postback_url",
        "pingback_url",
    ]
    assert hunter.requests["domain-search"] == 2
