"""``/api/jobs``: create stage jobs, read their status, list, cancel (the old system's paths)."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hub.api.body import parse
from hub.errors import Conflict, NotFound
from hub.stages.registry import MAKE_ACTIONS
from webhooks.make_payloads import DiscoverPayload

STATUSES = ("pending", "running", "completed", "failed", "cancelled")


class StageParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_prospects: int | None = Field(None, ge=1, le=100_000)
    prospect_ids: list[str] | None = Field(None, max_length=10_000)
    auto_send: bool | None = None


class DiscoverParams(DiscoverPayload):
    # Same rules as the Make "discover" action (keywords as a list or a comma-separated string).
    auto_send: bool | None = None


class ListParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    job_type: str | None = Field(None, pattern="^(" + "|".join(MAKE_ACTIONS) + ")$")
    status: str | None = Field(None, pattern="^(" + "|".join(STATUSES) + ")$")
    limit: int = Field(100, ge=1, le=1000)


def job_status(job: dict[str, Any]) -> dict[str, Any]:
    """The old API's status shape (plus ``source`` and ``params``)."""
    processed, total = job["processed"], job["total"]
    if job["status"] == "completed":
        percent = 100.0  # a stage that finished through callbacks may not report its last chunk
    elif total:
        percent = round(min(processed / total, 1.0) * 100, 1)
    else:
        percent = 0.0
    return {
        "job_id": job["id"],
        "job_type": job["job_type"],
        "status": job["status"],
        "progress": {"processed": processed, "total": total, "percent": percent},
        "result": job["result"],
        "error": job["error"],
        "created_at": job["created_at"],
        "started_at": job["started_at"],
        "finished_at": job["finished_at"],
        "parent_job_id": job["parent_id"],
        "source": job["source"],
        "params": job["params"],
    }


def created(job_id: str) -> JSONResponse:
    return JSONResponse(
        {"job_id": job_id, "status": "pending", "status_url": f"/api/jobs/{job_id}/status"},
        status_code=202,
    )


def _params(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(exclude_none=True)


async def submit(request: Request, job_type: str, params: dict[str, Any]) -> JSONResponse:
    runner = request.app.state.services.runner
    return created(await runner.submit(job_type, params, source="api"))


def stage_endpoint(job_type: str):
    async def endpoint(request: Request) -> JSONResponse:
        """Queue a stage job over the eligible rows (or ``prospect_ids``)."""
        return await submit(request, job_type, _params(await parse(request, StageParams)))

    endpoint.__name__ = f"create_{job_type}_job"
    return endpoint


async def create_discover(request: Request) -> JSONResponse:
    return await submit(request, "discover", _params(await parse(request, DiscoverParams)))


def _found(request: Request) -> dict[str, Any]:
    job = request.app.state.services.state.get_job(request.path_params["job_id"])
    if job is None:
        raise NotFound(f"no job with id {request.path_params['job_id']!r}")
    return job


async def get_status(request: Request) -> JSONResponse:
    job = await asyncio.to_thread(_found, request)
    return JSONResponse(job_status(job))


async def list_jobs(request: Request) -> JSONResponse:
    query = await parse(request, ListParams, body=False)
    state = request.app.state.services.state
    jobs = await asyncio.to_thread(state.list_jobs, query.job_type, query.status, limit=query.limit)
    return JSONResponse({"jobs": [job_status(j) for j in jobs], "count": len(jobs)})


async def cancel(request: Request) -> JSONResponse:
    job = await asyncio.to_thread(_found, request)
    if job["status"] in ("completed", "failed", "cancelled"):
        raise Conflict(f"job {job['id']} has already ended ({job['status']})")
    job = await request.app.state.services.runner.cancel(job["id"])
    return JSONResponse(job_status(job), status_code=202)


routes = [
    Route("/jobs", list_jobs, methods=["GET"]),
    Route("/jobs/discover", create_discover, methods=["POST"]),
    Route("/jobs/enrich", stage_endpoint("enrich"), methods=["POST"]),
    Route("/jobs/score", stage_endpoint("score"), methods=["POST"]),
    Route("/jobs/draft", stage_endpoint("draft"), methods=["POST"]),
    Route("/jobs/send", stage_endpoint("send"), methods=["POST"]),
    Route("/jobs/followup", stage_endpoint("followup"), methods=["POST"]),
    Route("/jobs/check-replies", stage_endpoint("check_replies"), methods=["POST"]),
    Route("/jobs/{job_id}/status", get_status, methods=["GET"]),
    Route("/jobs/{job_id}/cancel", cancel, methods=["POST"]),
]
