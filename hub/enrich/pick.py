"""Choosing the one address to write to from Hunter's domain-search answer.

Order of preference: a person before a role mailbox (``type`` personal before generic),
then someone in a preferred department (settings.preferred_departments) or with a position
that fits an outreach pitch (editor, founder, ...), then higher ``confidence``, then a
verified address. Never below settings.min_email_confidence, never ``verification.status``
``invalid``. An accept-all domain (every address "exists") is handled by
settings.accept_all_policy: ``accept`` it, ``skip`` it, or keep the address for ``review``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

GENERIC_LOCAL_PARTS = frozenset(
    [
        "info",
        "contact",
        "hello",
        "hi",
        "editor",
        "editors",
        "editorial",
        "submissions",
        "submit",
        "press",
        "media",
        "team",
        "office",
        "mail",
        "admin",
        "support",
        "sales",
        "marketing",
        "pr",
        "news",
        "newsroom",
        "webmaster",
        "help",
        "enquiries",
        "inquiries",
        "studio",
        "gallery",
        "shop",
        "store",
        "orders",
        "jobs",
        "careers",
    ]
)
PREFERRED_POSITIONS = (
    "editor",
    "founder",
    "owner",
    "publisher",
    "curator",
    "director",
    "writer",
    "journalist",
    "content",
    "communications",
    "pr",
    "marketing",
)


@dataclass(frozen=True)
class Pick:
    email: str
    name: str
    position: str
    confidence: int
    status: str  # Hunter's verification status, "accept_all", or "unverified"
    personal: bool
    review: str = ""  # non-empty: keep the address but flag the row for a person


@dataclass(frozen=True)
class NoPick:
    code: str  # none_found | low_confidence | invalid | accept_all
    reason: str


def looks_personal(email: str) -> bool:
    return email.partition("@")[0].lower() not in GENERIC_LOCAL_PARTS


def _confidence(entry: dict[str, Any]) -> int:
    try:
        return int(entry.get("confidence") or 0)
    except (TypeError, ValueError):
        return 0


def _verification(entry: dict[str, Any]) -> str:
    verification = entry.get("verification") or {}
    return str(verification.get("status") or "") if isinstance(verification, dict) else ""


def _fit(entry: dict[str, Any], departments: Sequence[str]) -> int:
    """0 = preferred department, 1 = fitting position, 2 = anyone else."""
    department = str(entry.get("department") or "").lower()
    if department and department in departments:
        return 0
    position = str(entry.get("position") or "").lower()
    if any(re.search(rf"\b{word}\b", position) for word in PREFERRED_POSITIONS):
        return 1
    return 2


def pick_best(
    data: dict[str, Any],
    *,
    min_confidence: int,
    preferred_departments: Sequence[str] = (),
    accept_all_policy: Literal["accept", "skip", "review"] = "accept",
) -> Pick | NoPick:
    emails = [e for e in data.get("emails") or [] if isinstance(e, dict) and e.get("value")]
    domain = data.get("domain") or "the domain"
    if not emails:
        return NoPick("none_found", f"Hunter knows no address at {domain}")
    valid = [e for e in emails if _verification(e) != "invalid"]
    if not valid:
        return NoPick("invalid", f"every address Hunter knows at {domain} is invalid")
    confident = [e for e in valid if _confidence(e) >= min_confidence]
    if not confident:
        best = max(_confidence(e) for e in valid)
        return NoPick(
            "low_confidence",
            f"Hunter's best address at {domain} has confidence {best} "
            f"(below HUB_MIN_EMAIL_CONFIDENCE={min_confidence})",
        )
    accept_all = bool(data.get("accept_all"))
    if accept_all and accept_all_policy == "skip":
        return NoPick("accept_all", f"{domain} accepts all addresses (HUB_ACCEPT_ALL_POLICY=skip)")
    departments = [d.lower() for d in preferred_departments]

    def personal(entry: dict[str, Any]) -> bool:
        kind = str(entry.get("type") or "")
        return kind == "personal" if kind else looks_personal(str(entry["value"]))

    best = min(
        confident,
        key=lambda e: (
            0 if personal(e) else 1,
            _fit(e, departments),
            -_confidence(e),
            0 if _verification(e) == "valid" else 1,
        ),
    )
    name = " ".join(
        part for part in (best.get("first_name"), best.get("last_name")) if part
    ).strip()
    status = _verification(best) or ("accept_all" if accept_all else "unverified")
    return Pick(
        email=str(best["value"]).strip().lower(),
        name=name,
        position=str(best.get("position") or ""),
        confidence=_confidence(best),
        status=status,
        personal=personal(best),
        review="accept_all" if accept_all and accept_all_policy == "review" else "",
    )
