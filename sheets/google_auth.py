"""Service-account credentials and the HTTP session gspread talks through.

gspread has no base-URL setting (its URLs are constants in ``gspread/urls.py``), so the
session rewrites ``https://sheets.googleapis.com`` to ``HUB_SHEETS_API_URL``; that is what lets
the tests run the real gspread against ``tests/emulators/sheets_api.py``. The session is
google-auth's ``AuthorizedSession``: it fetches and refreshes the access token itself.
Nothing here logs or repeats key material.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from google.auth.credentials import Credentials
from google.auth.transport.requests import AuthorizedSession

from sheets.store import StoreError

GOOGLE_SHEETS_URL = "https://sheets.googleapis.com"
_REQUIRED_KEYS = ("client_email", "private_key", "token_uri")


class RebasedSession(AuthorizedSession):
    def __init__(self, credentials: Credentials, base_url: str):
        super().__init__(credentials)
        self.base_url = base_url.rstrip("/")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any):  # type: ignore[override]
        if url.startswith(GOOGLE_SHEETS_URL):
            url = self.base_url + url[len(GOOGLE_SHEETS_URL) :]
        return super().request(method, url, *args, **kwargs)


def rebased_session(credentials: Credentials, base_url: str) -> AuthorizedSession:
    if base_url.rstrip("/") == GOOGLE_SHEETS_URL:
        return AuthorizedSession(credentials)
    return RebasedSession(credentials, base_url)


def load_service_account_info(file: str, inline_json: str) -> dict[str, Any]:
    """The service-account JSON from GOOGLE_SERVICE_ACCOUNT_JSON, else from the file.

    Errors name the variable and never echo the content (it holds a private key).
    """
    if inline_json.strip():
        source, text = "GOOGLE_SERVICE_ACCOUNT_JSON", inline_json
    elif file:
        source = f"GOOGLE_SERVICE_ACCOUNT_FILE ({file})"
        try:
            text = Path(file).expanduser().read_text(encoding="utf-8")
        except OSError as exc:
            raise StoreError(f"cannot read {source}: {exc.strerror}") from None
    else:
        raise StoreError(
            "HUB_SHEET_ID is set but no service account is: set GOOGLE_SERVICE_ACCOUNT_FILE "
            "or GOOGLE_SERVICE_ACCOUNT_JSON"
        )
    try:
        info = json.loads(text)
    except ValueError:
        raise StoreError(f"{source} is not valid JSON") from None
    if not isinstance(info, dict) or info.get("type") != "service_account":
        raise StoreError(f'{source} is not a service-account key (need "type": "service_account")')
    absent = [key for key in _REQUIRED_KEYS if not info.get(key)]
    if absent:
        raise StoreError(f"{source} lacks {', '.join(absent)}")
    return info
