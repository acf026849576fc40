"""``/openapi.json``: a hand-built OpenAPI 3.1 document of ``/api`` and the health checks.

Hand-built from one table (rather than docstring YAML) so the parameter and schema names are
exactly the ones the validators in ``hub.api`` accept, pydantic models included.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from hub.api.jobs import DiscoverParams, StageParams
from hub.api.row_edits import ApproveParams, EditBody

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}
_JOB_CREATED = {
    "type": "object",
    "properties": {
        "job_id": {"type": "string"},
        "status": {"type": "string"},
        "status_url": {"type": "string"},
    },
}
_JOB_STATUS = {
    "type": "object",
    "properties": {
        "job_id": {"type": "string"},
        "job_type": {"type": "string"},
        "status": {
            "type": "string",
            "enum": ["pending", "running", "completed", "failed", "cancelled"],
        },
        "progress": {
            "type": "object",
            "properties": {
                "processed": {"type": "integer"},
                "total": {"type": "integer"},
                "percent": {"type": "number"},
            },
        },
        "result": {},
        "error": {"type": ["string", "null"]},
        "created_at": {"type": "string"},
        "started_at": {"type": ["string", "null"]},
        "finished_at": {"type": ["string", "null"]},
        "parent_job_id": {"type": ["string", "null"]},
    },
}
_OBJECT = {"type": "object"}


def _query(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def _path(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


_STAGE_QUERY = [
    _query("max_prospects", {"type": "integer", "minimum": 1}, "at most this many rows"),
    _query("prospect_ids", {"type": "string"}, "comma-separated hub_ids (or repeat the parameter)"),
    _query("auto_send", {"type": "boolean"}, "chain draft -> send"),
]


def _op(summary: str, ok: int, schema: dict, *, params=(), body: dict | None = None) -> dict:
    op: dict[str, Any] = {
        "summary": summary,
        "parameters": list(params),
        "responses": {
            str(ok): {"description": "OK", "content": {"application/json": {"schema": schema}}},
            "401": _error_response("missing or wrong bearer key"),
            "422": _error_response("a parameter is invalid (the message names it)"),
        },
    }
    if body is not None:
        op["requestBody"] = {"required": False, "content": {"application/json": {"schema": body}}}
    return op


_APPROVED = {
    "type": "object",
    "properties": {
        "approved": {"type": "integer", "description": "rows newly approved"},
        "already_approved": {"type": "integer"},
        "matched": {"type": "integer"},
        "hub_ids": {"type": "array", "items": {"type": "string"}},
        "missing": {"type": "array", "items": {"type": "string"}},
        "message": {"type": "string"},
    },
}
_EDITED = {
    "type": "object",
    "properties": {
        "hub_id": {"type": "string"},
        "changed": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "properties": {"before": {"type": "string"}, "after": {"type": "string"}},
            },
        },
        "message": {"type": "string"},
        "prospect": {"type": "object"},
    },
}

_HISTORY = {
    "type": "object",
    "properties": {
        "hub_id": {"type": "string"},
        "changes": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "at": {"type": "string"},
                    "by": {
                        "type": "string",
                        "description": "api key <fingerprint>, status page or cli",
                    },
                    "column": {"type": "string"},
                    "before": {"type": "string"},
                    "after": {"type": "string"},
                },
            },
        },
    },
}


def _with_errors(op: dict[str, Any], *, conflict: bool = False) -> dict[str, Any]:
    op["responses"]["404"] = _error_response("no prospect with that hub_id")
    op["responses"]["422"] = _error_response(
        "a hub-owned column or a bad value; error.fields names each column and says why"
    )
    if conflict:
        op["responses"]["409"] = _error_response("the row changed after If-Unmodified-Since")
    return op


def _error_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ERROR}}}


def _stage(job_type: str) -> dict[str, Any]:
    return {
        "post": _op(
            f"Queue a {job_type} job",
            202,
            _JOB_CREATED,
            params=_STAGE_QUERY,
            body=StageParams.model_json_schema(),
        )
    }


def build_document(server_url: str = "/") -> dict[str, Any]:
    stage_paths = {
        f"/api/jobs/{name.replace('_', '-')}": _stage(name)
        for name in ("enrich", "score", "draft", "send", "followup", "check_replies")
    }
    paths: dict[str, Any] = {
        "/api/jobs/discover": {
            "post": _op(
                "Queue a discovery job", 202, _JOB_CREATED, body=DiscoverParams.model_json_schema()
            )
        },
        **stage_paths,
        "/api/jobs": {
            "get": _op(
                "List recent jobs",
                200,
                _OBJECT,
                params=[
                    _query("job_type", {"type": "string"}),
                    _query("status", {"type": "string"}),
                    _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000}),
                ],
            )
        },
        "/api/jobs/{job_id}/status": {
            "get": _op("A job's status", 200, _JOB_STATUS, params=[_path("job_id")])
        },
        "/api/jobs/{job_id}/cancel": {
            "post": _op("Cancel a job", 202, _JOB_STATUS, params=[_path("job_id")])
        },
        "/api/prospects": {
            "get": _op(
                "List prospects",
                200,
                _OBJECT,
                params=[
                    _query("status", {"type": "string"}),
                    _query("has_email", {"type": "boolean"}),
                    _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000}),
                    _query("offset", {"type": "integer", "minimum": 0}),
                ],
            )
        },
        "/api/prospects/enrich": {"post": _stage("enrich")["post"]},
        "/api/prospects/approve": {
            "post": _with_errors(
                _op(
                    "Approve rows by hub_ids or by a filter (status, hold_reason, q)",
                    200,
                    _APPROVED,
                    body=ApproveParams.model_json_schema(),
                ),
            )
        },
        "/api/prospects/{hub_id}": {
            "get": _op("One prospect row", 200, _OBJECT, params=[_path("hub_id")]),
            "patch": _with_errors(
                _op(
                    "Edit a row's human columns (approved, skip / do_not_contact, contact, "
                    "draft, your own columns); 422 names each hub-owned column or bad value",
                    200,
                    _EDITED,
                    params=[
                        _path("hub_id"),
                        {
                            "name": "If-Unmodified-Since",
                            "in": "header",
                            "required": False,
                            "schema": {"type": "string"},
                            "description": "HTTP date: 409 if the row changed after it",
                        },
                    ],
                    body=EditBody.model_json_schema(),
                ),
                conflict=True,
            ),
        },
        "/api/prospects/{hub_id}/history": {
            "get": _op(
                "Changes made to this row through the hub: what, when, by whom",
                200,
                _HISTORY,
                params=[_path("hub_id")],
            )
        },
        "/api/prospects/{hub_id}/compose": {
            "post": _op("Draft this row now", 200, _OBJECT, params=[_path("hub_id")])
        },
        "/api/prospects/{hub_id}/send": {
            "post": _op("Send this row now", 200, _OBJECT, params=[_path("hub_id")])
        },
        "/api/stats": {"get": _op("Counts per status, stage, job and event", 200, _OBJECT)},
    }
    for op in (op for item in paths.values() for op in item.values()):
        op["security"] = [{"bearer": []}]
    paths["/healthz"] = {
        "get": {"summary": "Liveness", "responses": {"200": {"description": "OK"}}}
    }
    paths["/readyz"] = {
        "get": {
            "summary": "Readiness: store and state DB reachable",
            "responses": {"200": {"description": "ready"}, "503": {"description": "not ready"}},
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Outreach Hub", "version": "0.1.0"},
        "servers": [{"url": server_url}],
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "paths": paths,
    }


async def openapi(request: Request) -> JSONResponse:
    return JSONResponse(build_document())
