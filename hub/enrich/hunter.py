"""The Hunter enricher: domain-search, pick one address, optionally verify it.

When Hunter has nothing usable the site crawler gets a try (if one is given). When Hunter says
the plan is used up (429/402) the enricher stops calling it for good: every later row comes
back ``held`` (``HELD:hunter_quota``) and :attr:`stopped_reason` tells the stage to stop.
"""

from __future__ import annotations

import asyncio
import logging

from hub.enrich.base import EnrichResult
from hub.enrich.pick import NoPick, pick_best
from hub.errors import QuotaExhausted
from hub.providers.hunter import HunterClient

log = logging.getLogger(__name__)

QUOTA_CODE = "hunter_quota"


class HunterEnricher:
    provider_name = "Hunter"

    def __init__(self, settings, *, fallback=None, transport=None):
        self.settings = settings
        self.fallback = fallback
        self._transport = transport
        self._clients: dict[int, HunterClient] = {}
        self.stopped_reason = ""
        # Enough rows in flight to keep the limiter busy while answers are on their way
        # (15/s with ~0.5 s answers needs ~8; 150/s with ~0.2 s answers ~30).
        rate = settings.hunter_rate_per_second
        self.concurrency = max(8, min(32, int(rate / 4) + 4))

    def client(self) -> HunterClient:
        # httpx clients and asyncio locks belong to one event loop; the CLI may use several.
        loop_id = id(asyncio.get_running_loop())
        if loop_id not in self._clients:
            self._clients = {
                loop_id: HunterClient(
                    self.settings.hunter_api_key.get_secret_value(),
                    self.settings.hunter_api_url,
                    rate_per_second=self.settings.hunter_rate_per_second,
                    transport=self._transport,
                    max_in_flight=self.concurrency,
                )
            }
        return self._clients[loop_id]

    def reset_quota(self) -> None:
        self.stopped_reason = ""

    def _held(self) -> EnrichResult:
        return EnrichResult.held(QUOTA_CODE, self.stopped_reason)

    async def enrich(self, row: dict[str, str]) -> EnrichResult:
        if self.stopped_reason:
            return self._held()
        domain = (row.get("domain") or "").strip()
        if not domain:
            return EnrichResult.no_email("no_domain", "the row has no domain")
        try:
            data = await self.client().domain_search(domain)
        except QuotaExhausted as exc:
            self.stopped_reason = self.stopped_reason or exc.message
            return self._held()
        picked = pick_best(
            data,
            min_confidence=self.settings.min_email_confidence,
            preferred_departments=self.settings.preferred_departments,
            accept_all_policy=self.settings.accept_all_policy,
        )
        if isinstance(picked, NoPick):
            return await self._fall_back(row, picked)
        status = picked.status
        if self.settings.verify_emails and status != "valid":
            status = await self._verify(picked.email, status)
            if status == "invalid":
                return EnrichResult.no_email(
                    "invalid", f"Hunter's email-verifier says {picked.email} is invalid"
                )
        return EnrichResult.enriched(
            review=picked.review,
            contact_email=picked.email,
            contact_name=picked.name,
            contact_position=picked.position,
            email_confidence=str(picked.confidence),
            email_status=status,
            email_source="hunter",
        )

    async def _verify(self, email: str, status: str) -> str:
        try:
            answer = await self.client().verify_email(email)
        except QuotaExhausted:
            # Verification credits are separate from searches: keep the pick, unverified.
            log.warning("Hunter email-verifier quota used up; keeping picks unverified")
            return status
        return str(answer.get("status") or status)

    async def _fall_back(self, row: dict[str, str], picked: NoPick) -> EnrichResult:
        if self.fallback is None:
            return EnrichResult.no_email(picked.code, picked.reason)
        found = await self.fallback.enrich(row)
        if found.outcome == "no_email":
            return EnrichResult.no_email(picked.code, f"{picked.reason}; {found.reason}")
        return found

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients = {}
        if self.fallback is not None:
            await self.fallback.aclose()

    def close(self) -> None:
        self._clients = {}
        if self.fallback is not None:
            self.fallback.close()
