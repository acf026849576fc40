"""``HUB_PUBLIC_URL``: needed when something outside must reach the hub (DataForSEO callbacks,
unsubscribe links in real mail), reachable from the hub itself (``GET /healthz``), and serving a
hub that accepts this machine's webhook tokens.

The token probe is a DataForSEO pingback GET *without* the task id: a hub with the same keys
checks the token first and then refuses the request (400 ``missing_task_id``), one with other
keys refuses the token (401). Either way nothing is queued; the refusal shows in that hub's
delivery log.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import httpx
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from hub.config import Settings
from hub.doctor.checks_webhooks import probe_token
from hub.doctor.report import Finding, error, ok, warn

AREA = "public_url"
LOOPBACK = ("127.0.0.1", "localhost", "::1")
SET_IT = (
    "set HUB_PUBLIC_URL to the https address the hub is reached at from the internet "
    "(a reverse proxy or a tunnel to `hub serve`)"
)


def shown(url: str) -> str:
    """The URL without any user:password@ part."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def _unset(settings: Settings) -> list[Finding]:
    needs = []
    if settings.uses_dataforseo:
        needs.append(
            f"DataForSEO callbacks would go to {settings.base_url()}, which DataForSEO cannot "
            "reach (results then arrive only through the slower recovery sweep)"
        )
    if settings.mailer != "outbox":
        needs.append("real sends are held (REVIEW:public_url): unsubscribe links need it")
    if not needs:
        return [ok(AREA, "HUB_PUBLIC_URL is not set; nothing outside this machine needs it yet")]
    return [warn(AREA, "HUB_PUBLIC_URL is not set: " + "; ".join(needs), SET_IT)]


async def check_public_url(settings: Settings, keys: list[str], timeout: float) -> list[Finding]:
    url = settings.public_url.strip().rstrip("/")
    if not url:
        return _unset(settings)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return [error(AREA, f"HUB_PUBLIC_URL {url!r} is not an http(s) URL", SET_IT)]
    found: list[Finding] = []
    if parts.scheme == "http" and parts.hostname not in LOOPBACK:
        found.append(
            warn(
                AREA,
                f"HUB_PUBLIC_URL {shown(url)} is not https: webhook tokens and unsubscribe "
                "links travel in clear text",
                "put the hub behind https (reverse proxy or tunnel) and update HUB_PUBLIC_URL",
            )
        )
    async with httpx.AsyncClient(timeout=timeout, follow_redirects=True, max_redirects=3) as http:
        found += await _healthz(http, url)
        if found[-1].level == "ok" and keys:
            found += await _accepts_our_tokens(http, url, keys)
    return found


async def _get(http: httpx.AsyncClient, url: str) -> httpx.Response:
    # One retry: a tunnel waking up may drop the first connection.
    async for attempt in AsyncRetrying(
        retry=retry_if_exception(lambda e: isinstance(e, httpx.TransportError)),
        wait=wait_random_exponential(multiplier=0.3, max=1.0),
        stop=stop_after_attempt(2),
        reraise=True,
    ):
        with attempt:
            return await http.get(url)
    raise AssertionError("unreachable")  # pragma: no cover - reraise=True


async def _healthz(http: httpx.AsyncClient, url: str) -> list[Finding]:
    target = f"{shown(url)}/healthz"
    try:
        response = await _get(http, url + "/healthz")
    except httpx.HTTPError as exc:
        return [
            error(
                AREA,
                f"HUB_PUBLIC_URL cannot be reached from the hub itself: GET {target} failed "
                f"({type(exc).__name__})",
                "start `hub serve`, then check the URL, DNS and the reverse proxy or tunnel",
            )
        ]
    if response.status_code != 200:
        return [
            error(
                AREA,
                f"GET {target} answered {response.status_code}",
                "check that HUB_PUBLIC_URL routes to `hub serve` (proxy or tunnel target)",
            )
        ]
    try:
        healthy = response.json().get("status") == "ok"
    except (ValueError, AttributeError):
        healthy = False
    if not healthy:
        return [
            warn(
                AREA,
                f"GET {target} answers, but not like the hub",
                "check that HUB_PUBLIC_URL points at the hub, not another site",
            )
        ]
    return [ok(AREA, f"HUB_PUBLIC_URL {shown(url)} answers /healthz")]


async def _accepts_our_tokens(http: httpx.AsyncClient, url: str, keys: list[str]) -> list[Finding]:
    try:
        response = await _get(http, f"{url}/webhooks/dataforseo/pingback/{probe_token(keys)}")
        code = (response.json().get("error") or {}).get("code", "")
    except httpx.HTTPError as exc:
        return [warn(AREA, f"the webhook probe failed ({type(exc).__name__})",
                     "run `hub doctor` again")]  # fmt: skip
    except (ValueError, AttributeError):
        code = ""
    if response.status_code == 400 and code == "missing_task_id":
        return [ok(AREA, "the hub at HUB_PUBLIC_URL accepts webhook tokens made with these keys")]
    if response.status_code == 401:
        return [
            error(
                AREA,
                "the hub at HUB_PUBLIC_URL refuses webhook tokens made with this machine's keys: "
                "it runs with other HUB_SECRET_KEYS or another HUB_DATA_DIR",
                "give both the same HUB_SECRET_KEYS, then copy the webhook URLs again",
            )
        ]
    return [
        warn(
            AREA,
            f"the webhook route at HUB_PUBLIC_URL answered {response.status_code}, not as the "
            "hub does",
            "check that HUB_PUBLIC_URL points at this hub and its /webhooks routes are proxied",
        )
    ]
