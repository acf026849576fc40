"""A mail world for the SMTP tests and bench: one SMTP stand-in (aiosmtpd) and one dovecot,
with a mailbox per sending identity, and the settings that point the hub at them.

    with smtp_world(["ada", "bob"], files_sent=False) as world:
        world.settings            # Settings values for HUB_MAILER=smtp + HUB_IDENTITIES_FILE
        world.smtp.delivered()    # what reached the SMTP server
        world.imap.messages(world.address("ada"), "Sent")

``files_sent=True``: the SMTP server files every accepted message in its sender's Sent folder
itself (like Gmail and Microsoft 365), and the identities say ``imap_append_sent = false``.
Secrets reach the hub as the identities file says: by environment-variable name.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.emulators.dovecot import Dovecot, running_dovecot
from tests.emulators.smtp import SmtpStandIn, running_smtp
from tests.helpers_send_crash import real_send_settings

DOMAIN = "artist.example"


@dataclass
class SmtpWorld:
    smtp: SmtpStandIn
    imap: Dovecot
    names: list[str]
    settings: dict[str, Any] = field(default_factory=dict)
    identities_file: Path | None = None

    @staticmethod
    def address(name: str) -> str:
        return f"{name}@{DOMAIN}"

    def sent_by(self) -> dict[str, list[str]]:
        """identity address -> recipients, from what the SMTP server accepted."""
        found: dict[str, list[str]] = {}
        for item in self.smtp.delivered():
            sender = item.parsed["From"].addresses[0].addr_spec
            found.setdefault(sender, []).extend(r.lower() for r in item.rcpt_tos)
        return found


def identity_table(world: SmtpWorld, name: str, *, cap: int, files_sent: bool, **extra) -> str:
    lines = {
        "name": name,
        "mailer": "smtp",
        "from": f"{name.title()} Artist <{world.address(name)}>",
        "daily_cap": cap,
        "smtp_host": "127.0.0.1",
        "smtp_port": world.smtp.port,
        "smtp_security": "none",
        "smtp_username": name,
        "smtp_password_env": f"HUB_TEST_{name.upper()}_SMTP",
        "imap_host": world.imap.host,
        "imap_port": world.imap.port,
        "imap_security": "none",
        "imap_username": world.address(name),
        "imap_password_env": f"HUB_TEST_{name.upper()}_IMAP",
        "imap_append_sent": not files_sent,
        **extra,
    }
    body = "\n".join(f"{key} = {_toml(value)}" for key, value in lines.items())
    return f"[[identity]]\n{body}\n"


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


@contextlib.contextmanager
def smtp_world(
    names: list[str],
    directory: Path,
    *,
    caps: dict[str, int] | None = None,
    files_sent: bool = False,
    latency: float = 0.0,
    **smtp_options: Any,
) -> Iterator[SmtpWorld]:
    smtp_users = {name: f"smtp-secret-{name}" for name in names}
    imap_users = {SmtpWorld.address(name): f"imap-secret-{name}" for name in names}
    saved = {k: os.environ.get(k) for n in names for k in _env_names(n)}
    for name in names:
        smtp_env, imap_env = _env_names(name)
        os.environ[smtp_env] = smtp_users[name]
        os.environ[imap_env] = imap_users[SmtpWorld.address(name)]
    try:
        with running_dovecot(imap_users) as imap:

            def file_in_sent(user: str, raw: bytes) -> None:
                imap.append(SmtpWorld.address(user), "Sent", raw, flags=(b"\\Seen",))

            on_accept = file_in_sent if files_sent else None
            with running_smtp(
                users=smtp_users, latency=latency, on_accept=on_accept, **smtp_options
            ) as smtp:
                world = SmtpWorld(smtp, imap, list(names))
                tables = [
                    identity_table(world, n, cap=(caps or {}).get(n, 1000), files_sent=files_sent)
                    for n in names
                ]
                world.identities_file = directory / "identities.toml"
                world.identities_file.write_text("\n".join(tables))
                world.settings = {
                    **real_send_settings(),
                    "mailer": "smtp",
                    "identities_file": str(world.identities_file),
                    "smtp_timeout": 10.0,
                }
                yield world
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _env_names(name: str) -> tuple[str, str]:
    return f"HUB_TEST_{name.upper()}_SMTP", f"HUB_TEST_{name.upper()}_IMAP"
