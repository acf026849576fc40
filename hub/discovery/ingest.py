"""A ``task_get``-shaped SERP answer -> new prospect rows.

Only ``organic`` items count (paid ads, featured snippets and the rest are not prospects).
Domains are checked and normalised (:func:`sheets.cells.domain_from_cell`: IP literals and
junk are refused), platforms on the exclusion list dropped, and the rest appended in ONE
batch, de-duplicated by domain against the whole store (and within the batch).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hub.discovery.exclusions import Exclusions
from sheets.cells import BadCell, domain_from_cell
from sheets.store import AppendReport, ProspectStore

_LOCATION_NAMES = {
    2840: "United States",
    2826: "United Kingdom",
    2124: "Canada",
    2036: "Australia",
    2276: "Germany",
    2250: "France",
    2724: "Spain",
    2380: "Italy",
}


@dataclass
class SerpRows:
    rows: list[dict[str, str]] = field(default_factory=list)
    found: int = 0  # organic items seen
    excluded: list[str] = field(default_factory=list)  # domains dropped by the exclusion list
    refused: list[str] = field(default_factory=list)  # why a result had no usable host name


def _location(data: dict[str, Any], result: dict[str, Any]) -> str:
    if data.get("location_name"):
        return str(data["location_name"])
    code = data.get("location_code") or result.get("location_code")
    try:
        return _LOCATION_NAMES.get(int(code), str(code)) if code else ""
    except (TypeError, ValueError):
        return str(code)


def task_query(task: dict[str, Any]) -> tuple[str, str]:
    """(keyword, location name) of one ``tasks[]`` entry, as its rows will carry them."""
    data = task.get("data") if isinstance(task.get("data"), dict) else {}
    results = [r for r in task.get("result") or [] if isinstance(r, dict)]
    first = results[0] if results else {}
    keyword = str(data.get("keyword") or first.get("keyword") or "").strip()
    return keyword, _location(data, first)


def task_rows(
    task: dict[str, Any],
    job_id: str,
    exclusions: Exclusions,
    *,
    max_results: int | None = None,
) -> SerpRows:
    """Rows for one ``tasks[]`` entry of a task_get / live answer."""
    out = SerpRows()
    data = task.get("data") or {}
    for result in task.get("result") or []:
        keyword = str(result.get("keyword") or data.get("keyword") or "")
        location = _location(data, result)
        organic = [i for i in result.get("items") or [] if i.get("type") == "organic"]
        organic.sort(key=lambda i: i.get("rank_group") or 0)
        if max_results:
            organic = organic[:max_results]
        for item in organic:
            out.found += 1
            try:
                domain = domain_from_cell(str(item.get("domain") or item.get("url") or ""))
            except BadCell as exc:  # an IP literal or junk in a SERP answer: never a prospect
                out.refused.append(str(exc))
                continue
            if exclusions.excludes(domain):
                out.excluded.append(domain)
                continue
            out.rows.append(
                {
                    "domain": domain,
                    "page_url": str(item.get("url") or ""),
                    "page_title": str(item.get("title") or ""),
                    "snippet": str(item.get("description") or ""),
                    "keyword": keyword,
                    "location": location,
                    "serp_rank": str(item.get("rank_group") or ""),
                    "discovery_job": job_id,
                    "outreach_status": "pending",
                }
            )
    return out


def append_rows(store: ProspectStore, rows: list[dict[str, str]]) -> AppendReport:
    """One batched append; duplicates by domain (store-wide) are skipped and reported."""
    if not rows:
        return AppendReport()
    return store.append(rows, dedupe_by_domain=True)
