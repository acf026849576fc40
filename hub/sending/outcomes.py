"""What the send path hands around: a planned message, and what became of one row's step."""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from hub.errors import ProviderError
from hub.sending import message as msg
from hub.sending.ledger import Intent
from sheets.columns import Row


@dataclass
class Outcome:
    """What happened to one row's step; ``changes`` are the row columns to write."""

    hub_id: str
    step: int
    result: str  # sent, reconciled, dry_run, held, suppressed, review, failed, unknown, busy
    changes: dict[str, str] = field(default_factory=dict)
    detail: str = ""  # for credentials_refused: the provider's refusal, for the job's error


# The provider refused our credentials on this row's call (SMTP 535, Gmail invalid_grant or
# 401): the row goes back as it was and the run stops (see ProviderRefused).
CREDENTIALS_REFUSED = "credentials_refused"


@dataclass(frozen=True)
class ProviderRefused:
    """Why a run stopped: the provider refused our credentials, so every message would fail
    alike. Unlike a Hold it puts nothing on the rows (``reason`` is empty): they stay as they
    were and go out once the credentials are fixed; the job fails with ``message``."""

    provider: str
    message: str
    reason: str = ""


def refused_error(stop: ProviderRefused) -> ProviderError:
    """The send or follow-up job fails with the provider's refusal (README: "a provider
    refusing the key fails the job"); the rows it reached went back as they were."""
    return ProviderError(
        stop.provider,
        f"{stop.message} (the send stopped: no row was marked failed; they go out once the "
        "credentials are fixed)",
        provider_status=401,
    )


@dataclass
class Planned:
    """A message whose intent is durable; not yet handed to the provider."""

    row: Row
    intent: Intent
    revert: dict[str, str]  # the row's columns to restore if we back out before the call
    threading: msg.Threading | None = None
    failed_status: str = ""  # outreach_status when the provider refuses ("" keeps it)
    # Built once, by submit, from the intent (its Date is then the composition time, as
    # RFC 5322 allows), while the message before is in flight.
    message: EmailMessage | None = None
    call_seconds: float = 0.0  # how long the claim and the provider call took


class Halted:
    """A queued message skipped because the one before it stopped the run."""


HALTED = Halted()


def summarise(outcomes: list[Outcome]) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.result] = counts.get(outcome.result, 0) + 1
    return counts
