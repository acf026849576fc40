"""The DataForSEO client against the emulator: batches, envelope errors in a 200, locations."""

from __future__ import annotations

import pytest

from hub.errors import ProviderError, QuotaExhausted
from hub.providers.dataforseo import DataForSEOClient, explain, location_fields
from tests.emulators.dataforseo import LOGIN, PASSWORD, organic


@pytest.fixture
async def dfs_client(dfs):
    dfs_client = DataForSEOClient(LOGIN, PASSWORD, dfs.url)
    yield dfs_client
    await dfs_client.aclose()


def _task(keyword: str, **extra):
    return {"keyword": keyword, "location_code": 2840, "language_code": "en", **extra}


async def test_task_post_sends_at_most_100_tasks_per_request(dfs, dfs_client):
    answered = await dfs_client.task_post([_task(f"kw {i}") for i in range(150)])
    assert len(answered) == 150
    assert {t["status_code"] for t in answered} == {20100}
    assert dfs.requests["task_post"] == 2


async def test_a_bad_task_is_refused_on_its_own_inside_a_200(dfs, dfs_client):
    answered = await dfs_client.task_post(
        [_task("good"), _task(""), _task("x", postback_url="http://h/")]
    )
    assert [t["status_code"] for t in answered] == [20100, 40501, 40501]
    assert "Invalid Field: 'keyword'" in answered[1]["status_message"]


async def test_task_get_before_and_after_the_task_is_done(dfs, dfs_client):
    (posted,) = await dfs_client.task_post([_task("art blog")])
    waiting = await dfs_client.task_get(posted["id"])
    assert waiting["tasks"][0]["status_code"] == 40602
    assert await dfs_client.tasks_ready() == []
    await dfs.complete()
    assert [t["id"] for t in await dfs_client.tasks_ready()] == [posted["id"]]
    answer = await dfs_client.task_get(posted["id"])
    task = answer["tasks"][0]
    assert task["status_code"] == 20000 and task["id"] == posted["id"]
    assert task["result"][0]["keyword"] == "art blog"
    assert await dfs_client.tasks_ready() == []  # collected


async def test_live_answers_at_once_in_the_task_get_shape(dfs, dfs_client):
    dfs.serp["gallery"] = [organic(1, "www.gallery-one.test"), organic(2, "gallery-two.test")]
    answer = await dfs_client.live(_task("gallery"))
    items = answer["tasks"][0]["result"][0]["items"]
    assert [i["domain"] for i in items] == ["www.gallery-one.test", "gallery-two.test"]


async def test_wrong_credentials_name_the_settings(dfs):
    dfs_client = DataForSEOClient(LOGIN, "wrong", dfs.url)
    with pytest.raises(ProviderError, match="DATAFORSEO_LOGIN and DATAFORSEO_PASSWORD"):
        await dfs_client.tasks_ready()
    await dfs_client.aclose()


async def test_spend_limit_is_a_quota_error_in_plain_words(dfs, dfs_client):
    dfs.spend_limit_reached = True
    with pytest.raises(QuotaExhausted, match="40203 the daily spend limit"):
        await dfs_client.task_post([_task("x")])


def test_status_codes_in_plain_words():
    assert explain(40006, "").startswith("40006 too many tasks")
    assert explain(40501, "Invalid Field: 'keyword'.") == (
        "40501 a field of the task is invalid (Invalid Field: 'keyword'.)"
    )


def test_locations_by_name_or_code():
    assert location_fields("United States") == {"location_code": 2840}
    assert location_fields("2826") == {"location_code": 2826}
    assert location_fields("Lyon,Auvergne-Rhone-Alpes,France") == {
        "location_name": "Lyon,Auvergne-Rhone-Alpes,France"
    }
