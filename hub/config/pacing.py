"""When and how fast a sender may send: the gap between two sends and the weekly window.

Value types parsed from ``HUB_SEND_GAP_SECONDS`` and ``HUB_SEND_WINDOW`` (and an identity's own
``send_gap_seconds`` / ``send_window``), so settings and the identities file are checked where
they are read; :mod:`hub.sending.limits` applies them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class LimitsConfigError(ValueError):
    """A sending setting cannot be parsed; the message names the variable and the fix."""


# --- the gap ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Gap:
    low: float
    high: float

    @classmethod
    def parse(cls, text: str) -> Gap:
        raw = (text or "0").strip()
        try:
            parts = [float(p) for p in raw.split("-", 1)]
        except ValueError as exc:
            raise LimitsConfigError(
                f"HUB_SEND_GAP_SECONDS={raw!r}: expected seconds like '45' or a range '30-90'"
            ) from exc
        low, high = (parts[0], parts[0]) if len(parts) == 1 else (parts[0], parts[1])
        if low < 0 or high < low:
            raise LimitsConfigError(f"HUB_SEND_GAP_SECONDS={raw!r}: need 0 <= low <= high")
        return cls(low, high)

    def draw(self, rng: random.Random) -> float:
        return self.low if self.high == self.low else rng.uniform(self.low, self.high)


# --- the window --------------------------------------------------------------------------------
@dataclass(frozen=True)
class SendWindow:
    days: frozenset[int]  # 0 = Monday
    start: time
    end: time  # end <= start: the window runs past midnight
    zone: ZoneInfo

    @classmethod
    def parse(cls, text: str) -> SendWindow | None:
        raw = (text or "").strip()
        if not raw:
            return None
        parts = raw.split()
        hours = next((p for p in parts if ":" in p and "-" in p), None)
        if hours is None:
            raise LimitsConfigError(
                f"HUB_SEND_WINDOW={raw!r}: expected like 'mon-fri 09:00-17:00 Europe/London'"
            )
        rest = [p for p in parts if p is not hours]
        day_parts = [p for p in rest if p.split(",")[0].split("-")[0].lower() in DAY_NAMES]
        zone_parts = [p for p in rest if p not in day_parts]
        if len(zone_parts) > 1:
            raise LimitsConfigError(f"HUB_SEND_WINDOW={raw!r}: cannot read {zone_parts[1:]}")
        try:
            zone = ZoneInfo(zone_parts[0]) if zone_parts else ZoneInfo("UTC")
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise LimitsConfigError(
                f"HUB_SEND_WINDOW={raw!r}: unknown time zone {zone_parts[0]!r}"
            ) from exc
        days = _parse_days(",".join(day_parts), raw) if day_parts else frozenset(range(7))
        start, end = (_parse_clock(p, raw) for p in hours.split("-", 1))
        if start == end:
            raise LimitsConfigError(f"HUB_SEND_WINDOW={raw!r}: the window has no length")
        return cls(days, start, end, zone)

    def _spans(self, day: date) -> tuple[datetime, datetime] | None:
        if day.weekday() not in self.days:
            return None
        opens = datetime.combine(day, self.start, tzinfo=self.zone)
        closes_day = day if self.end > self.start else day + timedelta(days=1)
        return opens, datetime.combine(closes_day, self.end, tzinfo=self.zone)

    def next_open(self, now: datetime) -> datetime:
        """``now`` when the window is open, else the moment it next opens."""
        local = now.astimezone(self.zone)
        for offset in range(-1, 9):
            span = self._spans(local.date() + timedelta(days=offset))
            if span and span[1] > local:
                return now if span[0] <= local else span[0].astimezone(UTC)
        raise LimitsConfigError("HUB_SEND_WINDOW never opens")  # unreachable: days non-empty

    def is_open(self, now: datetime) -> bool:
        return self.next_open(now) == now


def _parse_clock(text: str, raw: str) -> time:
    try:
        hour, minute = (int(p) for p in text.split(":", 1))
        return time(hour % 24, minute) if hour == 24 and minute == 0 else time(hour, minute)
    except ValueError as exc:
        raise LimitsConfigError(f"HUB_SEND_WINDOW={raw!r}: {text!r} is not HH:MM") from exc


def _parse_days(text: str, raw: str) -> frozenset[int]:
    days: set[int] = set()
    for piece in text.lower().split(","):
        first, _, last = piece.partition("-")
        if first not in DAY_NAMES or (last and last not in DAY_NAMES):
            raise LimitsConfigError(f"HUB_SEND_WINDOW={raw!r}: {piece!r} is not like 'mon-fri'")
        a, b = DAY_NAMES.index(first), DAY_NAMES.index(last or first)
        days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
    return frozenset(days)
