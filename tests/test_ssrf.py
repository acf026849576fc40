"""The site fetcher never reaches a non-public address, however it is dressed up."""

from __future__ import annotations

import pytest

from hub.enrich.ssrf import Refused, SafeFetcher, embedded_ipv4, is_public_address
from tests.emulators.websites import fake_dns

# The SSRF list of API_NOTES.md, and the usual suspects around it.
FORBIDDEN = [
    "127.0.0.1",
    "127.1.2.3",
    "0.0.0.0",
    "10.0.0.1",
    "172.16.5.4",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata
    "100.64.0.1",  # carrier-grade NAT
    "224.0.0.1",  # multicast
    "240.0.0.1",  # reserved
    "255.255.255.255",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "fd12:3456::1",
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:10.0.0.1",
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1 (Python says is_global)
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "64:ff9b:1::1",  # NAT64 local-use prefix
    "2002:7f00:1::",  # 6to4 of 127.0.0.1 (Python says is_global)
    "2002:c0a8:101::1",  # 6to4 of 192.168.1.1
    "::7f00:1",  # IPv4-compatible (deprecated)
    "ff02::1",
]
PUBLIC = ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "64:ff9b::808:808", "2002:808:808::"]


@pytest.mark.parametrize("address", FORBIDDEN)
def test_forbidden_addresses_are_not_public(address):
    assert not is_public_address(address)


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_public(address):
    assert is_public_address(address)


def test_embedded_ipv4_is_unwrapped():
    import ipaddress

    for wrapped in ("::ffff:127.0.0.1", "64:ff9b::7f00:1", "2002:7f00:1::"):
        assert embedded_ipv4(ipaddress.ip_address(wrapped)) == ipaddress.ip_address("127.0.0.1")


def _fetcher(**kwargs) -> SafeFetcher:
    return SafeFetcher(user_agent="OutreachHubBot/test", resolver=fake_dns, **kwargs)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://localhost/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[64:ff9b::7f00:1]/",
        "http://[2002:7f00:1::]/",
        "http://nat64.test/",
        "http://sixtofour.test/",
        "http://mapped.test/",
        "http://private.test/",
        "http://metadata.test/latest/meta-data/",
        "http://mixed.test/",  # one public and one private record: refused
        "http://2130706433/",  # 127.0.0.1 written as a number
        "ftp://public.test/",
        "file:///etc/passwd",
        "http://public.test:8080/",
        "gopher://public.test:70/",
    ],
)
async def test_production_fetcher_refuses(url):
    fetcher = _fetcher()
    try:
        with pytest.raises(Refused):
            await fetcher.get(url)
    finally:
        await fetcher.aclose()


async def test_production_fetcher_refuses_the_local_test_sites(sites):
    fetcher = _fetcher()
    try:
        with pytest.raises(Refused):
            await fetcher.get(sites.url("plain.test"))
    finally:
        await fetcher.aclose()
    assert sites.requests == []


async def test_test_mode_fetches_loopback_through_the_checked_address(sites):
    fetcher = _fetcher(allow_loopback_for_tests=True)
    try:
        page = await fetcher.get(sites.url("plain.test"))
    finally:
        await fetcher.aclose()
    assert "editor@plain.test" in page.text
    # `plain.test` has no real DNS: the request reached the site only through the pinned IP,
    # with the name in Host.
    assert sites.requests[0][:2] == ("plain.test", "/")


@pytest.mark.parametrize(
    "host",
    ["to-nat64.test", "to-literal.test", "to-6to4.test", "to-private.test", "to-metadata.test"],
)
async def test_redirect_to_a_forbidden_address_is_refused_even_in_test_mode(sites, host):
    fetcher = _fetcher(allow_loopback_for_tests=True)
    try:
        with pytest.raises(Refused):
            await fetcher.get(sites.url(host))
    finally:
        await fetcher.aclose()
    # The first hop was fetched, the forbidden target never was.
    assert [h for h, _, _ in sites.requests] == [host]


async def test_more_than_three_redirects_are_refused(sites):
    fetcher = _fetcher(allow_loopback_for_tests=True)
    try:
        with pytest.raises(Refused, match="redirects"):
            await fetcher.get(sites.url("loop.test"))
    finally:
        await fetcher.aclose()
    assert [p for _, p, _ in sites.requests] == ["/", "/a", "/b", "/c"]


def test_settings_cannot_enable_loopback():
    from hub.config import Settings
    from hub.enrich import build_enricher

    settings = Settings(_env_file=None, allow_loopback_for_tests=True)  # ignored: not a setting
    enricher = build_enricher(settings)
    assert enricher._allow_loopback is False
