"""Make.com modules as the exports write them, for the shipped blueprints and ``render --sign``.

Shapes copy real exports (``tests/fixtures/make``): the legacy HTTP app v3
(``http:ActionSendData``, manasoid url-checker), Set variable (manasoid basics), the Break
directive with retry (6302Mohamed project-02), Google Sheets Watch Rows and Gmail Send an email
(zahidmadeel), Custom webhook (amrit-dash). ``metadata.expect``/``parameters`` are the specs Make
shows in its editor; Make regenerates them on import, but an export without them looks foreign.
Connections (``__IMTCONN__``, Gmail ``account``) and webhook ids (``hook``) are left out on
purpose: Make asks for them when the blueprint is imported.
"""

from __future__ import annotations

import copy
from typing import Any

_HTTP_PARAMETERS_SPEC = [
    {
        "name": "handleErrors",
        "type": "boolean",
        "label": "Evaluate all states as errors (except for 2xx and 3xx )",
        "required": True,
    },
    {"name": "useNewZLibDeCompress", "type": "hidden"},
]

_NAME_VALUE = [
    {"name": "name", "type": "text", "label": "Name", "required": True},
    {"name": "value", "type": "text", "label": "Value"},
]

_HTTP_EXPECT = [
    {"name": "url", "type": "url", "label": "URL", "required": True},
    {"name": "serializeUrl", "type": "boolean", "label": "Serialize URL", "required": True},
    {
        "name": "method",
        "type": "select",
        "label": "Method",
        "required": True,
        "validate": {"enum": ["get", "head", "post", "put", "patch", "delete", "options"]},
    },
    {"name": "headers", "spec": _NAME_VALUE, "type": "array", "label": "Headers"},
    {"name": "qs", "spec": _NAME_VALUE, "type": "array", "label": "Query String"},
    {
        "name": "bodyType",
        "type": "select",
        "label": "Body type",
        "validate": {"enum": ["raw", "x_www_form_urlencoded", "multipart_form_data"]},
    },
    {"name": "parseResponse", "type": "boolean", "label": "Parse response", "required": True},
    {"name": "authUser", "type": "text", "label": "User name"},
    {"name": "authPass", "type": "password", "label": "Password"},
    {"name": "timeout", "type": "uinteger", "label": "Timeout", "validate": {"max": 300, "min": 1}},
    {
        "name": "shareCookies",
        "type": "boolean",
        "label": "Share cookies with other HTTP modules",
        "required": True,
    },
    {"name": "ca", "type": "cert", "label": "Self-signed certificate"},
    {
        "name": "rejectUnauthorized",
        "type": "boolean",
        "label": "Reject connections that are using unverified (self-signed) certificates",
        "required": True,
    },
    {"name": "followRedirect", "type": "boolean", "label": "Follow redirect", "required": True},
    {
        "name": "useQuerystring",
        "type": "boolean",
        "label": "Disable serialization of multiple same query string keys as arrays",
        "required": True,
    },
    {"name": "gzip", "type": "boolean", "label": "Request compressed content", "required": True},
    {"name": "useMtls", "type": "boolean", "label": "Use Mutual TLS", "required": True},
    {
        "name": "contentType",
        "type": "select",
        "label": "Content type",
        "validate": {
            "enum": [
                "text/plain",
                "application/json",
                "application/xml",
                "text/xml",
                "text/html",
                "custom",
            ]
        },
    },
    {"name": "data", "type": "buffer", "label": "Request content"},
    {
        "name": "followAllRedirects",
        "type": "boolean",
        "label": "Follow all redirect",
        "required": True,
    },
]


def designer(x: int, y: int, name: str = "") -> dict[str, Any]:
    return {"x": x, "y": y, **({"name": name} if name else {})}


def http_post_json(
    module_id: int,
    url: str,
    body: str,
    *,
    x: int,
    y: int = 0,
    name: str = "",
    headers: list[dict[str, str]] | None = None,
    auth_user: str = "",
    auth_pass: str = "",
) -> dict[str, Any]:
    """HTTP > Make a request (v3), POST with a raw JSON body; 4xx/5xx count as errors."""
    headers = list(headers or [])
    return {
        "id": module_id,
        "module": "http:ActionSendData",
        "version": 3,
        # handleErrors: without it a 4xx/5xx is a "success" and no error handler ever runs.
        "parameters": {"handleErrors": True, "useNewZLibDeCompress": True},
        "mapper": {
            "ca": "",
            "qs": [],
            "url": url,
            "data": body,
            "gzip": True,
            "method": "post",
            "headers": headers,
            "timeout": "",
            "useMtls": False,
            "authPass": auth_pass,
            "authUser": auth_user,
            "bodyType": "raw",
            "contentType": "application/json",
            "serializeUrl": False,
            "shareCookies": False,
            "parseResponse": True,
            "followRedirect": True,
            "useQuerystring": False,
            "followAllRedirects": False,
            "rejectUnauthorized": True,
        },
        "metadata": {
            "designer": designer(x, y, name),
            "restore": {
                "qs": {"mode": "chose", "items": []},
                "method": {"mode": "chose", "label": "POST"},
                "headers": {"mode": "chose", "items": [None] * len(headers)},
                "bodyType": {"label": "Raw"},
                "contentType": {"label": "JSON (application/json)"},
            },
            "parameters": copy.deepcopy(_HTTP_PARAMETERS_SPEC),
            "expect": copy.deepcopy(_HTTP_EXPECT),
        },
    }


def break_with_retry(
    module_id: int, *, x: int, y: int, attempts: int = 3, minutes: int = 15
) -> dict[str, Any]:
    """Error handler directive: store the incomplete execution and retry it later.

    Needs ``metadata.scenario.dlq: true`` ("Allow storing of incomplete executions").
    """
    return {
        "id": module_id,
        "module": "builtin:Break",
        "version": 1,
        "parameters": {},
        "mapper": {"retry": True, "count": str(attempts), "interval": str(minutes)},
        "metadata": {
            "designer": designer(x, y),
            "restore": {"expect": {"retry": {"mode": "chose"}}},
            "expect": [
                {
                    "name": "retry",
                    "type": "boolean",
                    "label": "Automatically complete execution",
                    "required": True,
                },
                {
                    "name": "count",
                    "type": "uinteger",
                    "label": "Number of attempts",
                    "validate": {"min": 1, "max": 10000},
                    "required": True,
                },
                {
                    "name": "interval",
                    "type": "uinteger",
                    "label": "Interval between attempts",
                    "validate": {"min": 1, "max": 44640},
                    "required": True,
                },
            ],
        },
    }


def set_variable(
    module_id: int, name: str, value: str, *, x: int, y: int = 0, label: str = ""
) -> dict[str, Any]:
    """Tools > Set variable: outputs one field named ``name``."""
    return {
        "id": module_id,
        "module": "util:SetVariable2",
        "version": 1,
        "parameters": {},
        "mapper": {"name": name, "scope": "roundtrip", "value": value},
        "metadata": {
            "designer": designer(x, y, label),
            "restore": {"expect": {"scope": {"label": "One cycle"}}},
            "expect": [
                {"name": "name", "type": "text", "label": "Variable name", "required": True},
                {
                    "name": "scope",
                    "type": "select",
                    "label": "Variable lifetime",
                    "required": True,
                    "validate": {"enum": ["roundtrip", "execution"]},
                },
                {"name": "value", "type": "any", "label": "Variable value"},
            ],
            "interface": [{"name": name, "label": name, "type": "any"}],
        },
    }


def scenario_metadata(*, instant: bool, zone: str = "eu1.make.com") -> dict[str, Any]:
    return {
        "instant": instant,
        "version": 1,
        "scenario": {
            "roundtrips": 1,
            "maxErrors": 3,
            "autoCommit": True,
            "autoCommitTriggerLast": True,
            "sequential": False,
            "slots": None,
            "confidential": False,
            "dataloss": False,
            # dlq = "Allow storing of incomplete executions": what a Break retry needs.
            "dlq": True,
            "freshVariables": False,
        },
        "designer": {"orphans": []},
        "zone": zone,
        "notes": [],
    }
