"""``hub doctor``: the hub diagnoses its own set-up and says what to do about each problem.

    report = run_checks(settings)       # -> Report(findings=[Finding(level, area, message, fix)])
    report.ok                           # False when any finding is an error

One module per concern (``checks_settings``, ``checks_database``, ``checks_store`` +
``checks_rows``, ``checks_providers``, ``checks_mail`` (sending identities: SMTP, IMAP,
SPF/DKIM/DMARC), ``checks_public_url``, ``checks_webhooks``, ``checks_scenarios``).
The network checks run concurrently; each request has a short timeout (:data:`NETWORK_TIMEOUT`)
and each check a deadline (:data:`CHECK_DEADLINE`), so a dead provider costs seconds, not
minutes. Blocking clients (gspread, the Gmail client) run in daemon threads, so a check that
overruns its deadline cannot hold the command open either. Nothing is written: no sheet
migration, no state DB or key file created.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from hub.config import Settings
from hub.doctor.checks_database import check_database
from hub.doctor.checks_mail import check_identities
from hub.doctor.checks_providers import (
    check_dataforseo,
    check_gemini,
    check_gmail,
    check_hunter,
    embedded_defaults,
)
from hub.doctor.checks_public_url import check_public_url
from hub.doctor.checks_rows import check_rows, running_send_jobs
from hub.doctor.checks_scenarios import check_scenarios
from hub.doctor.checks_settings import check_settings
from hub.doctor.checks_store import check_store
from hub.doctor.checks_webhooks import check_webhooks, current_keys
from hub.doctor.report import AREAS, Finding, Report, error

__all__ = ["AREAS", "Finding", "Report", "check_all", "run_checks"]

log = logging.getLogger(__name__)
T = TypeVar("T")

NETWORK_TIMEOUT = 5.0  # seconds, each request
CHECK_DEADLINE = 20.0  # seconds, each check (requests, retries and all)
BUG_FIX = "this is a bug in the hub: report it with the output of `hub doctor --json`"


def run_checks(
    settings: Settings, *, timeout: float = NETWORK_TIMEOUT, deadline: float = CHECK_DEADLINE
) -> Report:
    """Every check, concurrently where they wait on the network; findings sorted by area."""
    return asyncio.run(check_all(settings, timeout=timeout, deadline=deadline))


async def check_all(
    settings: Settings, *, timeout: float = NETWORK_TIMEOUT, deadline: float = CHECK_DEADLINE
) -> Report:
    keys, _ = current_keys(settings)
    report = Report()
    report.extend(_safely("settings", "the settings check", lambda: check_settings(settings)))
    report.extend(_safely("webhooks", "the webhook check", lambda: check_webhooks(settings)))
    report.extend(embedded_defaults(settings))

    checks: list[tuple[str, str, Awaitable[list[Finding]]]] = [
        ("database", "PostgreSQL", in_thread(check_database, settings, timeout)),
        ("store", "the store", in_thread(_store_and_rows, settings, timeout)),
        ("public_url", "HUB_PUBLIC_URL", check_public_url(settings, keys, timeout)),
        ("scenarios", "the blueprint lint", in_thread(check_scenarios, settings, keys)),
    ]
    if settings.uses_hunter:
        checks.append(("providers", "Hunter", check_hunter(settings, timeout)))
    if settings.uses_dataforseo and settings.dataforseo_password.get_secret_value():
        checks.append(("providers", "DataForSEO", check_dataforseo(settings, timeout)))
    if settings.uses_gemini:
        checks.append(("providers", "Gemini", check_gemini(settings, timeout)))
    if settings.uses_gmail and _gmail_configured(settings):
        checks.append(("providers", "Gmail", in_thread(check_gmail, settings, timeout)))
    if settings.uses_smtp or settings.identities_file:
        checks.append(
            ("providers", "the sending identities", in_thread(check_identities, settings, timeout))
        )
    results = await asyncio.gather(
        *(_bounded(area, label, work, deadline) for area, label, work in checks)
    )
    for findings in results:
        report.extend(findings)
    return report.sorted()


def _gmail_configured(settings: Settings) -> bool:
    """Settings.check reports a missing GMAIL_* value; asking Gmail without it says nothing."""
    return all(
        (
            settings.gmail_client_id,
            settings.gmail_client_secret.get_secret_value(),
            settings.gmail_refresh_token.get_secret_value(),
        )
    )


def _store_and_rows(settings: Settings, timeout: float = NETWORK_TIMEOUT) -> list[Finding]:
    result = check_store(settings, timeout)
    findings = list(result.findings)
    if result.rows is not None:
        findings += check_rows(result.rows, send_jobs=running_send_jobs(settings))
    return findings


def _safely(area: str, label: str, check: Callable[[], list[Finding]]) -> list[Finding]:
    try:
        return check()
    except Exception as exc:
        log.debug("%s failed", label, exc_info=True)
        return [error(area, f"{label} failed unexpectedly ({type(exc).__name__})", BUG_FIX)]


async def _bounded(
    area: str, label: str, work: Awaitable[list[Finding]], deadline: float
) -> list[Finding]:
    try:
        return await asyncio.wait_for(work, deadline)
    except TimeoutError:
        return [
            error(
                area,
                f"{label} did not answer within {deadline:.0f} s",
                "check the network and the service's URL setting, then run `hub doctor` again",
            )
        ]
    except Exception as exc:  # a check must never take the others down with it
        log.debug("%s check failed", label, exc_info=True)
        return [error(area, f"the {label} check failed unexpectedly ({type(exc).__name__})",
                      BUG_FIX)]  # fmt: skip


async def in_thread(function: Callable[..., T], *args: Any) -> T:
    """Run blocking ``function`` in a daemon thread. Unlike ``asyncio.to_thread``, a call
    that outlives its deadline does not keep ``asyncio.run`` (and the command) waiting."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(outcome: Callable[[], None]) -> None:
        if not future.done():
            outcome()

    def work() -> None:
        try:
            value = function(*args)
        except BaseException as exc:  # handed to the awaiting coroutine
            failure = exc
            with contextlib.suppress(RuntimeError):  # the loop may be gone already
                loop.call_soon_threadsafe(settle, lambda: future.set_exception(failure))
        else:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(settle, lambda: future.set_result(value))

    threading.Thread(target=work, name=f"doctor-{function.__name__}", daemon=True).start()
    return await future
