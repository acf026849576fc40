"""The prospect score: deterministic, explainable, 0-100.

Built from the SERP rank, the keyword in the page title / snippet, the quality of the contact
(a person before a role mailbox, Hunter's confidence, a verified address) and site signals
(``da_est`` when present). Weights live in a TOML file: the shipped
``hub/data/score_weights.toml``, or ``HUB_SCORE_WEIGHTS_FILE`` (its keys override the defaults).
Every point is explained in ``score_reasons``: ``rank 3 +25; personal email 92% +30; ...``.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from hub.enrich.pick import looks_personal
from hub.errors import BadRequest
from sheets.cells import BadCell, parse_number


def default_weights() -> dict[str, Any]:
    text = resources.files("hub.data").joinpath("score_weights.toml").read_text("utf-8")
    return tomllib.loads(text)


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_weights(path: str = "") -> dict[str, Any]:
    weights = default_weights()
    if not path:
        return weights
    try:
        override = tomllib.loads(Path(path).read_text("utf-8"))
    except FileNotFoundError as exc:
        raise BadRequest(f"HUB_SCORE_WEIGHTS_FILE {path} does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise BadRequest(f"HUB_SCORE_WEIGHTS_FILE {path} is not valid TOML: {exc}") from exc
    return _merge(weights, override)


@dataclass(frozen=True)
class Score:
    value: int
    reasons: str


def _int(text: str | None) -> int | None:
    """A cell as a whole number; a cell that is not a number (``two``, ``1e400``) counts as
    empty (sheets.cells says why)."""
    try:
        number = parse_number(text or "", "number")
    except BadCell:
        return None
    if number is None or abs(number) > 1e9:
        return None
    return int(number)


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


def _fmt(points: float) -> str:
    points = round(points)
    return f"+{points}" if points >= 0 else str(points)


def score_row(row: dict[str, str], weights: dict[str, Any]) -> Score:
    parts: list[tuple[str, float]] = []
    rank = _int(row.get("serp_rank"))
    if rank and rank > 0:
        for max_rank, points in weights["rank"]["tiers"]:
            if rank <= max_rank:
                parts.append((f"rank {rank}", points))
                break

    keyword = _words(row.get("keyword", ""))
    if keyword:
        if keyword <= _words(row.get("page_title", "")):
            parts.append(("keyword in title", weights["keyword"]["in_title"]))
        if keyword <= _words(row.get("snippet", "")):
            parts.append(("keyword in snippet", weights["keyword"]["in_snippet"]))

    parts.extend(_contact_parts(row, weights["contact"]))

    da = _int(row.get("da_est"))
    if da and da > 0:
        site = weights["site"]
        parts.append((f"da {da}", min(site["da_max"], da * site["da_per_point"])))

    total = max(0, min(100, round(sum(points for _, points in parts))))
    reasons = [f"{label} {_fmt(points)}" for label, points in parts if round(points)]
    # A number cell a person typed as words ("two", "1e400") counts as empty; say so.
    reasons += [
        f"{name} ignored: not a number"
        for name in ("serp_rank", "da_est", "email_confidence")
        if (row.get(name) or "").strip() and _int(row.get(name)) is None
    ]
    return Score(total, "; ".join(reasons))


def _contact_parts(row: dict[str, str], contact: dict[str, Any]) -> list[tuple[str, float]]:
    email = (row.get("contact_email") or "").strip()
    if not email:
        return []
    source = (row.get("email_source") or "").strip().lower()
    confidence = _int(row.get("email_confidence"))
    parts: list[tuple[str, float]] = []
    if source == "manual":
        parts.append(("email typed by hand", contact["manual"]))
    elif source == "site":
        parts.append(("email published on site", contact["published_on_site"]))
    else:
        personal = bool((row.get("contact_name") or "").strip()) or looks_personal(email)
        label = "personal email" if personal else "generic email"
        if confidence is not None:
            label += f" {confidence}%"
        parts.append((label, contact["personal" if personal else "generic"]))
        if confidence is not None and confidence < contact["low_confidence_below"]:
            parts.append(("low confidence", contact["low_confidence"]))
    if (row.get("email_status") or "").strip().lower() == "valid":
        parts.append(("verified", contact["verified"]))
    return parts
