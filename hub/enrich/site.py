"""The embedded enricher: read the prospect's own site for an address it publishes.

Used when there is no Hunter key, and as the fallback when Hunter finds nothing. It reads the
home page (and the page the prospect was found on), then follows links that look like contact,
about, submission, press or "write for us" pages, at most two links deep, within the site.

Polite by design: one request at a time per host with a pause between them, an honest
User-Agent, robots.txt respected, and every fetch SSRF-checked (:mod:`hub.enrich.ssrf`).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import deque
from urllib.parse import urljoin, urlsplit, urlunsplit
from urllib.robotparser import RobotFileParser

import httpx

from hub.enrich.base import EnrichResult
from hub.enrich.emails import Found, belongs_to, choose, parse_page, same_site
from hub.enrich.ssrf import Refused, Resolver, SafeFetcher, system_resolver

log = logging.getLogger(__name__)

USER_AGENT_TOKEN = "OutreachHubBot"
LIKELY_PAGE = re.compile(
    r"contact|about|submi(?:t|ssion)|press|write[-_ ]?for[-_ ]?us|contribut|pitch|team|"
    r"masthead|impressum|advertis|guest[-_ ]?post|kontakt|contatt",
    re.IGNORECASE,
)
CONTACT_PAGE = re.compile(r"contact|submi|write[-_ ]?for|pitch|kontakt", re.IGNORECASE)
MAX_DEPTH = 2
MAX_PAGES = 8


class SiteCrawl:
    """One crawl of one site: robots.txt, home page, likely pages; collects addresses."""

    def __init__(self, fetcher: SafeFetcher, *, delay: float, max_pages: int = MAX_PAGES):
        self.fetcher = fetcher
        self.delay = delay
        self.max_pages = max_pages
        self.found: list[Found] = []
        self.contact_pages: set[str] = set()
        self.pages_read = 0
        self._robots: RobotFileParser | None = None
        self._last_request = 0.0

    async def _polite_get(self, url: str):
        wait = self._last_request + self.delay - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        try:
            return await self.fetcher.get(url)
        finally:
            self._last_request = time.monotonic()

    async def _load_robots(self, origin: str) -> None:
        robots = RobotFileParser()
        try:
            page = await self._polite_get(origin + "/robots.txt")
        except (Refused, httpx.HTTPError):
            robots.allow_all = True
        else:
            if page.status in (401, 403):
                robots.disallow_all = True
            elif page.status >= 400 or "html" in page.content_type:
                robots.allow_all = True
            else:
                robots.parse(page.text.splitlines())
        self._robots = robots

    def allowed(self, url: str) -> bool:
        return self._robots is None or self._robots.can_fetch(USER_AGENT_TOKEN, url)

    async def run(self, start_urls: list[str], site_domain: str) -> None:
        origin = _origin(start_urls[0])
        await self._load_robots(origin)
        site_host = urlsplit(origin).hostname or site_domain
        queue: deque[tuple[str, int]] = deque((url, 0) for url in start_urls)
        seen: set[str] = set()
        first_error: Exception | None = None
        while queue and self.pages_read < self.max_pages:
            url, depth = queue.popleft()
            key = url.split("#", 1)[0].rstrip("/")
            if key in seen or not self.allowed(url):
                continue
            seen.add(key)
            try:
                page = await self._polite_get(url)
            except Refused:
                if self.pages_read == 0 and depth == 0 and url == start_urls[0]:
                    raise
                continue
            except httpx.HTTPError as exc:
                first_error = first_error or exc
                continue
            self.pages_read += 1
            kind = page.content_type.lower()
            if page.status >= 400 or (kind and "html" not in kind and "text" not in kind):
                continue
            parsed = parse_page(page.text, page.url)
            if CONTACT_PAGE.search(page.url):
                self.contact_pages.add(page.url)
            self.found.extend(parsed.found)
            if self._good_enough(site_domain):
                return
            if depth < MAX_DEPTH:
                for href, anchor in parsed.links:
                    target = urljoin(page.url, href)
                    if not target.startswith(("http://", "https://")):
                        continue
                    if same_site(target, site_host) and LIKELY_PAGE.search(
                        f"{urlsplit(target).path} {anchor}"
                    ):
                        queue.append((target.split("#", 1)[0], depth + 1))
        if self.pages_read == 0 and first_error is not None:
            raise first_error

    def _good_enough(self, site_domain: str) -> bool:
        """Stop early once an own-domain address turned up on a contact-like page."""
        return any(
            belongs_to(f.email, site_domain) and f.page_url in self.contact_pages
            for f in self.found
        )


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "", "", ""))


def start_urls(row: dict[str, str]) -> list[str]:
    """Home page first (of the host the prospect was found on), then that page itself."""
    domain = (row.get("domain") or "").strip()
    page_url = (row.get("page_url") or "").strip()
    if page_url.startswith(("http://", "https://")) and same_site(page_url, domain):
        urls = [_origin(page_url) + "/", page_url]
    else:
        urls = [f"https://{domain}/"]
    return list(dict.fromkeys(urls))


class SiteEnricher:
    provider_name = "site crawler"
    concurrency = 8

    def __init__(
        self,
        *,
        user_agent: str,
        delay: float = 1.0,
        resolver: Resolver = system_resolver,
        allow_loopback_for_tests: bool = False,
    ):
        self._user_agent = user_agent
        self._delay = delay
        self._resolver = resolver
        self._allow_loopback = allow_loopback_for_tests
        self._fetchers: dict[int, SafeFetcher] = {}
        self._host_locks: dict[str, asyncio.Lock] = {}

    def _fetcher(self) -> SafeFetcher:
        # httpx clients belong to one event loop; the CLI and tests may use several.
        loop_id = id(asyncio.get_running_loop())
        if loop_id not in self._fetchers:
            self._fetchers = {
                loop_id: SafeFetcher(
                    user_agent=self._user_agent,
                    resolver=self._resolver,
                    allow_loopback_for_tests=self._allow_loopback,
                )
            }
            self._host_locks = {}
        return self._fetchers[loop_id]

    async def find_address(self, row: dict[str, str]) -> tuple[Found | None, str]:
        """The best published address, or None and the reason."""
        domain = (row.get("domain") or "").strip().lower()
        if not domain:
            return None, "the row has no domain"
        urls = start_urls(row)
        host = urlsplit(urls[0]).hostname or domain
        lock = self._host_locks.setdefault(host, asyncio.Lock())
        crawl = SiteCrawl(self._fetcher(), delay=self._delay)
        async with lock:  # one crawl at a time per host
            try:
                await crawl.run(urls, domain)
            except Refused as exc:
                return None, f"the site may not be fetched: {exc}"
            except httpx.HTTPError as exc:
                return None, f"the site could not be reached ({type(exc).__name__})"
        best = choose(crawl.found, domain, crawl.contact_pages)
        if best is None:
            return None, f"no published address on {crawl.pages_read} pages of {domain}"
        return best, ""

    async def enrich(self, row: dict[str, str]) -> EnrichResult:
        best, reason = await self.find_address(row)
        if best is None:
            return EnrichResult.no_email("site_none", reason)
        return EnrichResult.enriched(
            contact_email=best.email,
            email_status="published",
            email_source="site",
            email_confidence="",
        )

    async def aclose(self) -> None:
        for fetcher in self._fetchers.values():
            await fetcher.aclose()
        self._fetchers = {}

    def close(self) -> None:
        # Services.close() is synchronous; the clients' sockets close with their loop.
        self._fetchers = {}
