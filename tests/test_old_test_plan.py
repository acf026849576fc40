"""The old system's test plan, step for step, over HTTP against the running hub.

1. create a discovery job            POST /api/jobs/discover
2. poll its status                   GET  /api/jobs/{id}/status
3. see the enrichment job it started GET  /api/jobs?job_type=enrich
4. trigger enrichment by hand        POST /api/prospects/enrich
5. list prospects with an email      GET  /api/prospects?has_email=true
6. trigger a send job, auto-send on  POST /api/jobs/send?auto_send=true
7. list the sent prospects           GET  /api/prospects?status=sent

Everything is real: the app, the stages registered by ``hub.stages``, the DataForSEO and
Hunter emulators (DataForSEO calls back over HTTP), the template drafter, and Gmail through the
real google-api-python-client against the Gmail and OAuth emulators (the embedded outbox mailer
only previews, so nothing would ever read ``sent``). No HUB_SECRET_KEYS: the embedded key signs
the callback URLs and the unsubscribe links.
"""

from __future__ import annotations

from email.utils import parseaddr

import httpx
import pytest

from hub.app import create_app
from hub.config import Settings
from hub.stages.registry import STAGES
from tests.emulators import gmail_messages
from tests.emulators.dataforseo import LOGIN, PASSWORD, DataForSEOEmulator, organic
from tests.emulators.hunter import API_KEY as HUNTER_KEY
from tests.emulators.hunter import HunterEmulator
from tests.emulators.serve import free_port, serve_in_thread, wait_until
from tests.helpers_send_crash import gmail_world

AUTH = {"Authorization": "Bearer plan-key"}
DOMAINS = ["painted-words.test", "gallery-notes.test", "sculpture-daily.test"]


def needs(*stages: str) -> None:
    missing = [s for s in stages if s not in STAGES]
    if missing:
        pytest.skip(f"stage not landed yet: {', '.join(missing)}")


@pytest.fixture
def served_hub(data_dir, monkeypatch):
    monkeypatch.chdir(data_dir.parent)
    dfs, hunter = DataForSEOEmulator(auto_complete=True), HunterEmulator()
    dfs.serp["art blog"] = [organic(i + 1, f"www.{d}") for i, d in enumerate(DOMAINS)]
    with (
        serve_in_thread(dfs.app) as dfs_server,
        serve_in_thread(hunter.app) as hunter_server,
        gmail_world() as world,
    ):
        port = free_port()
        gmail = {k: v for k, v in world.settings.items() if k != "secret_keys"}
        settings = Settings(
            _env_file=None,
            **{
                **gmail,
                "data_dir": data_dir,
                "public_url": f"http://127.0.0.1:{port}",
                "api_keys": ["plan-key"],
                "tick_minutes": 0,
                "dataforseo_login": LOGIN,
                "dataforseo_password": PASSWORD,
                "dataforseo_api_url": dfs_server.url,
                "hunter_api_key": HUNTER_KEY,
                "hunter_api_url": hunter_server.url + "/v2",
                "require_approval": False,
            },
        )
        app = create_app(settings)
        with serve_in_thread(app, port=port) as server:
            server.app, server.gmail = app, world.gmail
            yield server


def api(served_hub, method: str, path: str, **kwargs) -> httpx.Response:
    return httpx.request(method, served_hub.url + path, headers=AUTH, timeout=10, **kwargs)


def ended(served_hub, job_id: str):
    status = api(served_hub, "GET", f"/api/jobs/{job_id}/status").json()
    return status if status["status"] in ("completed", "failed", "cancelled") else None


def settle(served_hub) -> None:
    """Wait until no job is pending or running (the chain has run its course)."""

    def idle():
        jobs = api(served_hub, "GET", "/api/jobs?limit=1000").json()["jobs"]
        return all(j["status"] not in ("pending", "running") for j in jobs)

    wait_until(idle, timeout=60, what="the job chain to settle")


def test_old_test_plan_step_by_step(served_hub):
    needs("discover", "enrich")
    # 1-2: discovery job, polled until done
    created = api(
        served_hub, "POST", "/api/jobs/discover", json={"keywords": ["art blog"], "max_results": 10}
    )
    assert created.status_code == 202
    discover_id = created.json()["job_id"]
    status = wait_until(lambda: ended(served_hub, discover_id), timeout=30, what="discovery")
    assert status["status"] == "completed", status["error"]
    assert status["progress"]["percent"] == 100.0

    # 3: the enrichment job discovery triggered
    enrich_jobs = api(served_hub, "GET", "/api/jobs?job_type=enrich").json()["jobs"]
    assert [j["parent_job_id"] for j in enrich_jobs] == [discover_id]

    # 4: enrichment by hand
    settle(served_hub)
    by_hand = api(served_hub, "POST", "/api/prospects/enrich?max_prospects=10")
    assert by_hand.status_code == 202
    manual = wait_until(lambda: ended(served_hub, by_hand.json()["job_id"]), what="manual enrich")
    assert manual["status"] == "completed", manual["error"]

    # 5: prospects with an email
    with_email = api(served_hub, "GET", "/api/prospects?has_email=true").json()
    assert sorted(p["domain"] for p in with_email["prospects"]) == sorted(DOMAINS)

    # 6: send with auto-send
    needs("draft", "send")
    settle(served_hub)
    send = api(served_hub, "POST", "/api/jobs/send?auto_send=true")
    assert send.status_code == 202
    sent_job = wait_until(lambda: ended(served_hub, send.json()["job_id"]), timeout=30, what="send")
    assert sent_job["status"] == "completed", sent_job["error"]

    # 7: the sent prospects
    sent = api(served_hub, "GET", "/api/prospects?status=sent").json()
    assert sorted(p["domain"] for p in sent["prospects"]) == sorted(DOMAINS)
    assert all(p.get("message_id") and p.get("last_sent") for p in sent["prospects"])
    assert len(served_hub.gmail.sent()) == len(DOMAINS)  # one message each, through Gmail

    # 8: a reply placed in the Gmail emulator is detected (the first reply check ever run)
    answered = sent["prospects"][0]
    to = answered["contact_email"]
    [first] = [m for m in served_hub.gmail.sent() if parseaddr(str(m.parsed["To"]))[1] == to]
    served_hub.gmail.deliver(
        gmail_messages.reply(first.parsed, from_addr=answered["contact_email"], body="Yes please!")
    )
    check = api(served_hub, "POST", "/api/jobs/check-replies")
    assert check.status_code == 202
    checked = wait_until(lambda: ended(served_hub, check.json()["job_id"]), what="reply check")
    assert checked["status"] == "completed", checked["error"]
    replied = api(served_hub, "GET", "/api/prospects?status=replied").json()["prospects"]
    assert [p["hub_id"] for p in replied] == [answered["hub_id"]]
    assert "Yes please" in replied[0]["reply_snippet"]
