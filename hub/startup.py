"""Start-up: everything that can be checked before the hub serves, each failure one line.

    services = prepare(settings)   # -> Services, or StartupError(line) naming setting and fix

``hub serve`` and ``hub worker`` call :func:`prepare` before uvicorn or the job runner start:
the keys' strength, the database (reachable, and the exact reason when not: password refused,
unknown host, bad port, SSL mode), the identities file, the service-account key, the Google
sign-in and the sheet's header. The work runs in a daemon thread the main thread waits for, so
start-up gives up after ``HUB_STARTUP_TIMEOUT`` with the last reason it met, and SIGTERM or
SIGINT end it at once (uvicorn does not listen for them until its lifespan has started).
``hub doctor`` reports the same problems with the same words: it calls
:func:`database_problem` and :func:`store_problem` (and ``hub.config``'s
``settings_problems`` / ``weak_key_problems``).

Every line is redacted (:func:`hub.redact.redact`): a reason never carries a password.
"""

from __future__ import annotations

import contextlib
import logging
import re
import signal
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg

from hub.app import build_services
from hub.config import SettingError, Settings, weak_key_problems
from hub.errors import ConfigError
from hub.redact import describe_error, known_secrets, redact
from hub.services import Services
from hub.state.migrate import prepare_schema, sqlite_version
from hub.state.migrations import SchemaBehind, SchemaTooNew, check_not_newer
from hub.state.postgres import DatabaseUnavailable
from sheets.google import GoogleSheetStore
from sheets.postgres import describe_dsn
from sheets.store import StoreError, StoreUnreachable

log = logging.getLogger(__name__)

BUG = "this is a bug in the hub: report it with the output of `hub doctor --json`"
# Seconds between sign-in attempts while the token URL does not answer (capped backoff).
SIGN_IN_RETRY = (0.5, 4.0)
# One sign-in request at most this long (the start-up deadline may cut it shorter).
SIGN_IN_TIMEOUT = 10.0


class StartupError(Exception):
    """Start-up refused to go on; ``str()`` is the one line to print (already redacted)."""

    def __init__(self, line: str, *, exit_code: int = 2):
        super().__init__(line)
        self.exit_code = exit_code


# --- the database ------------------------------------------------------------------------------
# (what libpq says, lowercased) -> (our reason, what to do). Our words only: libpq's text may
# quote the connection string, password included.
_PG_REASONS: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (
        ("password authentication failed",),
        "the password was refused",
        "check the user and password in HUB_DATABASE_URL (URL-encode @ / # ? and spaces in "
        "the password: %40 %2F %23 %3F %20)",
    ),
    (
        ("no password supplied",),
        "the server wants a password and HUB_DATABASE_URL has none",
        "put the password in HUB_DATABASE_URL (postgresql://user:password@host:5432/db)",
    ),
    (
        ('role "',),
        "the user does not exist",
        "check the user name in HUB_DATABASE_URL",
    ),
    (
        ('database "',),
        "the database does not exist",
        "create it (createdb) or correct the database name at the end of HUB_DATABASE_URL",
    ),
    (
        ("could not translate host name", "failed to resolve host", "name or service not known"),
        "unknown host name",
        "correct the host in HUB_DATABASE_URL (it does not resolve from this machine)",
    ),
    (
        ("invalid port", 'for connection option "port"'),
        "the port is not a number from 1 to 65535",
        "correct the port in HUB_DATABASE_URL (PostgreSQL listens on 5432 by default)",
    ),
    (
        ("sslmode value",),
        "sslmode is not one of disable, allow, prefer, require, verify-ca, verify-full",
        "correct ?sslmode= in HUB_DATABASE_URL",
    ),
    (
        ("does not support ssl",),
        "the server does not offer SSL, but sslmode requires it",
        "enable SSL on the server, or set sslmode=prefer (or disable) in HUB_DATABASE_URL",
    ),
    (
        ("root certificate", "certificate verify failed", "ssl error", "ssl syscall", "sslrootcert"),
        "the SSL handshake failed (certificate)",
        "give the server's CA certificate with sslrootcert=, or use sslmode=require in "
        "HUB_DATABASE_URL",
    ),
    (
        ("pg_hba.conf",),
        "the server does not accept this user from this machine (pg_hba.conf)",
        "allow this host/user/database in the server's pg_hba.conf, or use another user",
    ),
    (
        ("too many connections", "remaining connection slots"),
        "the server has no free connection",
        "raise the server's max_connections or lower HUB_DATABASE_POOL_SIZE",
    ),
    (
        ("connection refused",),
        "connection refused",
        "nothing listens there: check the host and port in HUB_DATABASE_URL and that "
        "PostgreSQL is running",
    ),
    (
        ("timeout expired", "timed out"),
        "timed out",
        "check the host and port in HUB_DATABASE_URL and that a firewall lets this machine in",
    ),
    (
        # libpq's URI parser: a password with @ / # ? or spaces not percent-encoded
        ("uri", "percent-encoded", "unexpected spaces", "key/value separator", "missing \"=\"",
         "invalid connection option", "end of string reached", "invalid integer value"),
        "HUB_DATABASE_URL is not a valid postgresql:// URL",
        "URL-encode @ / # ? and spaces in the user and password (%40 %2F %23 %3F %20): "
        "postgresql://user:password@host:5432/db",
    ),
)  # fmt: skip


def pg_reason(exc: BaseException) -> tuple[str, str]:
    """Why psycopg could not connect, in our words, and what to do."""
    text = str(exc).lower()
    for needles, reason, fix in _PG_REASONS:
        if any(needle in text for needle in needles):
            return reason, fix
    return (
        type(exc).__name__,
        "check HUB_DATABASE_URL (host, port, user, password, database name) and that the "
        "server accepts connections from this machine",
    )


def database_problem(settings: Settings, exc: BaseException) -> SettingError:
    """The line for a database that refused or did not answer (``hub doctor`` says it too)."""
    reason, fix = pg_reason(exc)
    where = describe_dsn(settings.database_url.get_secret_value())
    return SettingError(f"HUB_DATABASE_URL: PostgreSQL at {where} is not reachable ({reason})", fix)


def connect_database(settings: Settings, timeout: float) -> psycopg.Connection:
    """An autocommit connection to ``HUB_DATABASE_URL``, or :class:`SettingError` saying why
    not (``from None``: psycopg's message, and so the traceback, may quote the URL)."""
    url = settings.database_url.get_secret_value()
    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=max(1, int(timeout)))
    except psycopg.Error as exc:
        problem = database_problem(settings, exc)
    raise problem from None


def check_database(settings: Settings, timeout: float) -> None:
    """Reachable, and its schema not newer than this hub (migrated when allowed). On SQLite,
    a state file a newer hub migrated is refused (the files are migrated when opened)."""
    if not settings.uses_postgres:
        _check_sqlite_files(settings)
        return
    with connect_database(settings, timeout) as conn:
        try:
            prepare_schema(
                conn,
                settings.database_url.get_secret_value(),
                auto_upgrade=settings.database_auto_upgrade,
            )
        except (SchemaTooNew, SchemaBehind) as exc:
            raise StartupError(f"refusing to start: {exc}") from None


def _check_sqlite_files(settings: Settings) -> None:
    for path in (settings.state_db_path, settings.data_dir / "discovery.sqlite3"):
        if not path.exists():
            continue
        db = sqlite3.connect(path)
        try:
            version = sqlite_version(db, str(path))
            if version is not None:
                check_not_newer(version, str(path))
        except SchemaTooNew as exc:
            raise StartupError(f"refusing to start: {exc}") from None
        finally:
            db.close()


# --- the store -----------------------------------------------------------------------------------
def store_where(settings: Settings) -> str:
    if settings.uses_google_sheet:
        return f"Google Sheet {settings.sheet_id!r}, worksheet {settings.worksheet!r}"
    if settings.uses_postgres:
        where = describe_dsn(settings.database_url.get_secret_value())
        return f"local store in PostgreSQL at {where}"
    return f"local store {settings.local_store_path}"


# Where a store's message already says what to do ("...; check HUB_SHEET_ID").
_STORE_FIX = re.compile(r"(?i)[;:.] (?=(?:check|share|download|run|point|set) )")


def store_problem(settings: Settings, exc: StoreError, *, doing: str = "open") -> SettingError:
    """The line for a store that cannot be opened or read (``hub doctor`` says it too)."""
    text = str(exc)
    said = _STORE_FIX.search(text)
    if said is not None:
        text, fix = text[: said.start()], text[said.end() :]
    elif "did not answer" in text:
        fix = "check the network and HUB_SHEETS_API_URL, then try again"
    elif "worksheet" in text:
        fix = "check HUB_WORKSHEET, or run `hub sheet init` to create it"
    else:
        fix = "check GOOGLE_SERVICE_ACCOUNT_FILE / GOOGLE_SERVICE_ACCOUNT_JSON and HUB_SHEET_ID"
    return SettingError(f"cannot {doing} the {store_where(settings)}: {text}", fix)


def _sign_in(store: GoogleSheetStore, progress: _Progress) -> None:
    """Sign in to Google before the first read, retrying while the token URL does not answer
    (the caller's deadline ends the retries)."""
    pause = SIGN_IN_RETRY[0]
    while True:
        try:
            store.sign_in(timeout=SIGN_IN_TIMEOUT)
            return
        except StoreUnreachable as exc:
            progress.failed(store_problem(progress.settings, exc))
            time.sleep(pause)
            pause = min(pause * 2, SIGN_IN_RETRY[1])


# --- the whole start-up ------------------------------------------------------------------------
@dataclass
class _Progress:
    """What the start-up thread is doing, and the last reason it met (read on a timeout)."""

    settings: Settings
    doing: str = "starting"
    fix: str = "check the settings it names and the network, then start again"
    last: SettingError | None = None
    services: Services | None = None
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def step(self, doing: str, fix: str = "") -> None:
        self.doing, self.last = doing, None
        self.fix = fix or type(self).fix

    def failed(self, problem: SettingError) -> None:
        self.last = problem


def _steps(settings: Settings, progress: _Progress, *, listen: bool) -> None:
    """Runs in the start-up thread; raises SettingError / StartupError / anything else."""
    progress.step(
        "reaching PostgreSQL (HUB_DATABASE_URL)",
        "check the host and port in HUB_DATABASE_URL and that a firewall lets this machine in",
    )
    check_database(settings, timeout=min(10.0, settings.startup_timeout))
    progress.step("opening the prospect store and the providers")
    try:
        services = build_services(settings, listen=listen)
    except StoreError as exc:
        raise store_problem(settings, exc) from None
    except DatabaseUnavailable as exc:
        raise SettingError(str(exc), "check HUB_DATABASE_URL and the server") from None
    progress.services = services  # closed by the caller if a later step fails
    store = services.store
    if isinstance(store, GoogleSheetStore):
        progress.step(
            f"signing in to Google at HUB_GOOGLE_TOKEN_URL={settings.google_token_url}",
            "check HUB_GOOGLE_TOKEN_URL (and the token_uri of the service-account key) and "
            "the network",
        )
        _sign_in(store, progress)
    progress.step(
        f"reading the header of the {store_where(settings)}",
        "check HUB_SHEETS_API_URL and the network" if settings.uses_google_sheet else "",
    )
    try:
        store.ensure_schema()
    except StoreError as exc:
        raise store_problem(settings, exc, doing="read") from None


def prepare(
    settings: Settings, *, extra_secrets: list[str] | None = None, listen: bool = True
) -> Services:
    """Check and open everything ``hub serve`` / ``hub worker`` needs, within
    ``HUB_STARTUP_TIMEOUT``; :class:`StartupError` (one redacted line) when something is wrong.
    ``listen=False`` for an edge that runs no jobs (no LISTEN for wake-ups)."""
    secrets = known_secrets(settings) + list(extra_secrets or ())
    weak = weak_key_problems(settings)
    if weak and not settings.allow_weak_keys:
        raise StartupError(redact(f"refusing to start: {weak[0]}", secrets))
    progress = _Progress(settings)

    def work() -> None:
        try:
            _steps(settings, progress, listen=listen)
        except BaseException as exc:  # handed to the waiting main thread
            progress.error = exc
        finally:
            progress.done.set()

    thread = threading.Thread(target=work, name="hub-startup", daemon=True)
    with _signals_raise():
        thread.start()
        try:
            finished = progress.done.wait(settings.startup_timeout)
        except _Interrupted as stop:
            _close_quietly(progress)
            raise StartupError(f"start-up stopped by {stop.name}", exit_code=1) from None
    if not finished:
        _close_quietly(progress)  # the thread is abandoned; the process is about to exit
        problem = progress.last
        why = str(problem) if problem else f"{progress.doing} did not finish: {progress.fix}"
        raise StartupError(
            redact(f"gave up after HUB_STARTUP_TIMEOUT={settings.startup_timeout:g} s: {why}",
                   secrets),
            exit_code=1,
        )  # fmt: skip
    if progress.error is not None:
        _close_quietly(progress)
        raise StartupError(_line(progress.error, secrets), exit_code=_exit_code(progress.error))
    assert progress.services is not None
    return progress.services


def _line(exc: BaseException, secrets: list[str]) -> str:
    if isinstance(exc, StartupError):
        return str(exc)
    if isinstance(exc, ConfigError):
        return redact(f"configuration error: {exc}", secrets)
    log.debug("start-up failed", exc_info=exc)
    return redact(f"start-up failed: {describe_error(exc)} ({BUG})", secrets)


def _exit_code(exc: BaseException) -> int:
    return (
        exc.exit_code if isinstance(exc, StartupError) else 2 if isinstance(exc, ConfigError) else 1
    )


def _close_quietly(progress: _Progress) -> None:
    services, progress.services = progress.services, None
    if services is not None:
        with contextlib.suppress(Exception):
            services.close()


class _Interrupted(Exception):
    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


@contextlib.contextmanager
def _signals_raise() -> Iterator[None]:
    """SIGTERM and SIGINT interrupt the wait for the start-up thread (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        raise _Interrupted(signal.Signals(signum).name)

    previous: dict[int, Callable | int | None] = {}
    for signum in (signal.SIGTERM, signal.SIGINT):
        previous[signum] = signal.signal(signum, stop)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
