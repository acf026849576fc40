"""DataForSEO tasks posted by the shipped Make scenario ("dataforseo-task-post"): their callbacks
reach the hub through the URLs the rendered blueprint carries, and each task becomes a discovery
job of the hub (source ``make``) that ingests once, completes and chains into enrich.

Real parts only: the app (``create_app``) served over HTTP, its inbox, runner and webhook routes,
the rendered blueprint, the recorded ``task_get`` answer, the local store, and the DataForSEO
and Hunter emulators (the DataForSEO one posts and fetches tasks and delivers callbacks itself).
"""

from __future__ import annotations

import contextlib
import copy
import gzip
import json
import os
import re
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import pytest
from typer.testing import CliRunner

from hub.app import build_services, create_app
from hub.cli import app as cli_app
from hub.config import Settings
from hub.discovery.tasks import is_known_task, task_book
from scenarios.render import RenderError, RenderOptions, render_shipped
from tests.emulators.dataforseo import LOGIN, PASSWORD, DataForSEOEmulator, organic
from tests.emulators.hunter import API_KEY as HUNTER_KEY
from tests.emulators.hunter import HunterEmulator
from tests.emulators.serve import free_port, serve_in_thread, wait_until
from tests.fixtures import load_real
from webhooks.dataforseo import dataforseo_callback_urls
from webhooks.tokens import DATAFORSEO_SALT, sign, verify

KEYS = ["make-dfs-test-key-0123456789"]
API_KEY = "test-api-key"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
RECORDED = "dataforseo_serp_organic_task_get_regular.json"
RECORDED_DOMAINS = ["ethiopianairlines.com", "expedia.com", "skyscanner.com", "vietnamairlines.com"]
RECORDED_KEYWORD = "flight ticket new york san francisco"
_CALLBACK = re.compile(r"/webhooks/dataforseo/(postback|pingback)/([^/?]+)\?id=\$id&tag=\$tag$")


# --- the hub, with or without DataForSEO credentials ------------------------------------------
@pytest.fixture
def emulators():
    dfs, hunter = DataForSEOEmulator(), HunterEmulator()
    with serve_in_thread(dfs.app) as dfs_server, serve_in_thread(hunter.app) as hunter_server:
        dfs.url, hunter.url = dfs_server.url, hunter_server.url + "/v2"
        yield dfs, hunter


@pytest.fixture
def start_hub(data_dir, local_store, emulators, monkeypatch):
    monkeypatch.chdir(data_dir.parent)
    dfs, hunter = emulators
    stack = contextlib.ExitStack()

    def start(*, dataforseo: bool):
        port = free_port()
        credentials = (
            {"dataforseo_login": LOGIN, "dataforseo_password": PASSWORD} if dataforseo else {}
        )
        settings = Settings(
            _env_file=None,
            data_dir=data_dir,
            public_url=f"http://127.0.0.1:{port}",
            api_keys=[API_KEY],
            secret_keys=KEYS,
            tick_minutes=0,
            dataforseo_api_url=dfs.url,
            hunter_api_key=HUNTER_KEY,
            hunter_api_url=hunter.url,
            **credentials,
        )
        services = build_services(settings, store=local_store)
        stack.callback(services.close)  # after the server has stopped (LIFO)
        server = stack.enter_context(
            serve_in_thread(create_app(settings, services=services), port=port)
        )
        server.services = services
        return server

    with stack:
        yield start


# --- helpers ------------------------------------------------------------------------------------
def rendered_tasks(hub_url: str, **options: Any) -> list[dict[str, Any]]:
    """The task array the rendered blueprint's HTTP module posts to DataForSEO."""
    document = render_shipped(
        "dataforseo-task-post", RenderOptions(hub_url=hub_url, secret_keys=KEYS, **options)
    )
    return json.loads(document["flow"][0]["mapper"]["data"])


def callback_url(task: dict[str, Any], task_id: str) -> str:
    """What DataForSEO calls: ``$id`` and ``$tag`` (URL-encoded) replaced."""
    url = task.get("postback_url") or task["pingback_url"]
    return url.replace("$id", task_id).replace("$tag", quote(str(task.get("tag") or ""), safe=""))


def recorded_body(task_id: str | None = None, **data: Any) -> bytes:
    answer = copy.deepcopy(load_real(RECORDED))
    if task_id:
        answer["tasks"][0]["id"] = task_id
    answer["tasks"][0]["data"].update(data)
    return gzip.compress(json.dumps(answer).encode())


def api(server, path: str, **params: Any) -> dict[str, Any]:
    response = httpx.get(f"{server.url}/api{path}", params=params, headers=AUTH, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def ended(server, job_id: str) -> dict[str, Any] | None:
    status = api(server, f"/jobs/{job_id}/status")
    return status if status["status"] in ("completed", "failed", "cancelled") else None


def domains(server) -> list[str]:
    return sorted(row["domain"] for row in server.services.store.rows())


# --- the recorded postback through the rendered URL --------------------------------------------
def test_recorded_postback_through_the_rendered_url_opens_a_job_ingests_once_and_chains(
    start_hub,
):
    hub = start_hub(dataforseo=False)  # a postback carries its results: no credentials needed
    postback_task = next(t for t in rendered_tasks(hub.url) if "postback_url" in t)
    task_id = load_real(RECORDED)["tasks"][0]["id"]
    url = callback_url(postback_task, task_id)
    body = recorded_body()

    first = httpx.post(url, content=body, headers={"Content-Type": "application/json"})
    assert first.status_code == 202, first.text
    job_id = first.json()["job_id"]
    assert first.json()["status_url"] == f"/api/jobs/{job_id}/status"
    second = httpx.post(url, content=body, headers={"Content-Type": "application/json"})
    assert second.status_code == 200 and second.json()["job_id"] == job_id

    status = wait_until(lambda: ended(hub, job_id), what="the Make discovery job")
    assert status["status"] == "completed", status["error"]
    assert (status["job_type"], status["source"]) == ("discover", "make")
    assert status["params"]["keywords"] == [RECORDED_KEYWORD]
    assert status["params"]["locations"] == ["United States"]  # location_code 2840
    assert status["params"]["callback_grant"] == "make-dfs:make"
    assert status["result"]["added"] == 4 and status["result"]["tasks_done"] == 1
    listed = api(hub, "/jobs", job_type="discover")["jobs"]
    assert [j["job_id"] for j in listed] == [job_id]

    rows = hub.services.store.rows()
    assert domains(hub) == RECORDED_DOMAINS
    assert {r["discovery_job"] for r in rows} == {job_id}
    assert {r["keyword"] for r in rows} == {RECORDED_KEYWORD}

    enrich = wait_until(
        lambda: api(hub, "/jobs", job_type="enrich")["jobs"], what="the chained enrich job"
    )
    assert [j["parent_job_id"] for j in enrich] == [job_id]
    wait_until(lambda: ended(hub, enrich[0]["job_id"]), timeout=30, what="enrich to end")

    # Delivered again after the job ended (DataForSEO's webhook_resend): still nothing new.
    again = httpx.post(url, content=body, headers={"Content-Type": "application/json"})
    assert again.status_code == 200 and again.json()["job_id"] == job_id
    assert len(hub.services.store.rows()) == 4
    assert len(api(hub, "/jobs", job_type="discover")["jobs"]) == 1


def test_the_old_make_token_is_the_same_grant_as_the_default_render(start_hub):
    hub = start_hub(dataforseo=False)
    task_id = "11151456-0696-0066-0000-00000000old1"
    old_token = sign({"j": "make"}, KEYS, DATAFORSEO_SALT)  # rendered before the namespace
    old_url = f"{hub.url}/webhooks/dataforseo/postback/{old_token}?id={task_id}&tag=x"
    first = httpx.post(old_url, content=recorded_body(task_id))
    assert first.status_code == 202, first.text
    new_url = callback_url(next(t for t in rendered_tasks(hub.url) if "postback_url" in t), task_id)
    second = httpx.post(new_url, content=recorded_body(task_id))
    assert second.status_code == 200 and second.json()["job_id"] == first.json()["job_id"]
    status = wait_until(lambda: ended(hub, first.json()["job_id"]), what="the job")
    assert status["status"] == "completed" and status["result"]["added"] == 4
    assert is_known_task(hub.services, "make-dfs:make", task_id)
    assert not is_known_task(hub.services, "make-dfs:other", task_id)


# --- what stays refused ---------------------------------------------------------------------
def test_forged_plain_and_other_label_tokens_for_unknown_tasks_are_refused(start_hub):
    hub = start_hub(dataforseo=False)
    task_id = load_real(RECORDED)["tasks"][0]["id"]
    query = f"?id={task_id}&tag=make-postback"
    forged = sign({"j": "make-dfs:make"}, ["a-key-the-hub-does-not-have"], DATAFORSEO_SALT)
    response = httpx.post(f"{hub.url}/webhooks/dataforseo/postback/{forged}{query}",
                          content=recorded_body())  # fmt: skip
    assert response.status_code == 401  # the edge: the signature does not verify
    for job_id in ("make-dfs", "makers", "some-hub-job", "make-dfs:bad label"):
        plain = dataforseo_callback_urls(hub.url, job_id, KEYS).postback_url
        url = plain.replace("$id", task_id).replace("$tag", "make-postback")
        response = httpx.post(url, content=recorded_body())
        assert response.status_code == 404, (job_id, response.text)
        assert "not created by this hub" in response.json()["error"]["message"]
    assert hub.services.store.rows() == []
    assert api(hub, "/jobs")["count"] == 0
    assert task_book(hub.services).get(task_id) is None

    # Once a Make label owns the task, another label (or that job's own id for another task)
    # is still refused.
    own = callback_url(next(t for t in rendered_tasks(hub.url) if "postback_url" in t), task_id)
    job_id = httpx.post(own, content=recorded_body()).json()["job_id"]
    other = callback_url(
        next(t for t in rendered_tasks(hub.url, dataforseo_job="other") if "postback_url" in t),
        task_id,
    )
    assert httpx.post(other, content=recorded_body()).status_code == 404
    job_token = dataforseo_callback_urls(hub.url, job_id, KEYS).postback_url
    stranger = "11151456-0696-0066-0000-0000stranger"
    response = httpx.post(
        job_token.replace("$id", stranger).replace("$tag", ""), content=recorded_body(stranger)
    )
    assert response.status_code == 404
    wait_until(lambda: ended(hub, job_id), what="the job")
    assert len(hub.services.store.rows()) == 4


def test_pingback_without_dataforseo_credentials_is_refused_with_what_to_do(start_hub):
    hub = start_hub(dataforseo=False)
    pingback_task = next(t for t in rendered_tasks(hub.url) if "pingback_url" in t)
    response = httpx.get(callback_url(pingback_task, "11151456-0696-0066-0000-000000ping01"))
    assert response.status_code == 409
    message = response.json()["error"]["message"]
    assert "DATAFORSEO_LOGIN" in message and "DATAFORSEO_PASSWORD" in message
    assert "postback_data=advanced" in message
    assert api(hub, "/jobs")["count"] == 0
    assert task_book(hub.services).get("11151456-0696-0066-0000-000000ping01") is None


@pytest.mark.parametrize(
    "change, status, words",
    [
        ({"keyword": ""}, 422, "data.keyword"),
        ({"se_type": "news"}, 422, "not a Google organic SERP task"),
    ],
)
def test_a_postback_that_is_not_a_serp_answer_opens_nothing(start_hub, change, status, words):
    hub = start_hub(dataforseo=False)
    task_id = "11151456-0696-0066-0000-0000notserp"
    url = callback_url(next(t for t in rendered_tasks(hub.url) if "postback_url" in t), task_id)
    response = httpx.post(url, content=recorded_body(task_id, **change))
    assert response.status_code == status
    assert words in response.json()["error"]["message"]
    assert api(hub, "/jobs")["count"] == 0
    assert hub.services.store.rows() == []


def test_a_postback_without_results_needs_credentials_to_fetch_them(start_hub):
    hub = start_hub(dataforseo=False)
    task_id = "11151456-0696-0066-0000-00000nores1"
    answer = copy.deepcopy(load_real(RECORDED))
    answer["tasks"][0].update(id=task_id, result=None)
    url = callback_url(next(t for t in rendered_tasks(hub.url) if "postback_url" in t), task_id)
    response = httpx.post(url, content=gzip.compress(json.dumps(answer).encode()))
    assert response.status_code == 409 and "DATAFORSEO_LOGIN" in response.text
    assert api(hub, "/jobs")["count"] == 0


def test_a_task_dataforseo_reports_failed_fails_its_job_and_chains_nothing(start_hub):
    hub = start_hub(dataforseo=False)
    task_id = "11151456-0696-0066-0000-0000failed1"
    answer = copy.deepcopy(load_real(RECORDED))
    answer["tasks"][0].update(
        id=task_id, status_code=40501, status_message="Invalid Field: 'keyword'.", result=None
    )
    url = callback_url(next(t for t in rendered_tasks(hub.url) if "postback_url" in t), task_id)
    response = httpx.post(url, content=gzip.compress(json.dumps(answer).encode()))
    assert response.status_code == 202, response.text
    status = wait_until(lambda: ended(hub, response.json()["job_id"]), what="the job")
    assert status["status"] == "failed" and "40501" in status["error"]
    assert status["result"]["failures"][0]["keyword"] == RECORDED_KEYWORD
    assert hub.services.store.rows() == []
    assert api(hub, "/jobs", job_type="enrich")["count"] == 0


# --- the whole scenario: Make posts the rendered tasks, DataForSEO calls back -------------------
def test_the_rendered_scenario_posted_to_dataforseo_delivers_both_tasks(start_hub, emulators):
    dfs, _ = emulators
    hub = start_hub(dataforseo=True)  # the pingback task is fetched with task_get
    dfs.serp["art blog"] = [organic(1, "www.painted-words.test"), organic(2, "www.youtube.com")]
    dfs.serp["contemporary art magazine"] = [organic(1, "frieze-notes.test")]
    tasks = rendered_tasks(hub.url)
    # What Make's HTTP module sends: the raw JSON array, with the DataForSEO login.
    path = urlsplit("https://api.dataforseo.com/v3/serp/google/organic/task_post").path
    posted = httpx.post(
        dfs.url + path,
        content=json.dumps(tasks),
        headers={"Content-Type": "application/json"},
        auth=(LOGIN, PASSWORD),
    ).json()
    assert [t["status_code"] for t in posted["tasks"]] == [20100, 20100]
    book = task_book(hub.services)

    def both_done():
        jobs = api(hub, "/jobs", job_type="discover")["jobs"]
        done = [j for j in jobs if j["status"] == "completed"]
        return jobs if len(jobs) == 2 and len(done) == 2 else None

    jobs = wait_until(both_done, timeout=30, what="both Make discovery jobs to complete")
    assert sorted(kind for kind, _, status in dfs.deliveries if status == 202) == [
        "pingback_url",
        "postback_url",
    ]
    by_keyword = {}
    for job in jobs:
        assert job["source"] == "make"
        (record,) = book.job_tasks(job["job_id"])
        by_keyword[record.keyword] = job
        assert record.location == "United Kingdom" and record.status == "done"
    assert sorted(by_keyword) == ["art blog", "contemporary art magazine"]
    assert domains(hub) == ["frieze-notes.test", "painted-words.test"]  # youtube is excluded
    rows = {r["domain"]: r for r in hub.services.store.rows()}
    assert (
        rows["frieze-notes.test"]["discovery_job"]
        == (by_keyword["contemporary art magazine"]["job_id"])
    )
    assert dfs.requests["task_get"] == 1  # only the pingback needed a fetch


# --- rendering the grant ----------------------------------------------------------------------
def _tokens(tasks: list[dict[str, Any]]) -> set[str]:
    found = set()
    for task in tasks:
        url = task.get("postback_url") or task.get("pingback_url")
        found.add(_CALLBACK.search(url)[2])
    return found


@pytest.mark.parametrize(
    "label, job",
    [(None, "make-dfs:make"), ("weekly", "make-dfs:weekly"), ("make-dfs:w", "make-dfs:w")],
)
def test_render_mints_a_token_for_the_make_namespace(label, job):
    options = {} if label is None else {"dataforseo_job": label}
    (token,) = _tokens(rendered_tasks("https://hub.example.com", **options))
    assert verify(token, KEYS, DATAFORSEO_SALT) == {"j": job}


def test_render_refuses_a_label_that_cannot_be_a_grant():
    with pytest.raises(RenderError, match="--dataforseo-job"):
        rendered_tasks("https://hub.example.com", dataforseo_job="two words")


def test_cli_render_keeps_the_dataforseo_job_option(data_dir, monkeypatch):
    monkeypatch.chdir(data_dir.parent)
    for name in list(os.environ):
        if name.startswith(("HUB_", "DATAFORSEO_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HUB_DATA_DIR", str(data_dir))
    monkeypatch.setenv("HUB_SECRET_KEYS", ",".join(KEYS))
    args = ["scenarios", "render", "dataforseo-task-post", "--hub-url", "https://h.example.com"]
    runner = CliRunner()
    default = runner.invoke(cli_app, args, catch_exceptions=False)
    labelled = runner.invoke(cli_app, [*args, "--dataforseo-job", "weekly"], catch_exceptions=False)
    assert default.exit_code == 0 and labelled.exit_code == 0, default.output + labelled.output
    for result, job in ((default, "make-dfs:make"), (labelled, "make-dfs:weekly")):
        data = json.loads(json.loads(result.stdout)["flow"][0]["mapper"]["data"])
        (token,) = _tokens(data)
        assert verify(token, KEYS, DATAFORSEO_SALT) == {"j": job}
