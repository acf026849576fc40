"""From a discovery request (keywords x locations) to DataForSEO task objects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hub.errors import BadRequest, HubError
from hub.providers.dataforseo import location_fields

DEFAULT_LOCATION = "United States"
MAX_DEPTH = 700  # DataForSEO's largest `depth`
MAX_KEYWORDS = 1000


class NotConfigured(HubError):
    status = 409
    code = "discovery_not_configured"


NO_DATAFORSEO = (
    "DataForSEO is not configured: set DATAFORSEO_LOGIN and DATAFORSEO_PASSWORD to discover "
    "prospects, or import rows instead (hub sheet import FILE.csv, or the import_rows webhook)"
)


def _as_list(value: Any, name: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [part for part in value.replace("\n", ",").split(",")]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadRequest(f"'{name}' must be a string or a list of strings")
    return list(dict.fromkeys(v.strip() for v in value if v.strip()))


@dataclass(frozen=True)
class DiscoveryRequest:
    keywords: list[str]
    locations: list[str]
    max_results: int
    live: bool
    language: str

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> DiscoveryRequest:
        keywords = _as_list(params.get("keywords", params.get("keyword")), "keywords")
        if not keywords:
            raise BadRequest("'keywords' is required: the search terms to find prospects with")
        if len(keywords) > MAX_KEYWORDS:
            raise BadRequest(f"at most {MAX_KEYWORDS} keywords per discovery job")
        locations = _as_list(params.get("locations", params.get("location")), "locations")
        raw_max = params.get("max_results", 100)
        try:
            max_results = int(raw_max)
        except (TypeError, ValueError) as exc:
            raise BadRequest("'max_results' must be a whole number") from exc
        if not 1 <= max_results <= MAX_DEPTH:
            raise BadRequest(f"'max_results' must be between 1 and {MAX_DEPTH}")
        live = params.get("live", False)
        if isinstance(live, str):
            live = live.strip().lower() in ("1", "true", "yes", "on")
        return cls(
            keywords=keywords,
            locations=locations or [DEFAULT_LOCATION],
            max_results=max_results,
            live=bool(live),
            language=str(params.get("language") or "en"),
        )

    def pairs(self) -> list[tuple[str, str]]:
        """(keyword, location) of every task, in the order :meth:`tasks` builds them."""
        return [(k, loc) for loc in self.locations for k in self.keywords]

    def tasks(
        self, tag: str, *, postback_url: str = "", pingback_url: str = ""
    ) -> list[dict[str, Any]]:
        out = []
        for keyword, location in self.pairs():
            task: dict[str, Any] = {
                "keyword": keyword,
                **location_fields(location),
                "language_code": self.language,
                "depth": self.max_results,
                "tag": tag[:255],
            }
            if postback_url:
                task["postback_url"] = postback_url
                task["postback_data"] = "advanced"
            if pingback_url:
                task["pingback_url"] = pingback_url
            out.append(task)
        return out


def task_location(task: dict[str, Any], fallback: str = "") -> str:
    return str(task.get("location_name") or task.get("location_code") or fallback)
