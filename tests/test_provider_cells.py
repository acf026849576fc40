"""What providers hand us is checked like what people type: SERP hosts (DataForSEO) and the
addresses Hunter finds go through sheets.cells before they reach a row."""

from __future__ import annotations

import pytest

from hub.config import Settings
from hub.enrich.hunter import HunterEnricher
from hub.providers.dataforseo import build_serp
from hub.services import Services
from hub.stages.base import StageContext
from hub.stages.discover import run as discover_stage
from hub.stages.enrich import run as enrich_stage
from tests.emulators.dataforseo import LOGIN, PASSWORD, organic


async def test_discovery_keeps_ip_literals_and_junk_hosts_out_of_the_sheet(
    data_dir, local_store, dfs
):
    settings = Settings(
        _env_file=None,
        data_dir=data_dir,
        dataforseo_login=LOGIN,
        dataforseo_password=PASSWORD,
        dataforseo_api_url=dfs.url,
        secret_keys=["test-secret"],
    )
    services = Services(settings=settings, store=local_store, serp=build_serp(settings))
    dfs.serp["art blog"] = [
        organic(1, "www.good-gallery.test"),
        organic(2, "127.0.0.1", url="http://127.0.0.1/"),
        organic(3, "[::1]", url="http://[::1]/"),
        organic(4, "", url="http://[::1"),
        organic(5, "Bücher.test"),
    ]
    ctx = StageContext(
        job_id="j",
        job_type="discover",
        params={"keywords": "art blog", "live": True},
        services=services,
    )
    result = await discover_stage(ctx)
    await services.serp.aclose()
    assert result.summary["found"] == 5 and result.summary["added"] == 2
    assert result.summary["bad_domain"] == 3
    assert sorted(r["domain"] for r in local_store.rows()) == [
        "good-gallery.test",
        "xn--bcher-kva.test",
    ]


@pytest.mark.parametrize(
    "found",
    [
        "editor@@gallery.test",
        "ed itor@gallery.test",
        "editor@gallery.test\u202e",
        "editor@localhost",
    ],
)
async def test_an_address_hunter_found_is_checked_before_it_is_written(
    data_dir, local_store, hunter_world, found
):
    hunter_world.hunter.set_emails(
        "gallery.test", [{"value": found, "type": "personal", "confidence": 97, "first_name": "Ed"}]
    )
    hub_id = local_store.append([{"domain": "gallery.test"}]).added[0]
    settings = hunter_world.settings(data_dir)
    enricher = HunterEnricher(settings)
    services = Services(settings=settings, store=local_store, enricher=enricher)
    try:
        result = await enrich_stage(
            StageContext(job_id="j", job_type="enrich", params={}, services=services)
        )
    finally:
        await enricher.aclose()
    row = local_store.get(hub_id)
    assert result.summary.get("no_email") == 1 and "errors" not in result.summary
    assert row["outreach_status"] == "no_email" and not row.get("contact_email")
    assert row["hold_reason"].startswith("REVIEW:bad_email contact_email: ")
    assert row["last_error"].startswith("Hunter found an address that is not one mailbox: ")
