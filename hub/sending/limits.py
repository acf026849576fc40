"""When a message may go out: rolling 24 h caps from the ledger, a randomised gap, a window.

- ``HUB_DAILY_CAP``: messages in any rolling 24 h (Gmail counts a rolling day, not a calendar
  day), counted from the durable ledger so a restart never resets it.
- ``HUB_PER_DOMAIN_DAILY_CAP``: the same per recipient domain (one gallery chain, one inbox
  provider's spam filter).
- ``HUB_SEND_GAP_SECONDS``: ``"30-90"`` waits a random 30..90 s between sends (a steady
  machine rhythm looks like bulk mail); ``"0"`` for tests and benches.
- ``HUB_SEND_WINDOW``: ``"mon-fri 09:00-17:00 Europe/London"``; empty = always open.

A row that must wait says until when: ``HELD:daily_cap until 2026-11-29T09:14Z``.
"""

from __future__ import annotations

import asyncio
import math
import random
import time as _time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hub.config.identities import load_identities
from hub.config.pacing import Gap, SendWindow
from hub.sending.ledger import DAY_SECONDS, Ledger


@dataclass(frozen=True)
class Hold:
    """Why a row waits, and until when (``None``: until a person changes something)."""

    kind: str  # daily_cap, domain_cap, send_window
    until: datetime | None = None

    @property
    def reason(self) -> str:
        text = f"HELD:{self.kind}"
        return f"{text} until {format_until(self.until)}" if self.until else text


def format_until(moment: datetime) -> str:
    """``2026-11-29T09:14Z``: UTC, rounded *up* to the minute, so "until" is never early."""
    utc = moment.astimezone(UTC)
    if utc.second or utc.microsecond:
        utc = utc.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return utc.strftime("%Y-%m-%dT%H:%MZ")


async def wait_interruptibly(
    seconds: float, is_cancelled: Callable[[], bool], *, poll: float = 0.2
) -> bool:
    """Wait ``seconds`` unless the job is cancelled meanwhile; True when the wait ran out."""
    deadline = _time.monotonic() + seconds
    while True:
        if is_cancelled():
            return False
        left = deadline - _time.monotonic()
        if left <= 0:
            return True
        await asyncio.sleep(min(poll, left))


# --- putting it together -----------------------------------------------------------------------
@dataclass(frozen=True)
class IdentityRules:
    """One sending identity's cap, gap and window (its own, else the HUB_* settings)."""

    name: str  # as the ledger records it ("" for the implicit identity)
    label: str  # as people read it
    cap: int
    gap: Gap
    window: SendWindow | None


class Limits:
    """Answers "may one more message to this domain go out now, and from which identity?"
    from the ledger. Caps are per sending identity (``hub.config.identities``); without an
    identities file there is one, capped by ``HUB_DAILY_CAP``."""

    def __init__(
        self,
        settings,
        ledger: Ledger,
        *,
        clock: Callable[[], float] = _time.time,
        rng: random.Random | None = None,
        identities: list | None = None,
    ):
        self.daily_cap = settings.daily_cap
        self.per_domain_cap = settings.per_domain_daily_cap
        self.gap = Gap.parse(settings.send_gap_seconds)
        self.window = SendWindow.parse(settings.send_window)
        self.ledger = ledger
        self.clock = clock
        self.rng = rng or random.Random()
        self.rules: dict[str, IdentityRules] = {}
        for identity in identities or load_identities(settings):
            name = "" if identity.implicit else identity.name
            self.rules[name] = IdentityRules(
                name=name,
                label=identity.name,
                cap=identity.daily_cap,
                gap=Gap.parse(identity.send_gap_seconds) if identity.send_gap_seconds else self.gap,
                window=SendWindow.parse(identity.send_window)
                if identity.send_window
                else self.window,
            )
        self._first = next(iter(self.rules))

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def _rule(self, identity: str | None) -> IdentityRules:
        return (
            self.rules.get(identity if identity is not None else self._first)
            or self.rules[self._first]
        )

    def _counted(self, identity: str | None) -> str | None:
        """The ledger filter for an identity's sends; with one identity every send is its."""
        return None if len(self.rules) == 1 else self._rule(identity).name

    def window_hold(self, identity: str | None = None) -> Hold | None:
        window = self._rule(identity).window if identity is not None else self.window
        if window is None:
            return None
        now = self.now()
        opens = window.next_open(now)
        return None if opens == now else Hold("send_window", opens)

    def cap_hold(self, *, pending: int = 0, identity: str | None = None) -> Hold | None:
        """The identity's cap; without ``identity``, a hold only when every one is at cap."""
        if identity is None and len(self.rules) > 1:
            holds = [self.cap_hold(identity=name) for name in self.rules]
            return None if any(h is None for h in holds) else _earliest(holds)
        rule = self._rule(identity)
        return _rolling_hold(
            "daily_cap",
            rule.cap,
            self.ledger,
            self.clock(),
            pending,
            identity=self._counted(identity),
        )

    def domain_hold(self, domain: str, *, pending: int = 0) -> Hold | None:
        return _rolling_hold(
            "domain_cap", self.per_domain_cap, self.ledger, self.clock(), pending, domain=domain
        )

    def hold_for(
        self,
        domain: str,
        *,
        pending_total: int = 0,
        pending_domain: int = 0,
        identity: str | None = None,
    ) -> Hold | None:
        """The first reason this message must wait, or None when it may go now.

        ``pending_*``: messages already planned in this chunk but not yet in the ledger's
        count (they will go out within minutes, so they count as sent now); ``pending_total``
        counts those of ``identity``.
        """
        return (
            self.window_hold(identity)
            or self.cap_hold(pending=pending_total, identity=identity)
            or self.domain_hold(domain, pending=pending_domain)
        )

    def remaining(self, identity: str, *, pending: int = 0) -> int:
        rule = self._rule(identity)
        used = len(
            self.ledger.sends_since(self.clock() - DAY_SECONDS, identity=self._counted(identity))
        )
        return max(0, rule.cap - used - pending)

    def pick(self, pending: dict[str, int] | None = None) -> str | Hold:
        """The identity with the most capacity left today (ties: the first in the file), or
        why none may send: ``HELD:daily_cap until ...`` when every one is at its cap."""
        pending = pending or {}
        best, best_left, holds = None, 0, []
        for name in self.rules:
            held = self.window_hold(name) or self.cap_hold(
                pending=pending.get(name, 0), identity=name
            )
            if held is not None:
                holds.append(held)
                continue
            left = self.remaining(name, pending=pending.get(name, 0))
            if best is None or left > best_left:
                best, best_left = name, left
        return best if best is not None else _earliest(holds)

    def usage(self) -> list[tuple[str, int, int]]:
        """(identity, sends in the last 24 h, daily cap) for each identity."""
        since = self.clock() - DAY_SECONDS
        return [
            (
                rule.label,
                len(self.ledger.sends_since(since, identity=self._counted(name))),
                rule.cap,
            )
            for name, rule in self.rules.items()
        ]

    def remaining_today(self) -> int:
        return sum(self.remaining(name) for name in self.rules)

    def next_gap(self, identity: str | None = None) -> float:
        return self._rule(identity).gap.draw(self.rng)


def _earliest(holds: list[Hold | None]) -> Hold:
    """The hold that ends first (a cap of 0 never ends by itself)."""
    timed = [h for h in holds if h is not None and h.until is not None]
    if timed:
        return min(timed, key=lambda h: h.until)  # type: ignore[arg-type, return-value]
    return next(h for h in holds if h is not None)


def _rolling_hold(
    kind: str,
    cap: int,
    ledger: Ledger,
    now: float,
    pending: int,
    *,
    domain: str | None = None,
    identity: str | None = None,
) -> Hold | None:
    if cap <= 0:
        return Hold(kind)  # a cap of 0 stops sending until the setting changes
    since = now - DAY_SECONDS
    times = ledger.sends_since(since, domain=domain, identity=identity) + [now] * pending
    if len(times) < cap:
        return None
    # The count drops below the cap when the (len - cap + 1)-th oldest send is 24 h old.
    frees_at = times[len(times) - cap] + DAY_SECONDS
    return Hold(kind, datetime.fromtimestamp(math.ceil(frees_at), UTC))
