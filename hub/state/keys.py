"""The embedded secret key: with no ``HUB_SECRET_KEYS``, a random key is created once in
``HUB_DATA_DIR/secret_key`` (mode 0600) and used from then on — never an empty or fixed key.

Webhook URL tokens and unsubscribe links are signed with it, so it must survive restarts; the
CLI (``hub webhook-url``, ``hub scenarios render``) reads the same file.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path
from typing import Any

KEY_FILE = "secret_key"
API_KEY_FILE = "api_key"


def secret_key_path(settings: Any) -> Path:
    return Path(settings.data_dir) / KEY_FILE


def load_or_create_secret_key(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        existing = path.read_text().strip()
        if existing:
            return existing
    key = secrets.token_urlsafe(48)
    # O_EXCL: if the server and the CLI race on a fresh data dir, exactly one key wins.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip() or _replace_empty(path, key)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key


def _replace_empty(path: Path, key: str) -> str:
    path.write_text(key + "\n")
    path.chmod(0o600)
    return key


def secret_keys_for(settings: Any) -> list[str]:
    """``HUB_SECRET_KEYS`` (oldest first, newest last), else the embedded key file's key."""
    keys = [k for k in settings.secret_keys if k]
    return keys or [load_or_create_secret_key(secret_key_path(settings))]


def adopt_secret_keys(settings: Any) -> list[str]:
    """Make ``settings.secret_keys`` the keys in force (the embedded one when none is set), so
    every module that signs or verifies (unsubscribe links, webhook URLs) agrees on them."""
    keys = secret_keys_for(settings)
    if not settings.secret_keys:
        settings.secret_keys = keys
    return keys


def api_key_path(settings: Any) -> Path:
    return Path(settings.data_dir) / API_KEY_FILE


def adopt_api_keys(settings: Any) -> Path | None:
    """For ``hub serve`` with no ``HUB_API_KEYS``: a random key kept in ``HUB_DATA_DIR/api_key``
    (0600) opens the status page and the REST API, so the quickstart can be signed into without
    configuration. Returns the file's path when the embedded key is in use (the key itself is
    never printed or logged), ``None`` when keys are configured."""
    if any(k for k in settings.api_keys):
        return None
    path = api_key_path(settings)
    settings.api_keys = [load_or_create_secret_key(path)]
    return path
