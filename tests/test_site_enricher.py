"""The site crawler finds the address a site publishes, and nothing it should not."""

from __future__ import annotations

import pytest

from hub.enrich.emails import parse_page
from hub.enrich.site import SiteEnricher
from tests.emulators.websites import TestSites, fake_dns


@pytest.fixture
async def enricher():
    crawler = SiteEnricher(
        user_agent="OutreachHubBot/0.1 (+http://hub.test)",
        delay=0,
        resolver=fake_dns,
        allow_loopback_for_tests=True,
    )
    yield crawler
    await crawler.aclose()


def _row(sites: TestSites, host: str) -> dict[str, str]:
    return {"hub_id": "h_1", "domain": host, "page_url": sites.url(host, "/post/1")}


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("plain.test", "editor@plain.test"),
        ("mailto.test", "hello@mailto.test"),
        ("obfuscated.test", "studio@obfuscated.test"),
        ("paren.test", "anna@paren.test"),
        ("deep.test", "submissions@deep.test"),
        ("elsewhere.test", "partner@elsewhere.test"),
    ],
)
async def test_finds_the_published_address(sites, enricher, host, expected):
    result = await enricher.enrich(_row(sites, host))
    assert result.outcome == "enriched"
    assert result.fields["contact_email"] == expected
    assert result.changes()["email_source"] == "site"
    assert result.changes()["outreach_status"] == "enriched"


async def test_contact_page_two_links_away_is_reached_and_unlikely_links_are_not(sites, enricher):
    await enricher.enrich(_row(sites, "deep.test"))
    paths = [p for h, p, _ in sites.requests if h == "deep.test"]
    assert "/contact-us" in paths and "/about" in paths
    assert "/shop" not in paths


async def test_robots_txt_is_respected(sites, enricher):
    result = await enricher.enrich(_row(sites, "robots.test"))
    assert result.outcome == "no_email"
    assert "/contact" not in [p for h, p, _ in sites.requests if h == "robots.test"]


async def test_an_honest_user_agent_is_sent(sites, enricher):
    await enricher.enrich(_row(sites, "plain.test"))
    assert {ua for _, _, ua in sites.requests} == {"OutreachHubBot/0.1 (+http://hub.test)"}


async def test_no_address_gives_no_email_with_a_reason(sites, enricher):
    result = await enricher.enrich(_row(sites, "empty.test"))
    assert result.outcome == "no_email"
    changes = result.changes()
    assert changes["outreach_status"] == "no_email"
    assert changes["hold_reason"] == "NO_EMAIL:site_none"
    assert "no published address" in changes["last_error"]


async def test_a_site_redirecting_to_a_forbidden_address_yields_no_email(sites, enricher):
    result = await enricher.enrich(_row(sites, "to-nat64.test"))
    assert result.outcome == "no_email"
    assert "not a public address" in result.reason


def test_false_positives_are_skipped():
    page = parse_page(
        '<img srcset="logo@2x.png 2x, hero@3x.jpg 3x"> noreply@site.test no-reply@site.test '
        "you@example.com <script>var x='tracker@sentry.io'</script> real&#64;site.test",
        "http://site.test/",
    )
    assert [f.email for f in page.found] == ["real@site.test"]


def test_cloudflare_protected_address_is_decoded():
    # "a@b.co" XOR 0x42, as Cloudflare writes it into data-cfemail
    encoded = "42" + bytes(c ^ 0x42 for c in b"a@b.co").hex()
    page = parse_page(
        f'<a class="__cf_email__" data-cfemail="{encoded}">[email]</a>', "http://b.co/"
    )
    assert [f.email for f in page.found] == ["a@b.co"]
