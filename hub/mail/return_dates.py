"""The date an out-of-office note says its writer is back ("back on 14 July", "until
2025-07-03", "bis 03.07.2025"): follow-ups wait until the day after."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

MAX_RETURN_HORIZON = timedelta(days=180)

_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}
_MONTH = r"(" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_ORD = r"(?:st|nd|rd|th)?"
_DAY_MONTH = re.compile(rf"\b(\d{{1,2}}){_ORD}\s+(?:of\s+)?{_MONTH},?(?:\s+(\d{{4}}))?", re.I)
_MONTH_DAY = re.compile(rf"\b{_MONTH}\s+(\d{{1,2}}){_ORD}\b,?(?:\s+(\d{{4}}))?", re.I)
_ISO = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
_NUMERIC = re.compile(r"\b(\d{1,2})[./](\d{1,2})[./](\d{4}|\d{2})\b")


def _make(year: int | None, month: int, day: int, today: date) -> date | None:
    try:
        found = date(year or today.year, month, day)
    except ValueError:
        return None
    if year is None and found < today - timedelta(days=1):
        found = found.replace(year=found.year + 1)  # "back on 3 January" said in December
    return found


def _dates_in(text: str, today: date) -> list[date]:
    found: list[date | None] = []
    for day, month, year in _DAY_MONTH.findall(text):
        found.append(_make(int(year) if year else None, _MONTHS[month.lower()], int(day), today))
    for month, day, year in _MONTH_DAY.findall(text):
        found.append(_make(int(year) if year else None, _MONTHS[month.lower()], int(day), today))
    for year, month, day in _ISO.findall(text):
        found.append(_make(int(year), int(month), int(day), today))
    for first, second, year in _NUMERIC.findall(text):
        full_year = int(year) + 2000 if len(year) == 2 else int(year)
        # 03/07 is 3 July in Europe and March 7 in the US: when both are possible take the
        # later one, since following up too late is harmless and too early is not.
        options = [_make(full_year, int(second), int(first), today)]
        options.append(_make(full_year, int(first), int(second), today))
        valid = [o for o in options if o is not None]
        found.append(max(valid) if valid else None)
    return [d for d in found if d is not None]


def return_date(text: str, now: datetime) -> date | None:
    """The latest plausible date in an out-of-office text ("back on 14 July")."""
    today = now.astimezone(UTC).date()
    candidates = [d for d in _dates_in(text, today) if today <= d <= today + MAX_RETURN_HORIZON]
    return max(candidates) if candidates else None
