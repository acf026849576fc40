"""Domains never worth an outreach e-mail: platforms, not publishers.

``HUB_EXCLUDED_DOMAINS`` extends the defaults. A rule matches the domain and its subdomains
(``youtube.com`` also drops ``m.youtube.com``; ``google.com`` drops ``books.google.com``).
"""

from __future__ import annotations

from collections.abc import Iterable

from sheets.columns import normalise_domain

DEFAULT_EXCLUDED_DOMAINS = (
    # social networks
    "facebook.com", "instagram.com", "twitter.com", "x.com", "linkedin.com", "pinterest.com",
    "reddit.com", "tumblr.com", "threads.net", "snapchat.com", "quora.com", "medium.com",
    # marketplaces
    "amazon.com", "amazon.co.uk", "amazon.de", "ebay.com", "etsy.com", "aliexpress.com",
    "alibaba.com", "walmart.com", "saatchiart.com", "artsy.net", "redbubble.com",
    # video and images
    "youtube.com", "youtu.be", "vimeo.com", "tiktok.com", "dailymotion.com", "twitch.tv",
    "flickr.com", "imgur.com",
    # encyclopaedias and reference
    "wikipedia.org", "wikimedia.org", "wikihow.com", "britannica.com", "fandom.com",
    # search engines and big platforms
    "google.com", "bing.com", "yahoo.com", "apple.com", "microsoft.com",
    # big news portals
    "nytimes.com", "bbc.co.uk", "bbc.com", "cnn.com", "theguardian.com", "washingtonpost.com",
    "forbes.com", "reuters.com", "bloomberg.com", "wsj.com", "huffpost.com", "usatoday.com",
    "foxnews.com", "nbcnews.com", "dailymail.co.uk",
)  # fmt: skip


class Exclusions:
    def __init__(self, extra: Iterable[str] = ()):
        self.rules = frozenset(
            d for d in (normalise_domain(x) for x in (*DEFAULT_EXCLUDED_DOMAINS, *extra)) if d
        )

    @classmethod
    def from_settings(cls, settings) -> Exclusions:
        return cls(settings.excluded_domains)

    def excludes(self, domain: str) -> bool:
        labels = normalise_domain(domain).split(".")
        # example: m.youtube.com -> m.youtube.com, youtube.com, com
        return any(".".join(labels[i:]) in self.rules for i in range(len(labels)))
