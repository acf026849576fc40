"""The enrich stage: which rows, in chunks, cancellable, retryable failures, embedded default."""

from __future__ import annotations

import pytest

from hub.config import Settings
from hub.enrich import build_enricher
from hub.enrich.hunter import HunterEnricher
from hub.enrich.site import SiteEnricher
from hub.services import Services
from hub.stages.base import JobCancelled, StageContext
from hub.stages.enrich import RETRY_HOLD, is_eligible
from hub.stages.enrich import run as enrich_stage
from sheets.local import LocalStore
from tests.emulators.hunter import API_KEY
from tests.emulators.serve import serve_in_thread
from tests.emulators.websites import TestSites, fake_dns


class CountingStore(LocalStore):
    """The local store, counting batched updates (to check one write per chunk)."""

    updates: list[int]

    def update(self, changes):
        self.updates.append(len(changes))
        return super().update(changes)


@pytest.fixture
def counting_store(data_dir):
    counting_store = CountingStore(data_dir / "counted.sqlite3")
    counting_store.updates = []
    counting_store.ensure_schema()
    yield counting_store
    counting_store.close()


def _settings(data_dir, hunter, **overrides):
    return Settings(
        _env_file=None,
        data_dir=data_dir,
        hunter_api_key=API_KEY,
        hunter_api_url=hunter.url,
        **overrides,
    )


def _ctx(settings, counting_store, enricher, **params):
    services = Services(settings=settings, store=counting_store, enricher=enricher)
    return StageContext(job_id="j", job_type="enrich", params=params, services=services)


@pytest.mark.parametrize(
    ("cells", "eligible"),
    [
        ({}, True),
        ({"outreach_status": "pending"}, True),
        ({"outreach_status": "pending", "hold_reason": "HELD:hunter_quota"}, True),
        ({"outreach_status": "failed", "hold_reason": RETRY_HOLD}, True),
        ({"outreach_status": "failed", "hold_reason": ""}, False),
        ({"outreach_status": "enriched"}, False),
        ({"outreach_status": "no_email"}, False),
        ({"outreach_status": "skip"}, False),
        ({"outreach_status": "do_not_contact"}, False),
    ],
)
def test_eligibility(cells, eligible):
    assert is_eligible({"domain": "x.test", **cells}) is eligible


async def test_results_are_written_in_chunks_one_update_each(data_dir, counting_store, hunter):
    settings = _settings(data_dir, hunter, sheets_chunk_rows=5)
    counting_store.append([{"domain": f"c{i}.test"} for i in range(12)])
    enricher = HunterEnricher(settings)
    result = await enrich_stage(_ctx(settings, counting_store, enricher))
    await enricher.aclose()
    assert sorted(counting_store.updates) == [2, 5, 5]
    assert result.summary["enriched"] == 12


async def test_prospect_ids_and_max_prospects_limit_the_rows(data_dir, counting_store, hunter):
    settings = _settings(data_dir, hunter)
    ids = counting_store.append([{"domain": f"l{i}.test"} for i in range(6)]).added
    enricher = HunterEnricher(settings)
    await enrich_stage(_ctx(settings, counting_store, enricher, prospect_ids=ids[:2]))
    await enrich_stage(_ctx(settings, counting_store, enricher, max_prospects=3))
    await enricher.aclose()
    statuses = [counting_store.get(i)["outreach_status"] for i in ids]
    assert statuses == ["enriched"] * 5 + ["pending"]


async def test_cancel_stops_between_chunks_and_keeps_what_was_written(
    data_dir, counting_store, hunter
):
    settings = _settings(data_dir, hunter, sheets_chunk_rows=3)
    ids = counting_store.append([{"domain": f"x{i}.test"} for i in range(30)]).added
    enricher = HunterEnricher(settings)
    enricher.concurrency = 1
    ctx = _ctx(settings, counting_store, enricher)
    ctx.is_cancelled = lambda: bool(counting_store.updates)  # cancelled once the first chunk is in
    with pytest.raises(JobCancelled):
        await enrich_stage(ctx)
    await enricher.aclose()
    statuses = [counting_store.get(i)["outreach_status"] for i in ids]
    assert statuses[:3] == ["enriched"] * 3
    assert statuses.count("pending") >= 25


async def test_provider_failure_is_retryable_by_the_next_run(data_dir, counting_store, hunter):
    settings = _settings(data_dir, hunter)
    (hub_id,) = counting_store.append([{"domain": "flaky.test"}]).added
    hunter.inject(503, retry_after=0, times=6)  # more than the client's attempts
    enricher = HunterEnricher(settings)
    await enrich_stage(_ctx(settings, counting_store, enricher))
    row = counting_store.get(hub_id)
    assert (row["outreach_status"], row["hold_reason"]) == ("failed", RETRY_HOLD)
    assert "server error 503" in row["last_error"]
    await enrich_stage(_ctx(settings, counting_store, enricher))
    await enricher.aclose()
    row = counting_store.get(hub_id)
    assert (row["outreach_status"], row.get("hold_reason", ""), row.get("last_error", "")) == (
        "enriched",
        "",
        "",
    )


def test_without_a_hunter_key_the_site_crawler_enriches(settings):
    assert isinstance(build_enricher(settings), SiteEnricher)


async def test_embedded_default_enriches_from_the_sites(data_dir, counting_store):
    sites = TestSites()
    with serve_in_thread(sites.app) as server:
        sites.port = server.port
        settings = Settings(_env_file=None, data_dir=data_dir)
        crawler = SiteEnricher(
            user_agent="t", delay=0, resolver=fake_dns, allow_loopback_for_tests=True
        )
        ids = counting_store.append(
            [{"domain": h, "page_url": sites.url(h, "/")} for h in ("deep.test", "empty.test")]
        ).added
        result = await enrich_stage(_ctx(settings, counting_store, crawler))
        await crawler.aclose()
    deep, empty = (counting_store.get(i) for i in ids)
    assert (deep["contact_email"], deep["outreach_status"]) == ("submissions@deep.test", "enriched")
    assert empty["outreach_status"] == "no_email"
    assert result.summary["provider"] == "site crawler"
