"""Sending identities: the mailboxes the hub sends from, each with its own daily cap.

``HUB_IDENTITIES_FILE`` is a TOML file of ``[[identity]]`` tables::

    [[identity]]
    name = "ada-fastmail"
    mailer = "smtp"                       # gmail | smtp
    from = "Ada Artist <ada@artist.example>"
    daily_cap = 30
    send_window = "mon-fri 09:00-17:00 Europe/London"   # optional, else HUB_SEND_WINDOW
    send_gap_seconds = "60-180"                         # optional, else HUB_SEND_GAP_SECONDS
    smtp_host = "smtp.fastmail.com"
    smtp_username = "ada@artist.example"
    smtp_password_env = "ADA_SMTP_PASSWORD"             # the secret's variable, never the secret
    imap_host = "imap.fastmail.com"
    imap_password_env = "ADA_IMAP_PASSWORD"

Secrets are named by environment variable (``smtp_password_env``, ``imap_password_env``,
``gmail_refresh_token_env``) and read from the environment when the file is loaded; a secret
typed into the file is refused. Without the file, today's single-identity settings (the
``GMAIL_*`` ones, or ``SMTP_*``/``IMAP_*`` with ``HUB_MAILER=smtp``) are one implicit identity
named ``default``, capped by ``HUB_DAILY_CAP``.
"""

from __future__ import annotations

import os
import tomllib
from email.utils import parseaddr
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from hub.config.pacing import Gap, LimitsConfigError, SendWindow
from hub.errors import ConfigError

IMPLICIT_NAME = "default"
# The From of a dry-run preview when no sender is configured (a reserved .invalid domain).
PREVIEW_FROM = "outreach@hub.invalid"
SECRET_FIELDS = {
    "smtp_password": "smtp_password_env",
    "imap_password": "imap_password_env",
    "gmail_refresh_token": "gmail_refresh_token_env",
}


class IdentityFields(BaseModel):
    """One ``[[identity]]`` table as written in the file (unknown keys are refused)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
    mailer: Literal["gmail", "smtp"]
    from_: str = Field(alias="from")
    daily_cap: int = Field(ge=0)
    send_window: str = ""
    send_gap_seconds: str = ""
    smtp_host: str = ""
    smtp_port: int = Field(587, ge=1, le=65535)
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    smtp_username: str = ""
    smtp_password_env: str = ""
    imap_host: str = ""
    imap_port: int = Field(993, ge=1, le=65535)
    imap_security: Literal["tls", "starttls", "none"] = "tls"
    imap_username: str = ""
    imap_password_env: str = ""
    imap_sent_folder: str = ""
    imap_append_sent: bool = True
    gmail_refresh_token_env: str = ""
    dkim_selector: str = ""

    @field_validator("from_")
    @classmethod
    def _address(cls, value: str) -> str:
        _, address = parseaddr(value)
        local, _, domain = address.rpartition("@")
        if not local or "." not in domain or any(c in value for c in "\r\n\0"):
            raise ValueError(f"{value!r} is not an address like 'Ada <ada@example.com>'")
        return value.strip()

    @field_validator("send_gap_seconds", mode="before")
    @classmethod
    def _gap_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int | float) else value


class Identity(IdentityFields):
    """An identity with its secrets read from the environment (never from the file)."""

    implicit: bool = False
    smtp_password: SecretStr = SecretStr("")
    imap_password: SecretStr = SecretStr("")
    gmail_refresh_token: SecretStr = SecretStr("")

    @property
    def address(self) -> str:
        return parseaddr(self.from_)[1]

    @property
    def display_name(self) -> str:
        return parseaddr(self.from_)[0]

    @property
    def domain(self) -> str:
        return self.address.rsplit("@", 1)[-1].lower()


def load_identities(settings) -> list[Identity]:
    """The identities to send from, in the file's order (the first is the primary one)."""
    if not settings.identities_file:
        return [implicit_identity(settings)]
    found = _read_file(settings.identities_file)
    real = settings.mailer != "outbox"
    identities = [_resolve(fields, settings, need_secrets=real) for fields in found]
    if real and any(i.mailer == "gmail" for i in identities):
        missing = [
            name
            for name, value in (
                ("GMAIL_CLIENT_ID", settings.gmail_client_id),
                ("GMAIL_CLIENT_SECRET", settings.gmail_client_secret.get_secret_value()),
            )
            if not value
        ]
        if missing:
            raise ConfigError(f"a gmail identity in HUB_IDENTITIES_FILE needs {missing[0]}")
    return identities


def _read_file(path: str) -> list[IdentityFields]:
    where = f"HUB_IDENTITIES_FILE={path}"
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read it ({exc.strerror})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML ({exc})") from exc
    tables = data.get("identity")
    if not isinstance(tables, list) or not tables:
        raise ConfigError(f"{where}: add at least one [[identity]] table")
    found: list[IdentityFields] = []
    for number, table in enumerate(tables, start=1):
        label = f"{where}: identity {number} ({table.get('name', 'no name')})"
        typed = [key for key in SECRET_FIELDS if key in table]
        if typed:
            secret = typed[0]
            raise ConfigError(
                f"{label}: {secret} must not be in the file; put the secret in an environment "
                f"variable and name it with {SECRET_FIELDS[secret]}"
            )
        try:
            fields = IdentityFields.model_validate(table)
        except ValidationError as exc:
            problem = exc.errors()[0]
            field = ".".join(str(p) for p in problem["loc"]) or "table"
            field = "from" if field == "from_" else field
            raise ConfigError(f"{label}: {field}: {problem['msg']}") from exc
        _check_mailer_fields(fields, label)
        found.append(fields)
    names = [f.name for f in found]
    duplicated = {n for n in names if names.count(n) > 1}
    if duplicated:
        raise ConfigError(f"{where}: two identities are named {sorted(duplicated)[0]!r}")
    return found


def _check_mailer_fields(fields: IdentityFields, label: str) -> None:
    if fields.mailer == "smtp":
        for key in ("smtp_host", "imap_host"):
            if not getattr(fields, key):
                raise ConfigError(
                    f'{label}: mailer = "smtp" needs {key} (IMAP\'s Sent folder is how the '
                    "hub makes sure a message never goes twice)"
                    if key == "imap_host"
                    else f'{label}: mailer = "smtp" needs {key}'
                )
    elif not fields.gmail_refresh_token_env:
        raise ConfigError(f'{label}: mailer = "gmail" needs gmail_refresh_token_env')
    try:
        Gap.parse(fields.send_gap_seconds or "0")
        SendWindow.parse(fields.send_window)
    except LimitsConfigError as exc:
        raise ConfigError(f"{label}: {exc}".replace("HUB_SEND_", "send_").lower()) from exc


def _resolve(fields: IdentityFields, settings, *, need_secrets: bool) -> Identity:
    secrets: dict[str, SecretStr] = {}
    for secret, env_field in SECRET_FIELDS.items():
        variable = getattr(fields, env_field)
        if not variable:
            continue
        value = os.environ.get(variable, "")
        if need_secrets and not value:
            raise ConfigError(
                f"identity {fields.name}: the environment variable {variable} "
                f"({env_field}) is not set"
            )
        secrets[secret] = SecretStr(value)
    values = fields.model_dump(by_alias=True)
    # The IMAP login defaults to the SMTP login, and that to the From address.
    values["smtp_username"] = fields.smtp_username
    values["imap_username"] = fields.imap_username or fields.smtp_username or _addr(fields.from_)
    if fields.mailer == "smtp" and "imap_password" not in secrets and "smtp_password" in secrets:
        secrets["imap_password"] = secrets["smtp_password"]
    return Identity(**values, **secrets)


def _addr(text: str) -> str:
    return parseaddr(text)[1]


def implicit_identity(settings) -> Identity:
    """Today's single-mailbox settings as one identity named ``default``."""
    smtp = settings.mailer == "smtp" or (settings.mailer == "outbox" and settings.smtp_from)
    if smtp:
        sender = settings.smtp_from or settings.gmail_sender
    else:
        sender = settings.gmail_sender or settings.smtp_from
    # Not validated: these settings were accepted before identities existed, and an odd
    # GMAIL_SENDER must keep working as it did (Settings.check covers what is required).
    return Identity.model_construct(
        name=IMPLICIT_NAME,
        mailer="smtp" if smtp else "gmail",
        from_=sender or PREVIEW_FROM,
        daily_cap=settings.daily_cap,
        implicit=True,
        smtp_host=settings.smtp_host,
        smtp_port=settings.smtp_port,
        smtp_security=settings.smtp_security,
        smtp_username=settings.smtp_username,
        smtp_password=settings.smtp_password,
        imap_host=settings.imap_host,
        imap_port=settings.imap_port,
        imap_security=settings.imap_security,
        imap_username=settings.imap_username,
        imap_password=settings.imap_password,
        imap_sent_folder=settings.imap_sent_folder,
        imap_append_sent=settings.imap_append_sent,
        gmail_refresh_token=settings.gmail_refresh_token,
        dkim_selector=settings.dkim_selector,
    )
