"""Discovery: SERP answers become rows once, lost callbacks are recovered, jobs finish once.

The job runner is the real one (``hub.jobs.runner.JobRunner``, not started: the stage runs inline
here, and ``finish_job`` is the path DataForSEO callbacks and the sweep take).
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest

from hub.config import Settings
from hub.discovery.callbacks import process_callback
from hub.discovery.exclusions import Exclusions
from hub.discovery.plan import NotConfigured
from hub.discovery.sweep import sweep_lost_tasks
from hub.discovery.tasks import is_known_task, task_book
from hub.jobs.runner import JobRunner
from hub.providers.dataforseo import build_serp
from hub.services import Services
from hub.stages.base import StageContext
from hub.stages.discover import run as discover_stage
from hub.state.sqlite import State
from tests.emulators.dataforseo import LOGIN, PASSWORD, organic
from tests.fixtures import load_real
from webhooks.events import DATAFORSEO_ACTION, DATAFORSEO_WINDOW_SECONDS, InboundEvent

FIXTURE_KEYWORD = "flight ticket new york san francisco"
# The organic items of the recorded task_get answer, minus books.google.com (excluded).
FIXTURE_DOMAINS = ["ethiopianairlines.com", "expedia.com", "skyscanner.com", "vietnamairlines.com"]


def make_settings(data_dir, dfs, **overrides) -> Settings:
    return Settings(
        _env_file=None,
        data_dir=data_dir,
        dataforseo_login=LOGIN,
        dataforseo_password=PASSWORD,
        dataforseo_api_url=dfs.url,
        secret_keys=["test-secret"],
        **overrides,
    )


@pytest.fixture
def services(data_dir, local_store, dfs):
    settings = make_settings(data_dir, dfs)
    state = State(settings.state_db_path)
    services = Services(
        settings=settings, store=local_store, state=state, serp=build_serp(settings)
    )
    yield services
    state.close()


@pytest.fixture
def runner(services):
    return JobRunner(services)


async def start_discovery(services, runner, **params):
    job_id = await runner.submit("discover", params)
    ctx = StageContext(job_id=job_id, job_type="discover", params=params, services=services)
    return job_id, await discover_stage(ctx)


def callback(job_id, task_id, payload, source="dataforseo_postback") -> InboundEvent:
    return InboundEvent(
        source=source,
        action=DATAFORSEO_ACTION,
        payload=payload,
        dedupe_key=f"dfs:{task_id}",
        dedupe_window_seconds=DATAFORSEO_WINDOW_SECONDS,
        received_at=datetime.now(UTC),
        job_id=job_id,
        task_id=task_id,
        tag=job_id,
    )


def recorded_answer(task_id: str) -> dict:
    answer = copy.deepcopy(load_real("dataforseo_serp_organic_task_get_regular.json"))
    answer["tasks"][0]["id"] = task_id
    return answer


async def test_recorded_postback_adds_the_organic_domains_once(services, runner):
    job_id, result = await start_discovery(services, runner, keywords=[FIXTURE_KEYWORD])
    assert result.waiting and result.summary["tasks_posted"] == 1
    (task,) = task_book(services).job_tasks(job_id)
    assert is_known_task(services, job_id, task.task_id)
    assert not is_known_task(services, "another-job", task.task_id)

    event = callback(job_id, task.task_id, recorded_answer(task.task_id))
    await process_callback(services, runner, event)
    await process_callback(services, runner, event)  # delivered twice

    rows = services.store.rows()
    assert sorted(r["domain"] for r in rows) == FIXTURE_DOMAINS
    first = next(r for r in rows if r["domain"] == "skyscanner.com")
    assert first["page_url"].startswith("https://www.skyscanner.com/routes/")
    assert first["page_title"].startswith("Cheap flights from New York to San Franc")
    assert first["snippet"]
    assert (first["keyword"], first["location"], first["serp_rank"]) == (
        FIXTURE_KEYWORD,
        "United States",
        "1",
    )
    assert (first["discovery_job"], first["outreach_status"]) == (job_id, "pending")
    job = runner.get(job_id)
    assert job["status"] == "completed", job["error"]
    assert job["result"] | {} == {
        "tasks": 1,
        "tasks_done": 1,
        "tasks_failed": 0,
        "found": 5,
        "added": 4,
        "duplicates": 0,
        "excluded": 1,
    }


async def test_pingback_fetches_the_task_and_a_repeat_costs_nothing(services, runner, dfs):
    dfs.serp["art blog"] = [organic(1, "www.art-one.test"), organic(2, "art-two.test")]
    dfs.hold_callbacks = True
    job_id, _ = await start_discovery(services, runner, keywords=["art blog"])
    await dfs.complete()
    (task,) = task_book(services).job_tasks(job_id)
    ping = callback(job_id, task.task_id, {}, source="dataforseo_pingback")
    await process_callback(services, runner, ping)
    await process_callback(services, runner, ping)
    assert sorted(r["domain"] for r in services.store.rows()) == ["art-one.test", "art-two.test"]
    assert dfs.requests["task_get"] == 1
    assert runner.get(job_id)["status"] == "completed"


async def test_domains_already_in_the_store_are_not_added_again(services, runner, dfs):
    services.store.append([{"domain": "https://www.expedia.com/somewhere"}])
    job_id, _ = await start_discovery(services, runner, keywords=[FIXTURE_KEYWORD])
    (task,) = task_book(services).job_tasks(job_id)
    await process_callback(
        services, runner, callback(job_id, task.task_id, recorded_answer(task.task_id))
    )
    assert sorted(r["domain"] for r in services.store.rows()) == FIXTURE_DOMAINS
    assert runner.get(job_id)["result"]["duplicates"] == 1


def test_exclusions_match_subdomains_and_extend_the_defaults():
    rules = Exclusions(["big-marketplace.test"])
    assert rules.excludes("m.youtube.com") and rules.excludes("en.wikipedia.org")
    assert rules.excludes("shop.big-marketplace.test")
    assert not rules.excludes("notyoutube.com") and not rules.excludes("artblog.test")


async def test_lost_callbacks_are_recovered_by_the_sweep(services, runner, dfs):
    dfs.hold_callbacks = True
    job_id, result = await start_discovery(services, runner, keywords=["a", "b", "c"])
    assert result.summary["tasks_posted"] == 3
    book = task_book(services)
    # Not ready yet and not overdue: the sweep asks nothing.
    assert await sweep_lost_tasks(services, runner, older_than_seconds=60) == 0
    assert dfs.requests["tasks_ready"] == 0
    for task in book.job_tasks(job_id):
        book.backdate(task.task_id, 120)
    # Overdue but unfinished: tasks_ready lists none, so nothing is fetched.
    assert await sweep_lost_tasks(services, runner, older_than_seconds=60) == 0
    assert dfs.requests["task_get"] == 0
    await dfs.complete()  # finished at DataForSEO, callbacks lost
    assert dfs.deliveries == []
    assert await sweep_lost_tasks(services, runner, older_than_seconds=60) == 3
    job = runner.get(job_id)
    assert job["status"] == "completed", job["error"]
    assert job["result"]["tasks_done"] == 3
    # the default SERP for every keyword is the recorded one: 4 domains, once
    assert sorted(r["domain"] for r in services.store.rows()) == FIXTURE_DOMAINS
    assert await sweep_lost_tasks(services, runner, older_than_seconds=60) == 0


async def test_a_failed_task_fails_the_job_in_plain_words(services, runner):
    job_id, _ = await start_discovery(services, runner, keywords=["x"])
    (task,) = task_book(services).job_tasks(job_id)
    answer = recorded_answer(task.task_id)
    answer["tasks"][0].update(
        status_code=40501, status_message="Invalid Field: 'depth'.", result=None
    )
    await process_callback(services, runner, callback(job_id, task.task_id, answer))
    job = runner.get(job_id)
    assert job["status"] == "failed"
    assert "40501 a field of the task is invalid" in job["error"]


async def test_refused_tasks_are_named_and_the_rest_still_run(services, runner, dfs):
    dfs.refused_keywords = {"bad"}
    job_id, result = await start_discovery(services, runner, keywords=["good", "bad"])
    assert result.summary["tasks_posted"] == 1
    (refused,) = result.summary["tasks_refused"]
    assert refused.startswith("bad / United States: 40501 a field of the task is invalid")
    good = next(t for t in task_book(services).job_tasks(job_id) if t.status == "posted")
    await process_callback(
        services, runner, callback(job_id, good.task_id, recorded_answer(good.task_id))
    )
    job = runner.get(job_id)
    assert job["status"] == "completed"
    assert (job["result"]["tasks_done"], job["result"]["tasks_failed"]) == (1, 1)
    assert job["result"]["failures"][0]["keyword"] == "bad"


async def test_without_credentials_discover_fails_naming_the_setting(data_dir, local_store):
    settings = Settings(_env_file=None, data_dir=data_dir)
    services = Services(settings=settings, store=local_store, serp=build_serp(settings))
    ctx = StageContext(
        job_id="j", job_type="discover", params={"keywords": ["x"]}, services=services
    )
    with pytest.raises(NotConfigured, match="DATAFORSEO_LOGIN"):
        await discover_stage(ctx)


async def test_live_discovery_appends_in_one_go(data_dir, local_store, dfs):
    settings = make_settings(data_dir, dfs, excluded_domains=["two.test"])
    services = Services(settings=settings, store=local_store, serp=build_serp(settings))
    dfs.serp["art blog"] = [organic(i, f"www.site{i}.test") for i in range(1, 6)] + [
        organic(6, "www.youtube.com"),
        organic(7, "blog.two.test"),
    ]
    dfs.serp["art magazine"] = [organic(1, "site1.test"), organic(2, "mag.test")]
    params = {"keywords": "art blog, art magazine", "live": True, "max_results": 7}
    ctx = StageContext(job_id="j", job_type="discover", params=params, services=services)
    result = await discover_stage(ctx)
    assert not result.waiting
    assert result.summary == {
        "mode": "live",
        "tasks": 2,
        "found": 9,
        "added": 6,
        "duplicates": 1,
        "excluded": 2,
    }
    domains = [r["domain"] for r in local_store.rows()]
    assert sorted(domains) == ["mag.test"] + [f"site{i}.test" for i in range(1, 6)]
    await services.serp.aclose()
