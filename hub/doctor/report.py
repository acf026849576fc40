"""What ``hub doctor`` found: one :class:`Finding` per fact, each saying what to do about it.

A finding never carries a secret: checks build their messages from our own words, setting
*names*, counts and provider status codes, never from a key's value or a raw error body.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Level = Literal["ok", "warn", "error"]
LEVELS: tuple[Level, ...] = ("ok", "warn", "error")
# The order areas are shown in: set-up first, then what depends on it.
AREAS = (
    "settings",
    "database",
    "store",
    "rows",
    "providers",
    "public_url",
    "webhooks",
    "scenarios",
)


@dataclass(frozen=True)
class Finding:
    level: Level
    area: str
    message: str
    fix: str = ""  # what to do; empty when there is nothing to do

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def ok(area: str, message: str, fix: str = "") -> Finding:
    return Finding("ok", area, message, fix)


def warn(area: str, message: str, fix: str) -> Finding:
    return Finding("warn", area, message, fix)


def error(area: str, message: str, fix: str) -> Finding:
    return Finding("error", area, message, fix)


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing is broken (warnings are advice, not failures)."""
        return not any(f.level == "error" for f in self.findings)

    def extend(self, findings: Iterable[Finding]) -> None:
        self.findings.extend(findings)

    def in_area(self, area: str) -> list[Finding]:
        return [f for f in self.findings if f.area == area]

    def count(self, level: Level) -> int:
        return sum(1 for f in self.findings if f.level == level)

    def sorted(self) -> Report:
        """Findings grouped by area (in :data:`AREAS` order), the order checks gave kept."""
        rank = {area: i for i, area in enumerate(AREAS)}
        return Report(sorted(self.findings, key=lambda f: rank.get(f.area, len(AREAS))))

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "findings": [f.to_dict() for f in self.findings]}
