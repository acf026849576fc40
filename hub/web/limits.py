"""Limits and providers: sends in the last 24 h against the cap, the send window, Hunter and
Sheets usage, and which providers are real and which run on embedded defaults.

Every figure comes from where the hub itself enforces it: the send ledger (``hub.sending``)
for caps and the window, the Google store's own request limiters for the Sheets quota.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from hub.config.pacing import LimitsConfigError
from hub.errors import ConfigError
from hub.sending.ledger import DAY_SECONDS, Ledger
from hub.sending.limits import Limits, format_until

# Names ``Services.providers()`` gives the embedded defaults (DESIGN.md §6).
EMBEDDED = {"local", "import only", "site crawler", "templates", "outbox"}
NOT_AVAILABLE = {"none", ""}


@dataclass(frozen=True)
class Provider:
    role: str
    name: str
    kind: str  # real | embedded default | not available


@dataclass(frozen=True)
class IdentityUsage:
    name: str
    sends: int  # in the last 24 h, from the ledger
    cap: int
    note: str = ""  # when its cap frees up, if reached


@dataclass
class LimitsView:
    sends_24h: int = 0
    daily_cap: int = 0
    per_domain_cap: int = 0
    cap_note: str = ""  # when the cap frees up, if reached
    window: str = ""  # the setting, or "always open"
    window_note: str = ""  # "open now" / "opens 2026-...Z" / a configuration error
    hunter: str = ""
    sheets: str = ""
    providers: list[Provider] = field(default_factory=list)
    identities: list[IdentityUsage] = field(default_factory=list)  # with HUB_IDENTITIES_FILE


def provider_kind(name: str) -> str:
    if name in NOT_AVAILABLE:
        return "not available"
    return "embedded default" if name in EMBEDDED else "real"


def providers(services: Any) -> list[Provider]:
    return [
        Provider(role, name, provider_kind(name)) for role, name in services.providers().items()
    ]


def sending_limits(view: LimitsView, settings: Any, *, clock=time.time) -> None:
    view.daily_cap = settings.daily_cap
    view.per_domain_cap = settings.per_domain_daily_cap
    view.window = settings.send_window.strip() or "always open"
    ledger = Ledger.from_settings(settings)
    try:
        view.sends_24h = len(ledger.sends_since(clock() - DAY_SECONDS))
        try:
            limits = Limits(settings, ledger, clock=clock)
        except (LimitsConfigError, ConfigError) as exc:  # names the variable and the fix
            view.window_note = str(exc)
            return
        if settings.identities_file:
            identity_usage(view, limits)
        held = limits.cap_hold()
        if held is not None:
            view.cap_note = (
                f"cap reached: sending resumes {format_until(held.until)}"
                if held.until
                else "HUB_DAILY_CAP is 0: sending is stopped"
            )
        waiting = limits.window_hold()
        view.window_note = (
            "open now" if waiting is None else f"closed: opens {format_until(waiting.until)}"
        )
    finally:
        ledger.close()


def identity_usage(view: LimitsView, limits: Limits) -> None:
    """Sends and cap per sending identity; the total cap is theirs added up."""
    for (name, sends, cap), key in zip(limits.usage(), limits.rules, strict=True):
        held = limits.cap_hold(identity=key)
        note = f"cap reached: resumes {format_until(held.until)}" if held and held.until else ""
        view.identities.append(IdentityUsage(name, sends, cap, note if held else ""))
    view.daily_cap = sum(i.cap for i in view.identities)


def hunter_usage(services: Any) -> str:
    enricher = services.enricher
    if getattr(enricher, "provider_name", "") != "Hunter":
        return "Hunter is not configured (HUNTER_API_KEY): not used"
    used = getattr(enricher, "searches_used", None)
    return f"{used} searches used" if isinstance(used, int) else "not tracked"


def _recent(limiter: Any) -> int | None:
    """Requests a ``sheets.ratelimit.SlidingWindowLimiter`` let through in its window.

    The Google store exposes no public counter yet, so this reads the limiter's own record of
    request times (the very list that paces the store), and says "not tracked" if its shape
    ever changes rather than guessing.
    """
    sent, clock, window = (getattr(limiter, n, None) for n in ("_sent", "_clock", "window"))
    if sent is None or not callable(clock) or not isinstance(window, int | float):
        return None
    now = clock()
    return sum(1 for t in list(sent) if t > now - window)


def sheets_usage(store: Any, settings: Any) -> str:
    if store.backend_name in ("local", "postgres"):
        return f"{store.backend_name} store, no quota"
    counter = getattr(store, "requests_last_minute", None)
    if callable(counter):
        return str(counter())
    http = getattr(store, "_http", None)
    reads = _recent(getattr(http, "read_limiter", None))
    writes = _recent(getattr(http, "write_limiter", None))
    if reads is None or writes is None:
        return "not tracked"
    quota = settings.sheets_rate
    return (
        f"{reads} reads of {quota} and {writes} writes of {quota} in the last minute "
        "(HUB_SHEETS_RATE per minute each)"
    )


def limits_view(services: Any) -> LimitsView:
    view = LimitsView()
    sending_limits(view, services.settings)
    view.hunter = hunter_usage(services)
    view.sheets = sheets_usage(services.store, services.settings)
    view.providers = providers(services)
    return view
