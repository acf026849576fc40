"""What each Make.com action may carry: one pydantic model per action, and the mapping table.

Make users map text fields from other modules, so lists also arrive as a single string
("art blogs, galleries" or one item per line), numbers as "100" and booleans as "true":
those are accepted. Unknown fields are refused (a typo like ``max_prospect`` must not be
ignored silently), except for ``row_changed``, whose body is often a whole Google Sheets
"Watch Changes" bundle carrying the row's cells beside ``hub_id``.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

# DataForSEO's `depth` goes up to 700 results per SERP task.
MAX_DISCOVER_RESULTS = 700
MAX_IMPORT_ROWS = 5000

_LIST_SEPARATORS = re.compile(r"[,\n\r;]+")


def _text_list(value: Any) -> Any:
    """A list of non-empty stripped strings; a single string is split on commas and lines."""
    if isinstance(value, str):
        value = _LIST_SEPARATORS.split(value)
    if isinstance(value, list):
        return [item.strip() if isinstance(item, str) else item for item in value if item != ""]
    return value


def _drop_blank(items: list[str]) -> list[str]:
    return [item for item in items if item]


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _unmapped_means_default(cls, data: Any) -> Any:
        # A Make field left unmapped arrives as "" (or null): it means "use the default",
        # not "an invalid number".
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value not in ("", None)}
        return data


class DiscoverPayload(_Payload):
    keywords: list[str] = Field(min_length=1, max_length=1000)
    locations: list[str] = Field(default_factory=list, max_length=100)
    max_results: int = Field(100, ge=1, le=MAX_DISCOVER_RESULTS)
    live: bool = False

    _split = field_validator("keywords", "locations", mode="before")(_text_list)
    _blank = field_validator("keywords", "locations", mode="after")(_drop_blank)

    @field_validator("keywords", mode="after")
    @classmethod
    def _some_keyword(cls, keywords: list[str]) -> list[str]:
        if not keywords:
            raise ValueError("give at least one non-blank keyword")
        return keywords


class ImportRowsPayload(_Payload):
    rows: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_IMPORT_ROWS)

    @field_validator("rows", mode="after")
    @classmethod
    def _each_row_locates_a_site(cls, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        missing = [
            index
            for index, row in enumerate(rows)
            if not any(_filled(row.get(key)) for key in ("domain", "page_url"))
        ]
        if missing:
            shown = ", ".join(str(i) for i in missing[:10]) + (" ..." if len(missing) > 10 else "")
            raise ValueError(
                f"every row needs a non-empty 'domain' or 'page_url'; rows without one "
                f"(0-based): {shown}"
            )
        return rows


def _filled(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


class RowChangedPayload(_Payload):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)
    hub_id: str = Field(min_length=1, max_length=64)


class StagePayload(_Payload):
    max_prospects: int | None = Field(None, ge=1)


class SendPayload(StagePayload):
    auto_send: bool | None = None


class TickPayload(_Payload):
    pass


PAYLOADS: dict[str, type[_Payload]] = {
    "discover": DiscoverPayload,
    "import_rows": ImportRowsPayload,
    "row_changed": RowChangedPayload,
    "enrich": StagePayload,
    "score": StagePayload,
    "draft": StagePayload,
    "send": SendPayload,
    "followup": StagePayload,
    "check_replies": StagePayload,
    "tick": TickPayload,
}


class PayloadError(Exception):
    """The body does not fit the action; ``fields`` lists each field and what is expected."""

    def __init__(self, message: str, fields: list[dict[str, str]]):
        super().__init__(message)
        self.message = message
        self.fields = fields


def _row_changed_at_once(data: dict[str, Any]) -> dict[str, Any] | None:
    # What RowChangedPayload makes of the common body, without pydantic (a fifth of the edge's
    # CPU per row_changed webhook; Make's "Watch Changes" sends one per edited row). Only a
    # plain printable-ASCII id with nothing to strip qualifies; anything else (blank, too
    # long, a number, spaces around it) goes through the model and its error messages.
    hub_id = data.get("hub_id")
    if (
        type(hub_id) is str
        and 0 < len(hub_id) <= 64
        and hub_id.isascii()
        and hub_id.isprintable()
        and hub_id[0] != " "
        and hub_id[-1] != " "
    ):
        return {"hub_id": hub_id}
    return None


def _tick_at_once(data: dict[str, Any]) -> dict[str, Any] | None:
    return {} if not data else None  # TickPayload has no fields


# Pure-Python paths for the bodies that arrive most often; None falls back to the model.
_AT_ONCE = {"row_changed": _row_changed_at_once, "tick": _tick_at_once}


def validate_payload(action: str, data: Any) -> dict[str, Any]:
    """The validated, normalised payload of ``action`` (a plain dict), or :class:`PayloadError`."""
    if data is None:
        data = {}
    at_once = _AT_ONCE.get(action)
    if at_once is not None and type(data) is dict:
        done = at_once(data)
        if done is not None:
            return done
    if action == "import_rows" and isinstance(data, list):
        data = {"rows": data}  # a bare array of rows, as a Make Array Aggregator produces
    if not isinstance(data, dict):
        raise PayloadError(
            f"the body for '{action}' must be a JSON object, not a JSON {_json_type(data)}",
            [{"field": "(body)", "problem": "expected a JSON object"}],
        )
    try:
        model = PAYLOADS[action].model_validate(data)
    except ValidationError as exc:
        fields = [_describe(error) for error in exc.errors(include_input=False, include_url=False)]
        summary = "; ".join(f"{f['field']}: {f['problem']}" for f in fields[:10])
        raise PayloadError(f"the body for '{action}' is not valid: {summary}", fields) from exc
    return model.model_dump()


def _describe(error: Any) -> dict[str, str]:
    location = "".join(
        f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"]
    ).lstrip(".")
    problem = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        problem = "unknown field; check its spelling"
    return {"field": location or "(body)", "problem": problem}


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__
