"""One-click unsubscribe (RFC 8058): ``GET /u/{token}`` shows a page, ``POST /u/{token}`` acts.

Mail scanners follow links, so a GET only shows a confirmation page and changes nothing. The
POST (from the mailbox provider's one-click button, body ``List-Unsubscribe=One-Click``, or
from the page's button) needs no cookie and no login: the signed token is the capability. It
takes effect at once: the address goes into the suppression table (which outlives the row),
the row becomes ``unsubscribed`` (pending follow-ups are cleared) and the event
``prospect.unsubscribed`` is queued. Tokens stay valid for ~400 days (RFC 8058 asks for links
that keep working; the Gmail sender guidelines ask that unsubscribes be honoured within 2 days).
"""

from __future__ import annotations

import asyncio
import html
import logging

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from hub.sending.ledger import Ledger
from hub.sending.suppression import Suppression, normalise_email
from hub.state.keys import secret_keys_for
from webhooks.tokens import UNSUBSCRIBE_SALT, TokenError, verify_timed

log = logging.getLogger(__name__)

TOKEN_MAX_AGE = 400 * 24 * 3600

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>{title}</title></head>
<body style="font-family: sans-serif; max-width: 34em; margin: 3em auto; line-height: 1.5">
<h1>{title}</h1>
{body}
</body></html>"""

_CONFIRM = """<p>Click the button to stop all further e-mails from us to this address.</p>
<form method="post" action="{action}">
<input type="hidden" name="List-Unsubscribe" value="One-Click">
<button type="submit">Unsubscribe</button>
</form>"""


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    headers = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    return HTMLResponse(_PAGE.format(title=title, body=body), status, headers=headers)


def _bad_token(exc: TokenError) -> HTMLResponse:
    if "expired" in str(exc):
        return _page(
            "This unsubscribe link has expired",
            "<p>Please reply to our e-mail with the word <em>unsubscribe</em> and we will "
            "stop writing to you at once.</p>",
            410,
        )
    return _page(
        "This unsubscribe link is not valid",
        "<p>The link is incomplete or was changed. Please use the link from the e-mail "
        "exactly as it is, or reply with the word <em>unsubscribe</em>.</p>",
        400,
    )


def _hub_id(services, token: str) -> str:
    keys = secret_keys_for(services.settings)
    data = verify_timed(token, keys, UNSUBSCRIBE_SALT, TOKEN_MAX_AGE)
    hub_id = data.get("h") if isinstance(data, dict) else None
    if not isinstance(hub_id, str) or not hub_id:
        raise TokenError("the link is not valid")
    return hub_id


def unsubscribe(services, hub_id: str) -> bool:
    """Suppress every address this row was (or would be) mailed at, and mark the row.
    Idempotent; returns True the first time (when the event is due)."""
    settings = services.settings
    row = services.store.get(hub_id)
    addresses = {normalise_email((row or {}).get("contact_email", ""))}
    ledger = Ledger.from_settings(settings)
    try:
        addresses |= {normalise_email(a) for a in ledger.recipients(hub_id)}
    finally:
        ledger.close()
    addresses.discard("")
    suppression = Suppression(settings, services.store)
    try:
        fresh = any(suppression.reason_for(a) != "unsubscribed" for a in addresses)
        for address in addresses:
            suppression.add(address, "unsubscribed")
    finally:
        suppression.close()
    if row is None:
        return fresh
    fresh = fresh or (row.get("outreach_status", "") != "unsubscribed")
    try:
        services.store.update(
            {
                hub_id: {
                    "outreach_status": "unsubscribed",
                    "hold_reason": "SKIP:unsubscribed",
                    "next_followup_at": "",
                }
            }
        )
    except Exception:  # the suppression table already stops every send; the sheet catches up
        log.exception("unsubscribe of %s: the row could not be updated", hub_id)
    if fresh:
        state = getattr(services, "state", None)
        if state is not None and hasattr(state, "add_event"):
            state.add_event(
                "prospect.unsubscribed",
                {
                    "hub_id": hub_id,
                    "domain": row.get("domain", ""),
                    "contact_email": row.get("contact_email", ""),
                },
            )
    return fresh


def routes(services=None) -> list[Route]:
    """``services`` may be None: then the app's ``state.services`` (set at start-up) is used."""

    def resolve(request: Request):
        return services if services is not None else request.app.state.services

    async def confirm(request: Request) -> HTMLResponse:
        token = request.path_params["token"]
        try:
            _hub_id(resolve(request), token)
        except TokenError as exc:
            return _bad_token(exc)
        action = html.escape(f"/u/{token}", quote=True)
        return _page("Unsubscribe", _CONFIRM.format(action=action))

    async def one_click(request: Request) -> HTMLResponse:
        current = resolve(request)
        try:
            hub_id = _hub_id(current, request.path_params["token"])
        except TokenError as exc:
            return _bad_token(exc)
        await asyncio.to_thread(unsubscribe, current, hub_id)
        return _page(
            "You are unsubscribed",
            "<p>We will not e-mail this address again. Sorry for the bother.</p>",
        )

    return [
        Route("/u/{token}", confirm, methods=["GET"]),
        Route("/u/{token}", one_click, methods=["POST"]),
    ]
