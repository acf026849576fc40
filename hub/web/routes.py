"""The status page: ``GET /`` (funnel, jobs, deliveries, limits), ``/rows``, ``/rows/{hub_id}``,
``GET /events/jobs`` (server-sent job progress), sign-in/out and job cancel.

Mounted by the app factory as ``routes(settings)``. Every page needs a session signed in with
an API key (``hub.web.session``); every form that changes something carries the session's CSRF
token. HTML is rendered on the server with Jinja2 autoescaping, so a scraped page title like
``<script>`` or ``=IMPORTXML(...)`` shows as text; the Content-Security-Policy allows only our
own static CSS and JS, as a second line of defence.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from hub.stages.row_errors import in_trouble
from hub.web import deliveries, row_actions, session
from hub.web.funnel import build_funnel
from hub.web.jobs_view import job_stream, jobs_snapshot
from hub.web.limits import limits_view
from hub.web.rows import RowQuery, RowsSnapshot, history, other_cells, search
from sheets.store import StoreError

log = logging.getLogger("hub.web")

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
MAX_FORM_BYTES = 16 * 1024  # a sign-in or cancel form is a few hundred bytes
TROUBLE_SHOWN = 50  # rows in trouble listed on the front page (the rest are counted)

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",  # the pages show prospects' addresses
}


def when(value: Any) -> str:
    """Epoch seconds or ISO text as ``2026-11-29 09:14:03Z``; empty stays empty."""
    if value in (None, ""):
        return ""
    if isinstance(value, int | float):
        moment = datetime.fromtimestamp(value, UTC)
    else:
        try:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return str(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


templates.env.filters["when"] = when


# --- plumbing ----------------------------------------------------------------------------------
def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    context = {"csrf": session.csrf_token(request), **context}
    return templates.TemplateResponse(
        request, name, context, status_code=status, headers=SECURITY_HEADERS
    )


def _services(request: Request) -> Any:
    return request.app.state.services


def _snapshot(request: Request) -> RowsSnapshot:
    store = _services(request).store
    current = getattr(request.app.state, "web_rows", None)
    if current is None or current.store is not store:
        current = RowsSnapshot(store)
        request.app.state.web_rows = current
    return current


def _problem(what: str, exc: Exception) -> str:
    if isinstance(exc, StoreError):  # written to be one clear, secret-free line
        return f"{what} could not be read: {exc}"
    log.exception("status page: %s failed", what)
    return f"{what} could not be read ({type(exc).__name__}); the hub log has the details"


async def _section(what: str, work) -> tuple[Any, str]:
    """(value, "") or (None, why): one failing section never takes the page down."""
    try:
        return await work, ""
    except Exception as exc:
        return None, _problem(what, exc)


def _signed_in(request: Request) -> bool:
    return session.signed_in(request, _services(request).settings)


def _to_front() -> RedirectResponse:
    return RedirectResponse("/", status_code=303)


async def _form(request: Request) -> dict[str, str]:
    form = await request.form(max_files=0, max_fields=10)
    return {k: v for k, v in form.items() if isinstance(v, str)}


def _signin_page(request: Request, message: str = "", status: int = 200) -> Response:
    disabled = not session.configured_keys(_services(request).settings)
    return render(request, "signin.html", {"message": message, "disabled": disabled}, status)


# --- pages -------------------------------------------------------------------------------------
async def index(request: Request) -> Response:
    if not _signed_in(request):
        return _signin_page(request)
    services = _services(request)
    state = services.state

    trouble: list[dict[str, str]] = []  # rows held on ERROR:/REVIEW:bad_* (issue 11)

    async def funnel():
        rows = await _snapshot(request).rows()
        trouble.extend(r for r in rows if in_trouble(r))
        return await asyncio.to_thread(build_funnel, rows)

    (
        (funnel_v, funnel_err),
        (jobs, jobs_err),
        (inbound, in_err),
        (outbound, out_err),
        (
            limits,
            limits_err,
        ),
    ) = await asyncio.gather(
        _section("the prospect store", funnel()),
        _section("the jobs", asyncio.to_thread(jobs_snapshot, state)),
        _section("the delivery log", asyncio.to_thread(deliveries.inbound, state)),
        _section("the event log", asyncio.to_thread(deliveries.outbound, state)),
        _section("the limits", asyncio.to_thread(limits_view, services)),
    )
    return render(
        request,
        "index.html",
        {
            "flash": request.session.pop("flash", ""),
            "funnel": funnel_v,
            "funnel_error": funnel_err,
            "jobs": jobs,
            "jobs_error": jobs_err,
            "inbound": inbound,
            "inbound_error": in_err,
            "outbound": outbound,
            "outbound_error": out_err,
            "limits": limits,
            "limits_error": limits_err,
            "trouble": trouble[:TROUBLE_SHOWN],
            "trouble_total": len(trouble),
        },
    )


async def rows_page(request: Request) -> Response:
    if not _signed_in(request):
        return _to_front()
    query = RowQuery.from_params(request.query_params)
    try:
        rows = await _snapshot(request).rows()
    except Exception as exc:
        return render(request, "rows.html", {"error": _problem("the prospect store", exc)})
    page = await asyncio.to_thread(search, rows, query)
    flash = row_actions.pop_flash(request)
    return render(request, "rows.html", {"page": page, "error": "", "flash": flash})


async def row_page(request: Request) -> Response:
    if not _signed_in(request):
        return _to_front()
    services = _services(request)
    hub_id = request.path_params["hub_id"]
    try:
        row, header = await _snapshot(request).row(hub_id)
    except Exception as exc:
        return render(request, "row.html", {"error": _problem("the prospect store", exc)})
    if row is None:
        context = {"missing": hub_id, "error": "", "flash": row_actions.pop_flash(request)}
        return render(request, "row.html", context, 404)
    sent, sent_err = await _section(
        "the send ledger", asyncio.to_thread(history, services.settings, hub_id)
    )
    shown = {"hub_id", "draft_subject", "draft_body", "reply_snippet"}
    return render(
        request,
        "row.html",
        {
            "row": row,
            "sent": sent or [],
            "sent_error": sent_err,
            "cells": other_cells(header, row, shown),
            "error": "",
            **(await row_actions.row_extras(request, row)),
        },
    )


# --- forms -------------------------------------------------------------------------------------
async def signin(request: Request) -> Response:
    if request.method == "GET":
        return _to_front()
    form = await _form(request)
    if not session.csrf_ok(request, form.get("csrf")):
        return _signin_page(
            request,
            "The sign-in form expired or your browser did not send its cookie: "
            "allow cookies for this site and try again.",
            403,
        )
    if not session.configured_keys(_services(request).settings):
        return _signin_page(request, "", 403)
    if not session.sign_in(request, _services(request).settings, form.get("key", "").strip()):
        # the presented key is never echoed back, nor logged
        log.info("status page: sign-in refused (not one of HUB_API_KEYS)")
        return _signin_page(request, "That key is not one of the hub's HUB_API_KEYS.", 401)
    return _to_front()


async def signout(request: Request) -> Response:
    form = await _form(request)
    if session.csrf_ok(request, form.get("csrf")):
        session.sign_out(request)
    return _to_front()


async def cancel_job(request: Request) -> Response:
    if not _signed_in(request):
        return _to_front()
    form = await _form(request)
    if not session.csrf_ok(request, form.get("csrf")):
        return PlainTextResponse(
            "This form has expired (missing or wrong CSRF token): reload the status page "
            "and press Cancel again.",
            status_code=403,
            headers=SECURITY_HEADERS,
        )
    services = _services(request)
    job_id = request.path_params["job_id"]
    job = await asyncio.to_thread(services.state.get_job, job_id)
    if job is None:
        message = f"There is no job {job_id}."
    elif job["status"] in ("completed", "failed", "cancelled"):
        message = f"Job {job_id} had already ended ({job['status']})."
    else:
        job = await services.runner.cancel(job_id)
        message = (
            f"Job {job_id} was cancelled."
            if job and job["status"] == "cancelled"
            else f"Cancel requested: job {job_id} stops after its current chunk."
        )
    request.session["flash"] = message
    return RedirectResponse("/#jobs", status_code=303)


async def job_events(request: Request) -> Response:
    if not _signed_in(request):
        return PlainTextResponse("sign in on the status page first", status_code=401)
    headers = {**SECURITY_HEADERS, "X-Accel-Buffering": "no"}  # no proxy buffering
    return StreamingResponse(
        job_stream(_services(request).state), media_type="text/event-stream", headers=headers
    )


def routes(settings: Any) -> list[BaseRoute]:
    """The status page's routes; ``settings`` gives the session secret and the keys."""
    middleware = [session.session_middleware(settings)]

    def page(path: str, endpoint, methods: tuple[str, ...] = ("GET",)) -> Route:
        body_cap = MAX_FORM_BYTES if "POST" in methods else None
        return Route(
            path, endpoint, methods=list(methods), middleware=middleware, max_body_size=body_cap
        )

    return [
        page("/", index),
        page("/signin", signin, ("GET", "POST")),
        page("/signout", signout, ("POST",)),
        page("/rows", rows_page),
        page("/rows/{hub_id}", row_page),
        *row_actions.action_routes(settings, render),
        page("/jobs/{job_id}/cancel", cancel_job, ("POST",)),
        page("/events/jobs", job_events),
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
    ]
