"""The forms that act on rows: on a row's page (approve / unapprove, do not contact / skip and
back, the contact, the draft) and on ``/rows`` (approve selected, approve all drafted rows
matching the filter, after a confirmation page).

Every form needs a signed-in session and its CSRF token (``hub.web.session``); a form without
it answers 403 and changes nothing. Each carries the ``updated_at`` the page showed, so an
edit made in the sheet meanwhile is not overwritten (the form says so instead). The work is
:mod:`hub.rows.actions`, the same as the API's and the CLI's, recorded as ``status page``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from hub.errors import BadRequest, HubError, NotFound
from hub.rows import actions
from hub.rows.filter import RowFilter
from hub.sending.path import is_approved
from hub.web import session
from hub.web.preview import first_message
from hub.web.rows import PAGE_SIZE, RowQuery
from sheets.human_edits import parse_time

FLASH = "row_flash"  # [ok, text]: shown once on the next row or rows page
MAX_EDIT_FORM_BYTES = 256 * 1024  # a draft body may be long (a sheet cell holds 50,000 chars)
MAX_FORM_FIELDS = PAGE_SIZE + 10  # "approve selected" sends one field per ticked row
STATUS_CHOICES = ("do_not_contact", "skip", "resume")
CSRF_REFUSED = (
    "This form has expired (missing or wrong CSRF token): reload the page and try again. "
    "Nothing was changed."
)


def pop_flash(request: Request) -> dict[str, Any] | None:
    found = request.session.pop(FLASH, None)
    if isinstance(found, list) and len(found) == 2:
        return {"ok": bool(found[0]), "text": str(found[1])}
    return None


def _flash(request: Request, ok: bool, text: str) -> None:
    request.session[FLASH] = [ok, text]


def _services(request: Request) -> Any:
    return request.app.state.services


async def row_extras(request: Request, row: dict[str, str]) -> dict[str, Any]:
    """What the row page adds for acting on the row: flash, preview, history of changes."""
    services = _services(request)
    preview = await asyncio.to_thread(first_message, services.settings, row)

    try:
        changed = await asyncio.to_thread(actions.changes_of, services.settings, row["hub_id"])
        changes_error = ""
    except Exception as exc:  # one failing section never takes the page down
        changed, changes_error = [], f"the row history could not be read ({type(exc).__name__})"
    return {
        "flash": pop_flash(request),
        "preview": preview,
        "changes": changed,
        "changes_error": changes_error,
        "approved": is_approved(row),
        "require_approval": services.settings.require_approval,
        "taken_out": (row.get("outreach_status") or "").strip().lower()
        in ("skip", "do_not_contact"),
    }


async def _checked_form(request: Request) -> FormData | Response:
    """The form, or the answer that refuses it (not signed in: to the front page; bad CSRF:
    403)."""
    if not session.signed_in(request, _services(request).settings):
        return RedirectResponse("/", status_code=303)
    form = await request.form(max_files=0, max_fields=MAX_FORM_FIELDS)
    if not session.csrf_ok(request, form.get("csrf")):
        return PlainTextResponse(CSRF_REFUSED, status_code=403)
    return form


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _row_edit(
    build: Callable[[FormData, dict[str, str]], dict[str, object]], *, reads_row: bool = False
):
    """A row form: ``build`` turns the form (and, with ``reads_row``, the row as it is now)
    into the edit. Only forms that need the row read it first: on a Google Sheet every read
    is quota, and the edit re-reads what it needs anyway."""

    async def endpoint(request: Request) -> Response:
        form = await _checked_form(request)
        if isinstance(form, Response):
            return form
        services, hub_id = _services(request), request.path_params["hub_id"]
        back = RedirectResponse(f"/rows/{hub_id}#actions", status_code=303)
        try:
            row = await asyncio.to_thread(services.store.get, hub_id) if reads_row else {}
            if row is None:
                raise NotFound(f"no prospect with id {hub_id!r}")
            result = await asyncio.to_thread(
                actions.edit_row,
                services,
                hub_id,
                build(form, row),
                actions.STATUS_PAGE,
                unmodified_since=parse_time(_text(form, "updated_at")),
            )
        except HubError as exc:
            _flash(request, False, exc.message)
        else:
            _flash(request, True, result.message())
        request.app.state.web_rows = None  # the next page shows the edit, not a snapshot
        return back

    return endpoint


def _approve(form: FormData, row: dict[str, str]) -> dict[str, object]:
    return {"approved": _text(form, "approved") or "TRUE"}


def _status(form: FormData, row: dict[str, str]) -> dict[str, object]:
    wanted = _text(form, "outreach_status")
    if wanted == "resume":
        wanted = actions.resume_status(row)
    return {"outreach_status": wanted}


def _contact(form: FormData, row: dict[str, str]) -> dict[str, object]:
    return {
        "contact_email": _text(form, "contact_email"),
        "contact_name": _text(form, "contact_name"),
    }


def _draft(form: FormData, row: dict[str, str]) -> dict[str, object]:
    # Browsers send textarea line ends as CRLF; the sheet and the sender use LF.
    body = _text(form, "draft_body").replace("\r\n", "\n")
    return {"draft_subject": _text(form, "draft_subject"), "draft_body": body}


def bulk_filter(form: FormData) -> RowFilter:
    """The /rows filter the form carried, narrowed to drafted rows (what "approve all" means);
    a filter on another status names no drafted row."""
    query = RowQuery.from_params({k: _text(form, k) for k in ("q", "status", "hold")})
    if query.status not in ("", "drafted"):
        raise BadRequest(
            f"Approve all approves drafted rows; this filter lists {query.status} rows. "
            "Nothing was changed."
        )
    return RowFilter(query.q, "drafted", query.hold)


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."


def _rows_link(form: FormData) -> str:
    params = {k: _text(form, k) for k in ("q", "status", "hold", "page") if _text(form, k)}
    return "/rows" + ("?" + urlencode(params) if params else "")


def bulk_approve(render: Callable[..., Response]):
    async def endpoint(request: Request) -> Response:
        form = await _checked_form(request)
        if isinstance(form, Response):
            return form
        services = _services(request)
        back = RedirectResponse(_rows_link(form), status_code=303)
        try:
            if _text(form, "mode") == "all":
                where = bulk_filter(form)
                if _text(form, "confirm") != "yes":
                    rows = await asyncio.to_thread(services.store.select, where.matches)
                    context = {"where": where, "count": len(rows), "back": _rows_link(form)}
                    context["form"] = {k: _text(form, k) for k in ("q", "status", "hold", "page")}
                    return render(request, "rows_confirm.html", context)
                result = await asyncio.to_thread(
                    actions.approve_rows, services, actions.STATUS_PAGE, where=where
                )
            else:
                ids = [v for v in form.getlist("hub_id") if isinstance(v, str) and v]
                if not ids:
                    _flash(request, False, "Tick the rows to approve first: nothing was changed.")
                    return back
                result = await asyncio.to_thread(
                    actions.approve_rows, services, actions.STATUS_PAGE, hub_ids=ids
                )
        except HubError as exc:
            _flash(request, False, exc.message)
            return back
        request.app.state.web_rows = None
        _flash(request, True, _sentence(result.message()))
        return back

    return endpoint


def action_routes(settings: Any, render: Callable[..., Response]) -> list[Route]:
    middleware = [session.session_middleware(settings)]

    def post(path: str, endpoint) -> Route:
        return Route(
            path,
            endpoint,
            methods=["POST"],
            middleware=middleware,
            max_body_size=MAX_EDIT_FORM_BYTES,
        )

    return [
        post("/rows/approve", bulk_approve(render)),
        post("/rows/{hub_id}/approve", _row_edit(_approve)),
        post("/rows/{hub_id}/status", _row_edit(_status, reads_row=True)),
        post("/rows/{hub_id}/contact", _row_edit(_contact)),
        post("/rows/{hub_id}/draft", _row_edit(_draft)),
    ]
