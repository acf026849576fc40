"""The connection to the Sheets API: a paced gspread client, and what a failed call means.

``connect`` turns the settings' service-account key into a gspread client that talks through
the rebased session (``sheets/google_auth.py``) with a timeout on every call. Pacing: reads
(GET) and writes each go through a sliding-window limiter at ``sheets_rate`` per minute (the
per-user quota); 429/5xx/dropped connections are retried (``sheets/retry.py``).
``failure_message`` says, for a call that failed for good, which setting to check.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

import google.auth.transport.requests
import gspread
import requests
from google.auth.exceptions import RefreshError, TransportError
from google.oauth2 import service_account
from gspread.exceptions import APIError
from gspread.http_client import HTTPClient
from requests import Response

from sheets.google_auth import load_service_account_info, rebased_session
from sheets.ratelimit import SlidingWindowLimiter
from sheets.retry import is_transient, status_of
from sheets.store import StoreError, StoreUnreachable

SCOPES = ["https://www.googleapis.com/auth/spreadsheets"]
# (connect, read) seconds for every Sheets call.
TIMEOUT = (10.0, 60.0)


class PacedHTTPClient(HTTPClient):
    """gspread's HTTP client with one limiter for reads (GET) and one for writes."""

    read_limiter: SlidingWindowLimiter | None = None
    write_limiter: SlidingWindowLimiter | None = None

    def request(self, method: str, endpoint: str, *args: Any, **kwargs: Any):
        limiter = self.read_limiter if method.upper() == "GET" else self.write_limiter
        if limiter is not None:
            limiter.acquire()
        return super().request(method, endpoint, *args, **kwargs)


def connect(
    settings: Any,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    window: float = 60.0,
) -> tuple[gspread.Client, str]:
    """A paced client from ``hub.config.Settings`` (duck-typed), and the account's email."""
    info = load_service_account_info(
        settings.google_service_account_file,
        settings.google_service_account_json.get_secret_value(),
    )
    if settings.google_token_url.rstrip("/") != info.get("token_uri", "").rstrip("/"):
        info["token_uri"] = settings.google_token_url  # HUB_GOOGLE_TOKEN_URL wins
    try:
        credentials = service_account.Credentials.from_service_account_info(info, scopes=SCOPES)
    except Exception:  # ValueError, or the key parser's own errors: never a message with key data
        raise StoreError(
            "the private_key of the service-account key is not a private key (it should start "
            "with -----BEGIN PRIVATE KEY-----): download a new JSON key for the service account "
            "and point GOOGLE_SERVICE_ACCOUNT_FILE (or GOOGLE_SERVICE_ACCOUNT_JSON) at it"
        ) from None
    session = rebased_session(credentials, settings.sheets_api_url)
    client = gspread.Client(auth=credentials, session=session, http_client=PacedHTTPClient)
    client.set_timeout(TIMEOUT)
    http = client.http_client
    assert isinstance(http, PacedHTTPClient)
    http.read_limiter = SlidingWindowLimiter(settings.sheets_rate, window, clock=clock, sleep=sleep)
    http.write_limiter = SlidingWindowLimiter(
        settings.sheets_rate, window, clock=clock, sleep=sleep
    )
    return client, info.get("client_email", "")


def sign_in(credentials: Any, timeout: float) -> None:
    """Fetch an access token now, so start-up knows at once whether the token URL answers and
    accepts the key. :class:`StoreUnreachable` when it did not answer, :class:`StoreError` when
    it refused."""
    token_uri = getattr(credentials, "_token_uri", "") or "the token URL"
    request = functools.partial(google.auth.transport.requests.Request(), timeout=timeout)
    try:
        credentials.refresh(request)
    except RefreshError as exc:
        said = exc.args[0] if exc.args else type(exc).__name__
        raise StoreError(
            f"Google refused the service account's sign-in at {token_uri} ({said}): check "
            "GOOGLE_SERVICE_ACCOUNT_FILE / GOOGLE_SERVICE_ACCOUNT_JSON and HUB_GOOGLE_TOKEN_URL"
        ) from None
    except (TransportError, requests.RequestException) as exc:
        raise StoreUnreachable(
            f"could not reach the Google token URL {token_uri} ({type(exc).__name__}): check "
            "HUB_GOOGLE_TOKEN_URL and the network"
        ) from None


def open_streamed_get(http: HTTPClient, endpoint: str, params: dict[str, str]) -> Response:
    """A paced GET whose body is read as it arrives; errors raise gspread's APIError as usual."""
    if isinstance(http, PacedHTTPClient) and http.read_limiter is not None:
        http.read_limiter.acquire()
    response = http.session.request(
        "get", endpoint, params=params, timeout=http.timeout, stream=True
    )
    if not response.ok:
        try:
            raise APIError(response)  # reads the (small) error body
        finally:
            response.close()
    return response


def write_raw(http: HTTPClient, spreadsheet_id: str, data: list[dict]) -> None:
    """One ``values.batchUpdate`` of ``a1_ranges`` data; nothing is sent for no data."""
    if data:
        body = {"valueInputOption": "RAW", "data": data}  # RAW: a scraped "=..." stays text
        http.values_batch_update(spreadsheet_id, body)


def failure_message(
    exc: Exception,
    what: str,
    *,
    spreadsheet_id: str,
    worksheet: str,
    account_email: str,
    attempts: int,
) -> str | None:
    """Why ``what`` failed after the retries, naming what to fix; None if it is not Google's."""
    if isinstance(exc, APIError):
        return _explain(exc, what, spreadsheet_id, worksheet, account_email)
    if isinstance(exc, RefreshError):
        return (
            f"could not {what}: the service account got no access token ({exc.args[0]}); "
            "check GOOGLE_SERVICE_ACCOUNT_FILE / GOOGLE_SERVICE_ACCOUNT_JSON and "
            "HUB_GOOGLE_TOKEN_URL"
        )
    if is_transient(exc):
        return (
            f"could not {what}: Google Sheets did not answer after "
            f"{attempts} attempts ({type(exc).__name__}); check the network "
            "and HUB_SHEETS_API_URL"
        )
    return None


def _explain(
    exc: APIError, what: str, spreadsheet_id: str, worksheet: str, account_email: str
) -> str:
    code, message = status_of(exc), exc.error.get("message", "")
    where = f"spreadsheet {spreadsheet_id!r}"
    if code == 403:
        who = account_email or "the service account"
        return (
            f"could not {what}: Google refused access to {where} (403 {message}). Share the "
            f"sheet with {who} as Editor, and check HUB_SHEET_ID"
        )
    if code == 404:
        return f"could not {what}: {where} was not found (404); check HUB_SHEET_ID"
    if code == 400 and "parse range" in message:
        return (
            f"could not {what}: no worksheet named {worksheet!r} in {where}; check "
            "HUB_WORKSHEET or run `hub sheet init` to create it"
        )
    return f"could not {what}: Google Sheets answered {code}: {message}"
