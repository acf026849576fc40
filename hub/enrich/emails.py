"""Finding published addresses in a page, and choosing the one to write to.

Sites publish addresses as ``mailto:`` links, as plain text, behind Cloudflare's email
protection (``data-cfemail``), or obfuscated against scrapers (``name [at] site [dot] com``,
``name(at)site.com``). Pages are also full of things that look like addresses and are not:
retina images (``logo@2x.png``), no-reply senders and template placeholders.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import unquote, urlsplit

_LOCAL = r"[a-z0-9](?:[a-z0-9._%+-]{0,62}[a-z0-9_%+-])?"
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
EMAIL_RE = re.compile(
    rf"(?<![\w.%+-])({_LOCAL})@((?:{_LABEL}\.)+[a-z]{{2,24}})(?![\w-])", re.IGNORECASE
)
# name [at] domain [dot] com, name(at)domain.com, name {at} domain {dot} co {dot} uk
_OPEN, _CLOSE = r"\s*[\[\(\{<]\s*", r"\s*[\]\)\}>]\s*"
_AT = rf"(?:{_OPEN}at{_CLOSE}|\s+at\s+(?=\S+\s*{_OPEN}dot{_CLOSE}))"
_DOT = rf"(?:\.|{_OPEN}dot{_CLOSE})"
OBFUSCATED_RE = re.compile(
    rf"(?<![\w.%+-])({_LOCAL}){_AT}((?:{_LABEL}{_DOT})+[a-z]{{2,24}})(?![\w-])", re.IGNORECASE
)

# Extensions that turn `logo@2x.png` into an "address".
FILE_SUFFIXES = frozenset(
    [
        "png",
        "jpg",
        "jpeg",
        "gif",
        "svg",
        "webp",
        "avif",
        "ico",
        "bmp",
        "tif",
        "tiff",
        "css",
        "js",
        "mjs",
        "json",
        "map",
        "woff",
        "woff2",
        "ttf",
        "pdf",
    ]
)
NO_REPLY_LOCALS = frozenset(
    {"noreply", "no-reply", "no_reply", "donotreply", "do-not-reply", "mailer-daemon", "bounce"}
)
PLACEHOLDER_LOCALS = frozenset({"you", "your", "yourname", "name", "email", "user", "username"})
PLACEHOLDER_DOMAINS = frozenset(
    {"example.com", "example.org", "example.net", "domain.com", "yourdomain.com", "email.com"}
)
# Third parties whose addresses show up in page source but never belong to the site.
THIRD_PARTY_DOMAINS = frozenset(
    {"sentry.io", "sentry-next.wixpress.com", "wixpress.com", "w3.org", "schema.org"}
)

# Who a pitch should reach on a blog or magazine, best first.
PREFERRED_LOCALS = (
    "editor",
    "editors",
    "editorial",
    "submissions",
    "submit",
    "pitch",
    "pitches",
    "contribute",
    "hello",
    "contact",
    "info",
    "press",
    "media",
    "team",
    "office",
    "mail",
)
LOW_LOCALS = frozenset({"webmaster", "admin", "support", "abuse", "privacy", "legal", "billing"})


def is_plausible(email: str) -> bool:
    local, _, domain = email.lower().rpartition("@")
    if not local or not domain or "." not in domain:
        return False
    if domain.rsplit(".", 1)[-1] in FILE_SUFFIXES:
        return False
    if local in NO_REPLY_LOCALS or local.startswith(("noreply", "no-reply", "donotreply")):
        return False
    if local in PLACEHOLDER_LOCALS or domain in PLACEHOLDER_DOMAINS:
        return False
    return not any(domain == d or domain.endswith("." + d) for d in THIRD_PARTY_DOMAINS)


def decode_cfemail(encoded: str) -> str:
    """Cloudflare's email obfuscation: the first byte is an XOR key for the rest."""
    try:
        data = bytes.fromhex(encoded)
        return bytes(b ^ data[0] for b in data[1:]).decode("utf-8")
    except (ValueError, IndexError, UnicodeDecodeError):
        return ""


class _PageParser(HTMLParser):
    """Collects visible text, ``mailto:`` targets, links (with their text) and cfemail."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.mailtos: list[str] = []
        self.links: list[tuple[str, str]] = []
        self._href: str | None = None
        self._anchor: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag in ("script", "style"):
            self._skip += 1
        if values.get("data-cfemail"):
            self.mailtos.append(decode_cfemail(values["data-cfemail"]))
        if tag == "a":
            href = values.get("href", "").strip()
            if href.lower().startswith("mailto:"):
                self.mailtos.append(unquote(href[7:].split("?", 1)[0]))
            elif href:
                self._href, self._anchor = href, []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1
        if tag == "a" and self._href is not None:
            self.links.append((self._href, " ".join(self._anchor).strip()))
            self._href = None

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        self.text.append(data)
        if self._href is not None:
            self._anchor.append(data)


@dataclass(frozen=True)
class Found:
    email: str
    page_url: str
    via: str  # "mailto" | "text" | "obfuscated"


@dataclass
class ParsedPage:
    found: list[Found]
    links: list[tuple[str, str]]  # (href, anchor text)


def parse_page(page_text: str, page_url: str) -> ParsedPage:
    parser = _PageParser()
    try:
        parser.feed(page_text)
        parser.close()
    except Exception:
        pass
    text = html.unescape(" ".join(parser.text))
    found: list[Found] = []
    for raw in parser.mailtos:
        for address in raw.split(","):
            address = address.strip().lower()
            if EMAIL_RE.fullmatch(address) and is_plausible(address):
                found.append(Found(address, page_url, "mailto"))
    for local, domain in EMAIL_RE.findall(text):
        address = f"{local}@{domain}".lower()
        if is_plausible(address):
            found.append(Found(address, page_url, "text"))
    for local, domain in OBFUSCATED_RE.findall(text):
        clean_domain = re.sub(_DOT, ".", domain, flags=re.IGNORECASE)
        address = f"{local}@{clean_domain}".lower()
        if EMAIL_RE.fullmatch(address) and is_plausible(address):
            found.append(Found(address, page_url, "obfuscated"))
    return ParsedPage(found=found, links=parser.links)


def belongs_to(email: str, site_domain: str) -> bool:
    """The address is at the prospect's own domain (or a subdomain of it, or vice versa)."""
    domain = email.rpartition("@")[2].lower()
    site = site_domain.lower()
    return domain == site or domain.endswith("." + site) or site.endswith("." + domain)


def rank(found: Found, site_domain: str, *, contact_page: bool = False) -> tuple:
    """Sort key, best first: own domain, preferred role, published as a link, on a contact page."""
    local = found.email.partition("@")[0]
    if local in PREFERRED_LOCALS:
        role = PREFERRED_LOCALS.index(local)
    elif local in LOW_LOCALS:
        role = len(PREFERRED_LOCALS) + 2
    else:
        role = len(PREFERRED_LOCALS) // 2  # a person's own address: good, behind "editor"
    return (
        0 if belongs_to(found.email, site_domain) else 1,
        role,
        0 if found.via == "mailto" else 1,
        0 if contact_page else 1,
    )


def choose(found: list[Found], site_domain: str, contact_pages: set[str]) -> Found | None:
    if not found:
        return None
    ordered = sorted(
        enumerate(found),
        key=lambda pair: (
            rank(pair[1], site_domain, contact_page=pair[1].page_url in contact_pages),
            pair[0],
        ),
    )
    return ordered[0][1]


def same_site(url: str, site_host: str) -> bool:
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:  # "http://[::1" and the like: not a URL of any site
        return False
    site = site_host.lower().removeprefix("www.")
    return host == site or host.endswith("." + site)
