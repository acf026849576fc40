"""Canary secrets: a distinct value planted in every secret setting, then looked for in
everything the hub printed, logged or wrote (tests/test_bad_settings.py,
tests/test_canary_flood.py).

    canaries = Canaries.planted()          # one per SecretStr setting, keys, identity secrets
    env = canaries.env(data_dir)           # the environment of a `hub` process
    assert canaries.found_in(text) == []   # nothing leaked
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import SecretStr

from hub.config import Settings, env_name
from tests.emulators.serve import free_port

ROOT = Path(__file__).resolve().parents[1]
# Every provider URL points at a port nothing listens on: `hub doctor` gets its answer (a
# refused connection) at once, and nothing leaves the machine.
CLOSED = "http://127.0.0.1:9"
# Identity secrets live in variables the identities file names.
PROVIDERS = ("SHEETS", "GMAIL", "HUNTER", "DATAFORSEO", "GEMINI")
IDENTITY_VARIABLES = ("ADA_SMTP_PASSWORD", "ADA_IMAP_PASSWORD", "STUDIO_GMAIL_REFRESH_TOKEN")


def secret_fields() -> list[str]:
    """Every setting that holds a secret: the SecretStr fields, and the two key lists."""
    found = [n for n, f in Settings.model_fields.items() if f.annotation is SecretStr]
    return [*found, "api_keys", "secret_keys"]


@dataclass
class Canaries:
    values: dict[str, str] = field(default_factory=dict)  # variable -> canary

    @classmethod
    def planted(cls) -> Canaries:
        tag = uuid.uuid4().hex[:6]
        names = [env_name(n) for n in secret_fields()] + list(IDENTITY_VARIABLES)
        # Long enough for the key checks (>= 32), distinct, and easy to grep.
        return cls({name: f"CANARY{i:02d}{tag}{'x' * 24}" for i, name in enumerate(names)})

    def env(self, data_dir: Path, **extra: str) -> dict[str, str]:
        """A clean environment (no developer's HUB_* settings) with every canary planted."""
        prefixes = (
            "HUB_",
            "GOOGLE_",
            "GMAIL_",
            "SMTP_",
            "IMAP_",
            "HUNTER_",
            "GEMINI_",
            "DATAFORSEO_",
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
        env.update(self.values)
        env.pop("HUB_DATABASE_URL")  # only the PostgreSQL cases use a database
        env.update(
            {
                "PYTHONPATH": str(ROOT),
                "HUB_DATA_DIR": str(data_dir),
                "HUB_TICK_MINUTES": "0",
                "HUB_PORT": str(free_port()),  # should a case start after all
                "DATAFORSEO_LOGIN": "canary-login",
                "HUB_EVENTS_URL": f"{CLOSED}/events",
                **{f"HUB_{name}_API_URL": CLOSED for name in PROVIDERS},
                "HUB_GOOGLE_TOKEN_URL": f"{CLOSED}/token",
            }
        )
        env.update(extra)
        return env

    def database_url(self, dsn_without_password: str) -> str:
        """``dsn`` (``postgresql://user@host...``) with the database canary as its password."""
        scheme, rest = dsn_without_password.split("://", 1)
        user, _, where = rest.partition("@")
        return f"{scheme}://{user}:{self.values['HUB_DATABASE_URL']}@{where}"

    def found_in(self, text: str | bytes) -> list[str]:
        """The variables whose canary appears in ``text`` (whole, or its distinctive head)."""
        data = text.encode("utf-8", "replace") if isinstance(text, str) else text
        return [
            name
            for name, value in self.values.items()
            if value.encode() in data or value[:14].encode() in data
        ]

    def found_in_files(self, folder: Path) -> dict[str, list[str]]:
        """Every file under ``folder`` (SQLite files, logs, keys, previews) that holds one."""
        leaks: dict[str, list[str]] = {}
        for path in folder.rglob("*"):
            if path.is_file():
                found = self.found_in(path.read_bytes())
                if found:
                    leaks[str(path)] = found
        return leaks
