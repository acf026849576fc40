"""Fetching a prospect's site without letting the site reach inside our network (SSRF).

Rules (API_NOTES.md, "SSRF when fetching prospect sites"):

- only ``http``/``https`` on ports 80/443;
- resolve every A/AAAA record and refuse the host if *any* address is not global, after
  unwrapping IPv4-mapped (``::ffff:a.b.c.d``), 6to4 (``2002::/16``) and NAT64
  (``64:ff9b::/96``) addresses — Python 3.11's ``is_global`` says True for
  ``64:ff9b::7f00:1`` and ``2002:7f00:1::``, which both embed 127.0.0.1;
- connect to the very address that was checked (no second DNS lookup an attacker could
  answer differently): the URL is rewritten to the IP, ``Host`` keeps the name and TLS gets the
  name through httpcore's ``sni_hostname`` extension, so certificates are still checked
  against the name;
- every redirect is checked again, at most 3; time (~10 s) and size (~2 MiB) are capped.

Local test sites run on loopback ports. :class:`SafeFetcher` has an explicit
``allow_loopback_for_tests`` constructor argument for them that no setting can reach, and even
then only the literal loopback addresses ``127.0.0.1``/``::1`` pass — never an address that
merely *embeds* loopback, and never any other private range.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]

ALLOWED_SCHEMES = {"http": 80, "https": 443}
MAX_REDIRECTS = 3
MAX_BYTES = 2 * 1024 * 1024
TIMEOUT_SECONDS = 10.0

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215 local-use: never global
_TEST_LOOPBACK = {ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")}


class Refused(Exception):
    """The URL or the address it resolves to may not be fetched; the message says why."""


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address hidden inside an IPv6 one (mapped, 6to4, NAT64), if any."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _plainly_global(address: IPAddress) -> bool:
    return address.is_global and not (
        address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or address.is_loopback
        or address.is_link_local
        or address.is_private
    )


def is_public_address(address: str | IPAddress) -> bool:
    """True only for an address a public web site may have (embedded IPv4 checked too)."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id or ip in _NAT64_LOCAL:
            return False
        inner = embedded_ipv4(ip)
        if inner is not None:
            return _plainly_global(inner)
    return _plainly_global(ip)


async def system_resolver(host: str, port: int) -> list[str]:
    """Every A and AAAA address of ``host`` (IP literals come back as themselves)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


@dataclass
class Page:
    url: str  # the final URL, after redirects
    status: int
    content_type: str
    text: str


class SafeFetcher:
    """GETs pages of public web sites only. One instance per event loop (owns an httpx client)."""

    def __init__(
        self,
        *,
        user_agent: str,
        resolver: Resolver = system_resolver,
        timeout: float = TIMEOUT_SECONDS,
        max_bytes: int = MAX_BYTES,
        allow_loopback_for_tests: bool = False,
        transport: httpx.AsyncBaseTransport | None = None,
    ):
        self._resolver = resolver
        self._timeout = timeout
        self._max_bytes = max_bytes
        self._allow_loopback = allow_loopback_for_tests
        self._http = httpx.AsyncClient(
            headers={"User-Agent": user_agent, "Accept": "text/html,text/plain;q=0.9,*/*;q=0.1"},
            timeout=timeout,
            follow_redirects=False,  # every hop is checked by us
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    def _check_url(self, url: str) -> tuple[str, str, int]:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ALLOWED_SCHEMES:
            raise Refused(f"only http and https are fetched, not {scheme or 'a bare path'!r}")
        host = parts.hostname
        if not host:
            raise Refused(f"no host in {url!r}")
        try:
            port = parts.port or ALLOWED_SCHEMES[scheme]
        except ValueError as exc:
            raise Refused(f"bad port in {url!r}") from exc
        if port not in (80, 443) and not self._allow_loopback:
            raise Refused(f"only ports 80 and 443 are fetched, not {port}")
        return scheme, host, port

    def _address_allowed(self, address: IPAddress, port: int) -> bool:
        if self._allow_loopback and address in _TEST_LOOPBACK:
            return True
        return port in (80, 443) and is_public_address(address)

    async def check_host(self, host: str, port: int) -> IPAddress:
        """Resolve ``host``; refuse it unless every address is allowed; return the first."""
        try:
            found = await self._resolver(host, port)
        except (OSError, UnicodeError) as exc:
            raise Refused(f"{host} does not resolve") from exc
        addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in found]
        if not addresses:
            raise Refused(f"{host} does not resolve")
        for address in addresses:
            if not self._address_allowed(address, port):
                raise Refused(f"{host} resolves to {address}, which is not a public address")
        return addresses[0]

    async def _request_once(self, url: str, deadline: float) -> httpx.Response | Page:
        scheme, host, port = self._check_url(url)
        address = await self.check_host(host, port)
        parts = urlsplit(url)
        ip_host = f"[{address}]" if address.version == 6 else str(address)
        netloc = ip_host if port == ALLOWED_SCHEMES[scheme] else f"{ip_host}:{port}"
        pinned = urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))
        host_header = host if port == ALLOWED_SCHEMES[scheme] else f"{host}:{port}"
        # TLS must still check the certificate against the name, not the pinned address.
        extensions = {"sni_hostname": host} if scheme == "https" else {}
        remaining = max(0.1, deadline - time.monotonic())
        request = self._http.build_request(
            "GET",
            pinned,
            headers={"Host": host_header},
            extensions=extensions,
            timeout=httpx.Timeout(remaining),
        )
        response = await self._http.send(request, stream=True)
        try:
            if response.is_redirect:
                return response
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > self._max_bytes:
                    break  # keep what fits: the contact details are rarely at the very end
                chunks.append(chunk)
                if time.monotonic() > deadline:
                    raise Refused(f"{url} took longer than {self._timeout:.0f} s")
            body = b"".join(chunks)[: self._max_bytes]
            encoding = response.charset_encoding or "utf-8"
            return Page(
                url=url,
                status=response.status_code,
                content_type=response.headers.get("content-type", ""),
                text=body.decode(encoding, errors="replace"),
            )
        finally:
            await response.aclose()

    async def get(self, url: str) -> Page:
        """Fetch ``url`` following at most 3 redirects, each re-checked. Raises :class:`Refused`
        for a forbidden target and ``httpx.HTTPError`` for network failures."""
        deadline = time.monotonic() + self._timeout
        for _hop in range(MAX_REDIRECTS + 1):
            outcome = await self._request_once(url, deadline)
            if isinstance(outcome, Page):
                return outcome
            location = outcome.headers.get("location", "")
            if not location:
                raise Refused(f"{url} redirects nowhere")
            url = urljoin(url, location)
        raise Refused(f"more than {MAX_REDIRECTS} redirects")
