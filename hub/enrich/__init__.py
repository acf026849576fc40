"""Enrichment: find the address to write to for a prospect row.

Two enrichers share one interface (:class:`Enricher`): Hunter's domain-search when
``HUNTER_API_KEY`` is set (with the site crawler as its fallback), else the site crawler alone
(the embedded default, DESIGN.md §6).
"""

from __future__ import annotations

from hub.enrich.base import Enricher, EnrichResult
from hub.enrich.site import SiteEnricher


def user_agent(settings) -> str:
    """An honest User-Agent: who we are and where to read about us."""
    return f"OutreachHubBot/0.1 (+{settings.base_url()})"


def build_enricher(settings) -> Enricher:
    site = SiteEnricher(user_agent=user_agent(settings))
    if settings.uses_hunter:
        from hub.enrich.hunter import HunterEnricher

        return HunterEnricher(settings, fallback=site)
    return site


__all__ = ["EnrichResult", "Enricher", "SiteEnricher", "build_enricher", "user_agent"]
