"""The per-row error boundary every stage shares: one odd row never stops a stage.

An unexpected exception while a stage works on one row is caught here, logged with its
traceback and the row's ``hub_id`` (secrets redacted), and turned into that row's cells:
``hold_reason`` ``ERROR:<stage> <ExceptionType> (try n of N; row <fingerprint>)`` and a short
``last_error``. The stage goes on with the next row and reports the row under ``errors``.

After ``HUB_ROW_MAX_ATTEMPTS`` failures of the same stage the row is not tried again until a
person changes it: clears ``hold_reason``, or edits any cell. Telling "changed" from "the same"
needs no extra storage: the hold carries a short fingerprint of the row's cells (all but the
hub's own bookkeeping), and a row whose fingerprint differs is a changed row.

Failures that concern the whole stage (the store unreachable, a provider refusing our
credentials) are not caught: they fail or pause the job, as before.
"""

from __future__ import annotations

import hashlib
import logging
import re
import traceback
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from hub.errors import ProviderError, QuotaExhausted
from hub.mail.base import MailerError
from hub.redact import known_secrets, redact
from sheets.cells import clean_text
from sheets.columns import Row
from sheets.store import StoreError

log = logging.getLogger(__name__)

T = TypeVar("T")

PREFIX = "ERROR:"
LAST_ERROR_CHARS = 200
# Cells the boundary itself (or the store) writes: they do not count as a person's change.
_BOOKKEEPING = frozenset({"hold_reason", "last_error", "updated_at"})
_HOLD = re.compile(
    r"^ERROR:(?P<stage>\S+) (?P<kind>\S+) \(try (?P<n>\d+) of \d+\S*.*; row (?P<fp>[0-9a-f]{8})\)$"
)


class StageWide(Exception):
    """Raise (or wrap) to say a failure concerns the whole stage, not the row at hand."""


def is_stage_wide(exc: BaseException) -> bool:
    """Failures every row would meet alike: the job fails or pauses instead."""
    if isinstance(exc, StageWide | StoreError | QuotaExhausted):
        return True
    # A refused key or an unknown model (drafting), by name: hub.drafting imports this package.
    if type(exc).__name__ in {"DrafterMisconfigured", "JobCancelled"}:
        return True
    if isinstance(exc, MailerError) and exc.account:  # SMTP 535, Gmail invalid_grant / 401
        return True
    return isinstance(exc, ProviderError) and exc.provider_status == 401  # credentials refused


def fingerprint(row: Row) -> str:
    """Eight hex digits over every cell but the hub's bookkeeping (order-independent)."""
    digest = hashlib.blake2s(digest_size=4)
    for name in sorted(row):
        value = row.get(name) or ""
        if name in _BOOKKEEPING or not value:
            continue
        digest.update(name.encode("utf-8", "replace") + b"\0")
        digest.update(str(value).encode("utf-8", "replace") + b"\1")
    return digest.hexdigest()


class RowGuard:
    """The boundary for one job of one stage; ``errors`` counts the rows it caught."""

    def __init__(self, stage: str, *, max_attempts: int = 3, settings: Any = None):
        self.stage = stage
        self.max_attempts = max(1, int(max_attempts))
        self.errors = 0
        self._secrets = known_secrets(settings)

    @classmethod
    def for_settings(cls, stage: str, settings: Any) -> RowGuard:
        return cls(stage, max_attempts=getattr(settings, "row_max_attempts", 3), settings=settings)

    def attempts(self, row: Row) -> int:
        """Failures so far of this stage on the row as it is now (0 once a person changed it)."""
        found = _HOLD.match((row.get("hold_reason") or "").strip())
        if not found or found["stage"] != self.stage or found["fp"] != fingerprint(row):
            return 0
        return int(found["n"])

    def may_try(self, row: Row) -> bool:
        return self.attempts(row) < self.max_attempts

    def recovered(self, row: Row) -> dict[str, str]:
        """The cells that clear this stage's own error hold once the row's work succeeds."""
        if (row.get("hold_reason") or "").startswith(f"{PREFIX}{self.stage} "):
            return {"hold_reason": "", "last_error": ""}
        return {}

    def failed(self, row: Row, exc: BaseException) -> dict[str, str]:
        """Log the failure and return the cells that say so on the row."""
        hub_id = row.get("hub_id", "")
        self.errors += 1
        kind = type(exc).__name__
        detail = redact("".join(traceback.format_exception(exc)), self._secrets)
        log.error("%s: row %s failed with %s\n%s", self.stage, hub_id, kind, detail)
        tries = self.attempts(row) + 1
        if tries >= self.max_attempts:
            note = f"try {tries} of {self.max_attempts}: not tried again until a person changes it"
        else:
            note = f"try {tries} of {self.max_attempts}"
        message = clean_text(redact(f"{kind}: {exc}", self._secrets), LAST_ERROR_CHARS)
        return {
            "hold_reason": f"{PREFIX}{self.stage} {kind} ({note}; row {fingerprint(row)})",
            "last_error": message,
        }

    async def run(
        self,
        row: Row,
        work: Callable[[], Awaitable[T]],
        *,
        handled: tuple[type[BaseException], ...] = (),
    ) -> tuple[T | None, dict[str, str] | None]:
        """``(result, None)``, or ``(None, changes)`` when the row's work raised.

        Exceptions in ``handled`` (the stage has its own answer for them) and stage-wide
        failures are raised again."""
        try:
            return await work(), None
        except Exception as exc:
            if isinstance(exc, handled) or is_stage_wide(exc):
                raise
            return None, self.failed(row, exc)

    def call(
        self,
        row: Row,
        work: Callable[[], T],
        *,
        handled: tuple[type[BaseException], ...] = (),
    ) -> tuple[T | None, dict[str, str] | None]:
        """:meth:`run` for synchronous work."""
        try:
            return work(), None
        except Exception as exc:
            if isinstance(exc, handled) or is_stage_wide(exc):
                raise
            return None, self.failed(row, exc)


def is_error_hold(hold_reason: str) -> bool:
    return (hold_reason or "").startswith(PREFIX)


# Holds that mean "a cell or the hub's own code needs a person": listed by `hub sheet status`
# and the status page, each with its last_error.
TROUBLE_PREFIXES = (PREFIX, "REVIEW:bad_", "NO_EMAIL:bad_")


def in_trouble(row: Row) -> bool:
    return (row.get("hold_reason") or "").startswith(TROUBLE_PREFIXES)
