"""What an enricher returns, and the interface every enricher implements."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

Outcome = Literal["enriched", "no_email", "held"]


@dataclass
class EnrichResult:
    """One row's enrichment outcome, turned into cell changes by :meth:`changes`.

    - ``enriched``: ``fields`` fill the enrichment columns (contact_email, ...);
    - ``no_email``: no usable address; ``code`` is short (``low_confidence``) and ``reason``
      says it in words for ``last_error``;
    - ``held``: the provider cannot be asked now (``HELD:hunter_quota``); the row stays pending.
    """

    outcome: Outcome
    fields: dict[str, str] = field(default_factory=dict)
    code: str = ""
    reason: str = ""

    @classmethod
    def enriched(cls, *, review: str = "", **fields: str) -> EnrichResult:
        return cls("enriched", {k: str(v) for k, v in fields.items()}, code=review)

    @classmethod
    def no_email(cls, code: str, reason: str) -> EnrichResult:
        return cls("no_email", code=code, reason=reason)

    @classmethod
    def held(cls, code: str, reason: str) -> EnrichResult:
        return cls("held", code=code, reason=reason)

    def changes(self) -> dict[str, str]:
        if self.outcome == "enriched":
            # `code` on an enriched row is a review flag (accept-all domain under "review").
            hold = f"REVIEW:{self.code}" if self.code else ""
            return {
                **self.fields,
                "outreach_status": "enriched",
                "hold_reason": hold,
                "last_error": "",
            }
        if self.outcome == "no_email":
            return {
                "outreach_status": "no_email",
                "hold_reason": f"NO_EMAIL:{self.code}",
                "last_error": self.reason,
            }
        return {"hold_reason": f"HELD:{self.code}", "last_error": self.reason}


class Enricher(Protocol):
    provider_name: str
    concurrency: int  # how many rows may be in flight at once (the stage bounds its pool by it)

    async def enrich(self, row: dict[str, str]) -> EnrichResult: ...

    async def aclose(self) -> None: ...

    def close(self) -> None: ...
