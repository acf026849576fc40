"""Hunter enrichment against the Hunter emulator: picks, limits, 403 vs 429/402 vs 401."""

from __future__ import annotations

import pytest

from hub.config import Settings
from hub.enrich.hunter import HunterEnricher
from hub.enrich.pick import NoPick, Pick, pick_best
from hub.enrich.site import SiteEnricher
from hub.errors import ProviderError
from hub.services import Services
from hub.stages.base import StageContext
from hub.stages.enrich import run as enrich_stage
from tests.emulators.hunter import API_KEY, HunterEmulator
from tests.emulators.serve import serve_in_thread
from tests.emulators.websites import TestSites, fake_dns
from tests.fixtures import load_real


def _email(value, kind="personal", confidence=90, status="valid", department=None, position=None):
    return {
        "value": value,
        "type": kind,
        "confidence": confidence,
        "first_name": value.split("@")[0].split(".")[0].title(),
        "last_name": None,
        "position": position,
        "department": department,
        "verification": {"date": None, "status": status},
    }


# --- picking -------------------------------------------------------------------------------
def test_pick_from_the_recorded_answer():
    picked = pick_best(load_real("hunter_domain_search.json")["data"], min_confidence=70)
    assert isinstance(picked, Pick)
    assert (picked.email, picked.name, picked.confidence, picked.status) == (
        "olivia.martin@acme.com",
        "Olivia Martin",
        96,
        "valid",
    )


def test_personal_before_generic_and_preferred_department_first():
    data = {
        "domain": "x.test",
        "emails": [
            _email("info@x.test", kind="generic", confidence=99),
            _email("sam.sales@x.test", confidence=95, department="sales"),
            _email("eve.editor@x.test", confidence=80, department="editorial"),
        ],
    }
    picked = pick_best(data, min_confidence=70, preferred_departments=["editorial"])
    assert picked.email == "eve.editor@x.test"


def test_invalid_and_low_confidence_addresses_are_never_picked():
    data = {
        "domain": "x.test",
        "emails": [
            _email("bad@x.test", status="invalid", confidence=99),
            _email("low@x.test", confidence=40),
        ],
    }
    picked = pick_best(data, min_confidence=70)
    assert isinstance(picked, NoPick) and picked.code == "low_confidence"
    assert "HUB_MIN_EMAIL_CONFIDENCE=70" in picked.reason


@pytest.mark.parametrize(
    ("policy", "expected"), [("accept", ""), ("review", "accept_all"), ("skip", None)]
)
def test_accept_all_policy(policy, expected):
    data = {"domain": "x.test", "accept_all": True, "emails": [_email("a.b@x.test", status=None)]}
    picked = pick_best(data, min_confidence=70, accept_all_policy=policy)
    if expected is None:
        assert isinstance(picked, NoPick) and picked.code == "accept_all"
    else:
        assert picked.review == expected and picked.status == "accept_all"


# --- against the emulator --------------------------------------------------------------------
def _settings(data_dir, hunter, **overrides) -> Settings:
    return Settings(
        _env_file=None,
        data_dir=data_dir,
        hunter_api_key=overrides.pop("hunter_api_key", API_KEY),
        hunter_api_url=hunter.url,
        **overrides,
    )


def _context(settings, store, enricher, **params) -> StageContext:
    services = Services(settings=settings, store=store, enricher=enricher)
    return StageContext(job_id="job_1", job_type="enrich", params=params, services=services)


def _add(store, *domains, **cells):
    report = store.append([{"domain": d, **cells} for d in domains])
    return report.added


async def test_enrich_stage_writes_hunters_pick(data_dir, local_store, hunter):
    settings = _settings(data_dir, hunter)
    (hub_id,) = _add(local_store, "artblog.test")
    enricher = HunterEnricher(settings)
    result = await enrich_stage(_context(settings, local_store, enricher))
    await enricher.aclose()
    row = local_store.get(hub_id)
    assert row["contact_email"] == "olivia.martin@artblog.test"
    assert row["contact_name"] == "Olivia Martin"
    assert row["contact_position"] == "Head of Sales"
    assert row["email_confidence"] == "96"
    assert row["email_status"] == "valid"
    assert row["email_source"] == "hunter"
    assert row["outreach_status"] == "enriched"
    assert result.summary["enriched"] == 1
    # no payload dumped into a cell
    assert all(len(v) < 200 for v in row.values())
    # a second run finds nothing eligible and asks Hunter nothing
    before = hunter.requests["domain-search"]
    again = await enrich_stage(_context(settings, local_store, HunterEnricher(settings)))
    assert again.summary["eligible"] == 0 and hunter.requests["domain-search"] == before


async def test_403_means_slow_down_and_is_retried(data_dir, local_store, hunter):
    settings = _settings(data_dir, hunter)
    (hub_id,) = _add(local_store, "slow.test")
    hunter.inject(403, retry_after=0, times=2)
    enricher = HunterEnricher(settings)
    await enrich_stage(_context(settings, local_store, enricher))
    await enricher.aclose()
    assert local_store.get(hub_id)["outreach_status"] == "enriched"
    assert hunter.requests["domain-search"] == 3


async def test_429_with_retry_after_is_a_rate_limit_and_retried(data_dir, local_store, hunter):
    settings = _settings(data_dir, hunter)
    (hub_id,) = _add(local_store, "busy.test")
    hunter.inject(429, retry_after=0)
    enricher = HunterEnricher(settings)
    await enrich_stage(_context(settings, local_store, enricher))
    await enricher.aclose()
    assert local_store.get(hub_id)["outreach_status"] == "enriched"


@pytest.mark.parametrize("quota_status", [429, 402])
async def test_used_up_plan_holds_the_remaining_rows(data_dir, local_store, hunter, quota_status):
    settings = _settings(data_dir, hunter)
    hunter.searches_left, hunter.quota_status = 2, quota_status
    ids = _add(local_store, *(f"d{i}.test" for i in range(6)))
    enricher = HunterEnricher(settings)
    enricher.concurrency = 1  # one row at a time: which rows get through is deterministic
    result = await enrich_stage(_context(settings, local_store, enricher))
    await enricher.aclose()
    rows = [local_store.get(i) for i in ids]
    assert [r["outreach_status"] for r in rows] == ["enriched"] * 2 + ["pending"] * 4
    assert [r.get("hold_reason", "") for r in rows[2:]] == ["HELD:hunter_quota"] * 4
    assert result.summary["stopped_reason"].startswith("HELD:hunter_quota")
    # Hunter was asked once more (the refused search) and then never again
    assert hunter.requests["domain-search"] == 3


async def test_401_fails_the_job_naming_the_key(data_dir, local_store, hunter):
    settings = _settings(data_dir, hunter, hunter_api_key="wrong")
    (hub_id,) = _add(local_store, "x.test")
    enricher = HunterEnricher(settings)
    with pytest.raises(ProviderError, match="HUNTER_API_KEY"):
        await enrich_stage(_context(settings, local_store, enricher))
    await enricher.aclose()
    assert local_store.get(hub_id)["outreach_status"] == "pending"
    assert "wrong" not in str(hunter.searched)


async def test_hand_typed_email_is_kept_without_asking_hunter(data_dir, local_store, hunter):
    settings = _settings(data_dir, hunter)
    (hub_id,) = _add(local_store, "mine.test", contact_email="me@mine.test")
    enricher = HunterEnricher(settings)
    await enrich_stage(_context(settings, local_store, enricher))
    row = local_store.get(hub_id)
    assert (row["contact_email"], row["email_source"], row["outreach_status"]) == (
        "me@mine.test",
        "manual",
        "enriched",
    )
    assert hunter.requests["domain-search"] == 0


async def test_nothing_from_hunter_falls_back_to_the_site(data_dir, local_store, hunter):
    sites = TestSites()
    with serve_in_thread(sites.app) as server:
        sites.port = server.port
        settings = _settings(data_dir, hunter)
        hunter.set_emails("plain.test", [])
        hunter.set_emails("empty.test", [])
        site = SiteEnricher(
            user_agent="t", delay=0, resolver=fake_dns, allow_loopback_for_tests=True
        )
        enricher = HunterEnricher(settings, fallback=site)
        plain, empty = (
            _add(local_store, host, page_url=sites.url(host, "/p"))[0]
            for host in ("plain.test", "empty.test")
        )
        await enrich_stage(_context(settings, local_store, enricher))
        await enricher.aclose()
    row = local_store.get(plain)
    assert (row["contact_email"], row["email_source"]) == ("editor@plain.test", "site")
    row = local_store.get(empty)
    assert row["outreach_status"] == "no_email"
    assert row["hold_reason"] == "NO_EMAIL:none_found"
    assert (
        "Hunter knows no address" in row["last_error"]
        and "no published address" in row["last_error"]
    )


async def test_verifier_result_is_used_and_invalid_is_refused(data_dir, local_store, hunter):
    settings = _settings(data_dir, hunter, verify_emails=True)
    hunter.set_emails("ok.test", [_email("ann.a@ok.test", status=None)])
    hunter.set_emails("bad.test", [_email("bob.b@bad.test", status=None)])
    hunter.verifications["bob.b@bad.test"] = "invalid"
    hunter.verifier_pending["ann.a@ok.test"] = 1  # 202 "still running" once
    ok, bad = _add(local_store, "ok.test", "bad.test")
    enricher = HunterEnricher(settings)
    await enrich_stage(_context(settings, local_store, enricher))
    await enricher.aclose()
    assert local_store.get(ok)["email_status"] == "valid"
    assert local_store.get(bad)["outreach_status"] == "no_email"
    assert local_store.get(bad)["hold_reason"] == "NO_EMAIL:invalid"


async def test_concurrent_enrichment_stays_inside_the_rate_limit(data_dir, local_store):
    emulator = HunterEmulator(per_second=100, per_minute=100_000)
    with serve_in_thread(emulator.app) as server:
        emulator.url = server.url + "/v2"
        settings = _settings(data_dir, emulator, hunter_rate_per_second=100, sheets_chunk_rows=50)
        ids = _add(local_store, *(f"site{i}.test" for i in range(180)))
        enricher = HunterEnricher(settings)
        progress = []
        ctx = _context(settings, local_store, enricher)
        ctx.report_progress = lambda done, total: progress.append((done, total))
        await enrich_stage(ctx)
        await enricher.aclose()
    assert emulator.violations == 0
    assert emulator.requests["domain-search"] == 180
    assert all(local_store.get(i)["outreach_status"] == "enriched" for i in ids)
    assert progress[-1] == (180, 180) and len(progress) >= 4  # one report per chunk of 50
