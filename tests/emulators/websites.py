"""Local test web sites for the site enricher, served by one app on a loopback port.

Sites are virtual hosts (``plain.test``, ``deep.test``, ...), picked by the ``Host`` header —
which is also how the SSRF-safe fetcher talks to them: it connects to the address it checked
and sends the name in ``Host``. :func:`fake_dns` answers DNS for these names (the system
resolver knows none of them), including names that resolve to forbidden addresses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route


@dataclass
class Redirect:
    to: str  # may contain {port}
    status: int = 302


Page = str | Redirect | Callable[[int], str]


def html(body: str, title: str = "Test site") -> str:
    return f"<!doctype html><html><head><title>{title}</title></head><body>{body}</body></html>"


def default_sites() -> dict[str, dict[str, Page]]:
    return {
        "plain.test": {
            "/": html("<p>Pitches welcome: write to editor@plain.test any time.</p>"),
        },
        "mailto.test": {
            "/": html(
                '<img src="/img/logo@2x.png" alt="logo@2x.png">'
                "<p>Automated mail comes from noreply@mailto.test.</p>"
                '<a href="mailto:hello@mailto.test?subject=Hello">Email us</a>'
            ),
        },
        "obfuscated.test": {
            "/": html("<p>Contact: studio [at] obfuscated [dot] test</p>"),
        },
        "paren.test": {
            "/": html("<p>Reach Anna: anna(at)paren.test</p>"),
        },
        "deep.test": {
            "/": html('<a href="/shop">Shop</a> <a href="/about">About us</a>'),
            "/about": html('<p>We write about art.</p><a href="/contact-us">Get in touch</a>'),
            "/contact-us": html("<p>Submissions: submissions@deep.test</p>"),
            "/shop": html("<p>orders@shop-partner.example.org</p>"),
        },
        "robots.test": {
            "/robots.txt": "User-agent: *\nDisallow: /contact\n",
            "/": html('<a href="/contact">Contact</a>'),
            "/contact": html("<p>hidden@robots.test</p>"),
        },
        "elsewhere.test": {
            "/": html("<p>Write to jane.doe@gmail.com or visit partner@elsewhere.test</p>"),
        },
        "empty.test": {"/": html("<p>No address here.</p>")},
        "to-nat64.test": {"/": Redirect("http://nat64.test:{port}/")},
        "to-literal.test": {"/": Redirect("http://[64:ff9b::7f00:1]:{port}/")},
        "to-6to4.test": {"/": Redirect("http://[2002:7f00:1::]:{port}/")},
        "to-private.test": {"/": Redirect("http://10.0.0.1/")},
        "to-metadata.test": {"/": Redirect("http://169.254.169.254/latest/meta-data/")},
        "loop.test": {
            "/": Redirect("/a"),
            "/a": Redirect("/b"),
            "/b": Redirect("/c"),
            "/c": Redirect("/d"),
            "/d": html("<p>too far@loop.test</p>"),
        },
    }


# Names the tests resolve; anything ending in .test that is not listed is a loopback site.
SPECIAL_NAMES = {
    "nat64.test": ["64:ff9b::7f00:1"],
    "sixtofour.test": ["2002:7f00:1::"],
    "mapped.test": ["::ffff:127.0.0.1"],
    "private.test": ["10.0.0.1"],
    "metadata.test": ["169.254.169.254"],
    "mixed.test": ["93.184.216.34", "192.168.1.10"],
    "public.test": ["93.184.216.34"],
}


async def fake_dns(host: str, port: int) -> list[str]:
    if host in SPECIAL_NAMES:
        return SPECIAL_NAMES[host]
    if host.endswith(".test"):
        return ["127.0.0.1"]
    try:
        import ipaddress

        return [str(ipaddress.ip_address(host.strip("[]")))]
    except ValueError as exc:
        raise OSError(f"{host} does not resolve in tests") from exc


class TestSites:
    __test__ = False  # not a pytest class

    def __init__(self, sites: dict[str, dict[str, Page]] | None = None):
        self.sites = sites if sites is not None else default_sites()
        self.requests: list[tuple[str, str, str]] = []  # (host, path, user agent)
        self.port = 0  # set once served (redirect targets need it)
        self.app = Starlette(routes=[Route("/{path:path}", self.handle)])

    async def handle(self, request: Request) -> Response:
        host = request.headers.get("host", "").rsplit(":", 1)[0].lower()
        path = "/" + request.path_params["path"]
        self.requests.append((host, path, request.headers.get("user-agent", "")))
        page = self.sites.get(host, {}).get(path)
        if page is None:
            return PlainTextResponse("not found", status_code=404)
        if isinstance(page, Redirect):
            return RedirectResponse(page.to.format(port=self.port), status_code=page.status)
        text = page(self.port) if callable(page) else page
        kind = "text/plain" if path.endswith(".txt") else "text/html; charset=utf-8"
        return Response(text, media_type=kind)

    def url(self, host: str, path: str = "/") -> str:
        return f"http://{host}:{self.port}{path}"
