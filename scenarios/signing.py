"""Make every call to the hub sign its body (``hub scenarios render --sign``).

Before each HTTP module that calls ``/webhooks/make/``, three Set variable modules are inserted:

1. ``hub_ts``     = ``{{timestamp}}`` (Unix seconds, evaluated once),
2. ``hub_body``   = the module's original body text (its mappings are evaluated here),
3. ``hub_signed`` = ``{{<1>.hub_ts}}.{{<2>.hub_body}}``,

and the HTTP module then sends ``data = {{<2>.hub_body}}`` with the headers
``X-Hub-Timestamp: {{<1>.hub_ts}}`` and
``X-Hub-Signature-256: sha256={{sha256(<3>.hub_signed; "hex"; "<key>")}}``. ``sha256`` with a
key is an HMAC in Make (research notes, "Functions: HMAC"), and the body is a variable so the
bytes signed are exactly the bytes sent. The key is ``webhooks.tokens.body_signing_key`` of the
newest secret key, which the hub verifies with ``webhooks.signing.verify_hub``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from scenarios import modules
from scenarios.markers import HUB_PATH
from webhooks.tokens import body_signing_key

TIMESTAMP_HEADER = "X-Hub-Timestamp"
SIGNATURE_HEADER = "X-Hub-Signature-256"
_HTTP_V3 = "http:ActionSendData"
_STEP = 300  # designer pixels between modules, as Make lays them out


def add_body_signing(document: dict[str, Any], secret_key: str) -> int:
    """Sign every hub call in ``document`` (changed in place); returns how many were signed."""
    key = body_signing_key(secret_key)
    next_id = max((m["id"] for m in _all_modules(document.get("flow") or [])), default=0) + 1
    signed = 0
    for flow in list(_flows(document.get("flow") or [])):
        index = 0
        while index < len(flow):
            module = flow[index]
            if _is_unsigned_hub_call(module):
                inserted = _signing_modules(module, next_id, key)
                next_id += len(inserted)
                for later in flow[index:]:
                    _shift(later, _STEP * len(inserted))
                flow[index:index] = inserted
                index += len(inserted)
                signed += 1
            index += 1
    return signed


def _is_unsigned_hub_call(module: dict[str, Any]) -> bool:
    mapper = module.get("mapper") or {}
    if module.get("module") != _HTTP_V3 or HUB_PATH not in str(mapper.get("url") or ""):
        return False
    names = {str(h.get("name", "")).lower() for h in mapper.get("headers") or []}
    return SIGNATURE_HEADER.lower() not in names


def _signing_modules(call: dict[str, Any], first_id: int, key: str) -> list[dict[str, Any]]:
    mapper = call["mapper"]
    designer = call.get("metadata", {}).get("designer", {})
    x, y = int(designer.get("x", 0)), int(designer.get("y", 0))
    ts_id, body_id, signed_id = first_id, first_id + 1, first_id + 2
    inserted = [
        modules.set_variable(ts_id, "hub_ts", "{{timestamp}}", x=x, y=y, label="Signing: time"),
        modules.set_variable(
            body_id,
            "hub_body",
            str(mapper.get("data") or ""),
            x=x + _STEP,
            y=y,
            label="Signing: body",
        ),
        modules.set_variable(
            signed_id,
            "hub_signed",
            f"{{{{{ts_id}.hub_ts}}}}.{{{{{body_id}.hub_body}}}}",
            x=x + 2 * _STEP,
            y=y,
            label="Signing: signed text",
        ),
    ]
    # A filter guards the link into the call; it now belongs before the first new module.
    if "filter" in call:
        inserted[0]["filter"] = call.pop("filter")
    mapper["data"] = f"{{{{{body_id}.hub_body}}}}"
    headers = [
        h
        for h in mapper.get("headers") or []
        if str(h.get("name", "")).lower()
        not in (TIMESTAMP_HEADER.lower(), SIGNATURE_HEADER.lower())
    ]
    headers += [
        {"name": TIMESTAMP_HEADER, "value": f"{{{{{ts_id}.hub_ts}}}}"},
        {
            "name": SIGNATURE_HEADER,
            "value": f'sha256={{{{sha256({signed_id}.hub_signed; "hex"; "{key}")}}}}',
        },
    ]
    mapper["headers"] = headers
    restore = call.setdefault("metadata", {}).setdefault("restore", {})
    restore["headers"] = {"mode": "chose", "items": [None] * len(headers)}
    return inserted


def _shift(module: dict[str, Any], dx: int) -> None:
    for item in _all_modules([module]):
        designer = item.setdefault("metadata", {}).setdefault("designer", {})
        designer["x"] = int(designer.get("x", 0)) + dx


def _flows(flow: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    yield flow
    for module in list(flow):
        for key in ("routes", "branches"):
            for route in module.get(key) or []:
                yield from _flows(route.get("flow") or [])
        if module.get("onerror"):
            yield from _flows(module["onerror"])


def _all_modules(flow: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for inner in _flows(flow):
        for module in inner:
            if isinstance(module, dict) and isinstance(module.get("id"), int):
                yield module
