"""Settings, read once at start-up from the environment and an optional ``.env``.

Names are prefixed ``HUB_`` unless they belong to a provider (``HUNTER_API_KEY``, ...).
Secrets are ``SecretStr`` and print as ``**********``. A feature that is configured but
missing a value it needs stops start-up with a message naming the variable
(:func:`Settings.check`). Nothing here does I/O except :func:`load_settings`.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from hub.config.identities import load_identities
from hub.errors import ConfigError


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


CsvList = Annotated[list[str], NoDecode]


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    # --- local state --------------------------------------------------------------------
    data_dir: Path = Field(Path("./hub-data"), validation_alias=_env("HUB_DATA_DIR"))
    host: str = Field("127.0.0.1", validation_alias=_env("HUB_HOST"))
    port: int = Field(8000, validation_alias=_env("HUB_PORT"))
    public_url: str = Field("", validation_alias=_env("HUB_PUBLIC_URL"))
    log_level: str = Field("info", validation_alias=_env("HUB_LOG_LEVEL"))
    load_demo: bool = Field(False, validation_alias=_env("HUB_LOAD_DEMO"))

    # --- the prospect store -------------------------------------------------------------
    sheet_id: str = Field("", validation_alias=_env("HUB_SHEET_ID"))
    worksheet: str = Field("Prospects", validation_alias=_env("HUB_WORKSHEET"))
    google_service_account_file: str = Field(
        "", validation_alias=_env("GOOGLE_SERVICE_ACCOUNT_FILE")
    )
    google_service_account_json: SecretStr = Field(
        SecretStr(""), validation_alias=_env("GOOGLE_SERVICE_ACCOUNT_JSON")
    )
    sheets_rate: int = Field(60, ge=1, validation_alias=_env("HUB_SHEETS_RATE"))
    sheets_chunk_rows: int = Field(500, ge=1, validation_alias=_env("HUB_SHEETS_CHUNK_ROWS"))

    # --- base URLs of external services (tests point them at tests/emulators) -----------
    sheets_api_url: str = Field(
        "https://sheets.googleapis.com", validation_alias=_env("HUB_SHEETS_API_URL")
    )
    google_token_url: str = Field(
        "https://oauth2.googleapis.com/token", validation_alias=_env("HUB_GOOGLE_TOKEN_URL")
    )
    gmail_api_url: str = Field(
        "https://gmail.googleapis.com/", validation_alias=_env("HUB_GMAIL_API_URL")
    )
    hunter_api_url: str = Field(
        "https://api.hunter.io/v2", validation_alias=_env("HUB_HUNTER_API_URL")
    )
    dataforseo_api_url: str = Field(
        "https://api.dataforseo.com", validation_alias=_env("HUB_DATAFORSEO_API_URL")
    )
    gemini_api_url: str = Field(
        "https://generativelanguage.googleapis.com", validation_alias=_env("HUB_GEMINI_API_URL")
    )

    # --- the edge: API keys, webhook keys, events out -------------------------------------
    api_keys: CsvList = Field(default_factory=list, validation_alias=_env("HUB_API_KEYS"))
    secret_keys: CsvList = Field(default_factory=list, validation_alias=_env("HUB_SECRET_KEYS"))
    require_signature: bool = Field(False, validation_alias=_env("HUB_REQUIRE_SIGNATURE"))
    max_body_bytes: int = Field(1_048_576, ge=1024, validation_alias=_env("HUB_MAX_BODY_BYTES"))
    events_url: str = Field("", validation_alias=_env("HUB_EVENTS_URL"))
    events_secret: SecretStr = Field(SecretStr(""), validation_alias=_env("HUB_EVENTS_SECRET"))
    tick_minutes: float = Field(15.0, ge=0, validation_alias=_env("HUB_TICK_MINUTES"))
    job_concurrency: int = Field(4, ge=1, validation_alias=_env("HUB_JOB_CONCURRENCY"))

    # --- discovery ------------------------------------------------------------------------
    dataforseo_login: str = Field("", validation_alias=_env("DATAFORSEO_LOGIN"))
    dataforseo_password: SecretStr = Field(
        SecretStr(""), validation_alias=_env("DATAFORSEO_PASSWORD")
    )
    excluded_domains: CsvList = Field(
        default_factory=list, validation_alias=_env("HUB_EXCLUDED_DOMAINS")
    )
    # A task whose callback has not come after this long is fetched by the recovery sweep.
    discovery_sweep_minutes: float = Field(
        5.0, ge=0, validation_alias=_env("HUB_DISCOVERY_SWEEP_MINUTES")
    )

    # --- enrichment and scoring -------------------------------------------------------------
    hunter_api_key: SecretStr = Field(SecretStr(""), validation_alias=_env("HUNTER_API_KEY"))
    hunter_rate_per_second: float = Field(15.0, gt=0, validation_alias=_env("HUB_HUNTER_RATE"))
    min_email_confidence: int = Field(
        70, ge=0, le=100, validation_alias=_env("HUB_MIN_EMAIL_CONFIDENCE")
    )
    preferred_departments: CsvList = Field(
        default_factory=lambda: ["editorial", "communication", "marketing", "executive"],
        validation_alias=_env("HUB_PREFERRED_DEPARTMENTS"),
    )
    accept_all_policy: Literal["accept", "skip", "review"] = Field(
        "accept", validation_alias=_env("HUB_ACCEPT_ALL_POLICY")
    )
    verify_emails: bool = Field(False, validation_alias=_env("HUB_VERIFY_EMAILS"))
    score_weights_file: str = Field("", validation_alias=_env("HUB_SCORE_WEIGHTS_FILE"))

    # --- drafting -----------------------------------------------------------------------------
    gemini_api_key: SecretStr = Field(SecretStr(""), validation_alias=_env("GEMINI_API_KEY"))
    gemini_model: str = Field("gemini-2.5-flash", validation_alias=_env("GEMINI_MODEL"))
    prompt_template_file: str = Field("", validation_alias=_env("HUB_PROMPT_TEMPLATE_FILE"))
    # a folder of first.txt / followup_1.txt / ... overriding the shipped message templates
    templates_dir: str = Field("", validation_alias=_env("HUB_TEMPLATES_DIR"))
    sender_name: str = Field("", validation_alias=_env("HUB_SENDER_NAME"))
    sender_profile: str = Field("", validation_alias=_env("HUB_SENDER_PROFILE"))
    sender_address: str = Field("", validation_alias=_env("HUB_SENDER_ADDRESS"))

    # --- sending --------------------------------------------------------------------------------
    mailer: Literal["outbox", "gmail", "smtp"] = Field(
        "outbox", validation_alias=_env("HUB_MAILER")
    )
    gmail_client_id: str = Field("", validation_alias=_env("GMAIL_CLIENT_ID"))
    gmail_client_secret: SecretStr = Field(
        SecretStr(""), validation_alias=_env("GMAIL_CLIENT_SECRET")
    )
    gmail_refresh_token: SecretStr = Field(
        SecretStr(""), validation_alias=_env("GMAIL_REFRESH_TOKEN")
    )
    gmail_sender: str = Field("", validation_alias=_env("GMAIL_SENDER"))
    daily_cap: int = Field(50, ge=0, validation_alias=_env("HUB_DAILY_CAP"))
    send_gap_seconds: str = Field("30-90", validation_alias=_env("HUB_SEND_GAP_SECONDS"))
    send_window: str = Field("", validation_alias=_env("HUB_SEND_WINDOW"))
    per_domain_daily_cap: int = Field(3, ge=1, validation_alias=_env("HUB_PER_DOMAIN_DAILY_CAP"))
    require_approval: bool = Field(True, validation_alias=_env("HUB_REQUIRE_APPROVAL"))
    auto_send: bool = Field(False, validation_alias=_env("HUB_AUTO_SEND"))
    followup_days: CsvList = Field(
        default_factory=lambda: ["3", "7"], validation_alias=_env("HUB_FOLLOWUP_DAYS")
    )
    followup_business_days: bool = Field(False, validation_alias=_env("HUB_FOLLOWUP_BUSINESS_DAYS"))
    suppression_list: CsvList = Field(
        default_factory=list, validation_alias=_env("HUB_SUPPRESSION_LIST")
    )

    # --- hub state on PostgreSQL (issue 12: several hub processes, one hub) -----------------
    # Set: jobs, inbox, ledger, suppression, events... and the local prospect store (without
    # HUB_SHEET_ID) live in this database, shared by every `hub serve` / `hub worker`.
    database_url: SecretStr = Field(SecretStr(""), validation_alias=_env("HUB_DATABASE_URL"))
    database_pool_size: int = Field(10, ge=1, validation_alias=_env("HUB_DATABASE_POOL_SIZE"))
    # Apply pending schema migrations at start-up (each in one transaction, under a lock).
    database_auto_upgrade: bool = Field(True, validation_alias=_env("HUB_DATABASE_AUTO_UPGRADE"))

    # --- sending identities: any SMTP/IMAP mailbox, several inboxes with caps (issue 14) ------
    # A TOML file of [[identity]] tables (hub.config.identities); without it the GMAIL_* or the
    # SMTP_*/IMAP_* settings below are one implicit identity capped by HUB_DAILY_CAP.
    identities_file: str = Field("", validation_alias=_env("HUB_IDENTITIES_FILE"))
    smtp_host: str = Field("", validation_alias=_env("SMTP_HOST"))
    smtp_port: int = Field(587, ge=1, le=65535, validation_alias=_env("SMTP_PORT"))
    smtp_security: Literal["starttls", "tls", "none"] = Field(
        "starttls", validation_alias=_env("SMTP_SECURITY")
    )
    smtp_username: str = Field("", validation_alias=_env("SMTP_USERNAME"))
    smtp_password: SecretStr = Field(SecretStr(""), validation_alias=_env("SMTP_PASSWORD"))
    smtp_from: str = Field("", validation_alias=_env("SMTP_FROM"))
    smtp_timeout: float = Field(30.0, gt=0, validation_alias=_env("HUB_SMTP_TIMEOUT"))
    imap_host: str = Field("", validation_alias=_env("IMAP_HOST"))
    imap_port: int = Field(993, ge=1, le=65535, validation_alias=_env("IMAP_PORT"))
    imap_security: Literal["tls", "starttls", "none"] = Field(
        "tls", validation_alias=_env("IMAP_SECURITY")
    )
    imap_username: str = Field("", validation_alias=_env("IMAP_USERNAME"))
    imap_password: SecretStr = Field(SecretStr(""), validation_alias=_env("IMAP_PASSWORD"))
    imap_sent_folder: str = Field("", validation_alias=_env("IMAP_SENT_FOLDER"))
    # false when the SMTP server files sent mail in Sent itself (Gmail, Microsoft 365)
    imap_append_sent: bool = Field(True, validation_alias=_env("IMAP_APPEND_SENT"))
    dkim_selector: str = Field("", validation_alias=_env("HUB_DKIM_SELECTOR"))
    # host[:port] of the DNS server `hub doctor` asks for SPF/DKIM/DMARC (default: the system's)
    dns_nameserver: str = Field("", validation_alias=_env("HUB_DNS_NAMESERVER"))

    _split = field_validator(
        "api_keys",
        "secret_keys",
        "excluded_domains",
        "preferred_departments",
        "followup_days",
        "suppression_list",
        mode="before",
    )(_split_csv)

    # --- untrusted cells: the per-row error boundary (issue 11) ---------------------------
    # A row whose work raised in the same stage this many times waits for a person to change it.
    row_max_attempts: int = Field(3, ge=1, validation_alias=_env("HUB_ROW_MAX_ATTEMPTS"))

    # --- derived -------------------------------------------------------------------------------
    @cached_property
    def state_db_path(self) -> Path:
        return self.data_dir / "state.sqlite3"

    @cached_property
    def local_store_path(self) -> Path:
        return self.data_dir / "prospects.sqlite3"

    @cached_property
    def outbox_dir(self) -> Path:
        return self.data_dir / "outbox"

    @property
    def uses_postgres(self) -> bool:
        return bool(self.database_url.get_secret_value())

    @property
    def uses_google_sheet(self) -> bool:
        return bool(self.sheet_id)

    @property
    def uses_hunter(self) -> bool:
        return bool(self.hunter_api_key.get_secret_value())

    @property
    def uses_dataforseo(self) -> bool:
        return bool(self.dataforseo_login)

    @property
    def uses_gemini(self) -> bool:
        return bool(self.gemini_api_key.get_secret_value())

    @property
    def uses_gmail(self) -> bool:
        return self.mailer == "gmail"

    @property
    def uses_smtp(self) -> bool:
        return self.mailer == "smtp"

    def base_url(self) -> str:
        """Where the hub can be reached from outside (callbacks, unsubscribe links)."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    def check(self) -> None:
        """Refuse to start when a configured feature lacks a value it needs."""
        problems: list[str] = []
        if self.uses_google_sheet and not (
            self.google_service_account_file or self.google_service_account_json.get_secret_value()
        ):
            problems.append(
                "HUB_SHEET_ID is set, so the store is a Google Sheet: set "
                "GOOGLE_SERVICE_ACCOUNT_FILE or GOOGLE_SERVICE_ACCOUNT_JSON"
            )
        if self.uses_dataforseo and not self.dataforseo_password.get_secret_value():
            problems.append("DATAFORSEO_LOGIN is set: set DATAFORSEO_PASSWORD too")
        if self.uses_gmail and not self.identities_file:
            for name, value in (
                ("GMAIL_CLIENT_ID", self.gmail_client_id),
                ("GMAIL_CLIENT_SECRET", self.gmail_client_secret.get_secret_value()),
                ("GMAIL_REFRESH_TOKEN", self.gmail_refresh_token.get_secret_value()),
                ("GMAIL_SENDER", self.gmail_sender),
            ):
                if not value:
                    problems.append(f"HUB_MAILER=gmail needs {name}")
        if self.uses_smtp and not self.identities_file:
            for name, value in (
                ("SMTP_HOST", self.smtp_host),
                ("SMTP_FROM", self.smtp_from),
                ("IMAP_HOST", self.imap_host),
            ):
                if not value:
                    problems.append(f"HUB_MAILER=smtp needs {name}")
        if self.events_url and not self.events_secret.get_secret_value():
            problems.append("HUB_EVENTS_URL is set: set HUB_EVENTS_SECRET to sign the events")
        if self.uses_postgres:
            url = self.database_url.get_secret_value()
            if not url.startswith(("postgresql://", "postgres://")):
                problems.append("HUB_DATABASE_URL must be a postgresql://... URL")
            # A key file per data dir would differ from machine to machine: set them.
            for name, keys in (
                ("HUB_SECRET_KEYS", self.secret_keys),
                ("HUB_API_KEYS", self.api_keys),
            ):
                if not any(k for k in keys):
                    problems.append(
                        f"HUB_DATABASE_URL is set, so several processes share one hub: set "
                        f"{name} explicitly (the same on every machine)"
                    )
        if problems:
            raise ConfigError("; ".join(problems))


def load_settings(**overrides: object) -> Settings:
    """Read settings once (environment, then ``.env``), apply overrides, validate."""
    settings = Settings(**overrides)  # type: ignore[arg-type]
    settings.check()
    if settings.identities_file:  # a bad identities file stops start-up, naming the field
        load_identities(settings)
    return settings
