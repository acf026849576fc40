"""The prospect store: reachable with the credentials given, its header complete, and what
``hub sheet init`` would change (``ensure_schema(dry_run=True)``: nothing is written).

Synchronous (gspread, sqlite3): the caller runs it in a thread with a deadline. The Google
store's usual retry budget (8 attempts, about a minute of backoff) is cut to a short one here:
the doctor reports a slow sheet, it does not wait it out.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from hub.config import SettingError, Settings
from hub.doctor.report import Finding, error, ok, warn
from hub.startup import store_problem, store_where
from sheets.columns import HUB_COLUMNS, Row
from sheets.google import GoogleSheetStore
from sheets.store import ProspectStore, StoreError

AREA = "store"
INIT = "run `hub sheet init` (or start `hub serve`, which does the same)"


@dataclass
class StoreResult:
    findings: list[Finding] = field(default_factory=list)
    rows: list[Row] | None = None  # None: the rows could not be read


def open_store(settings: Settings) -> ProspectStore | None:
    """The store ``hub serve`` would use, or None for a local store not created yet."""
    if settings.uses_google_sheet:
        from sheets.google import GoogleSheetStore
        from sheets.retry import RetryPolicy

        store = GoogleSheetStore.from_settings(settings)
        store.retry = RetryPolicy(attempts=2, max_wait=2.0)
        return store
    if settings.uses_postgres:
        return _open_postgres_store(settings.database_url.get_secret_value())
    if not settings.local_store_path.exists():
        return None  # the doctor does not create it
    from sheets.local import LocalStore

    return LocalStore(settings.local_store_path)


def _open_postgres_store(url: str) -> ProspectStore | None:
    """The store in PostgreSQL, or None while its tables do not exist (opening the store
    would create them, and the doctor writes nothing)."""
    import psycopg

    from sheets.postgres import PostgresStore

    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            (exists,) = conn.execute("SELECT to_regclass('prospects') IS NOT NULL").fetchone()
    except psycopg.Error as exc:  # the database check says why; here, what it means
        raise StoreError("the database is not reachable (see the database findings)") from exc
    return PostgresStore(url, max_size=1) if exists else None


def check_store(settings: Settings, timeout: float = 5.0) -> StoreResult:
    """The store as ``hub serve`` opens it; a failure is the line start-up prints for it
    (``hub.startup.store_problem``)."""
    result = StoreResult()
    try:
        store = open_store(settings)
    except StoreError as exc:
        result.findings.append(_finding(store_problem(settings, exc)))
        return result
    if store is None:
        result.findings.append(
            ok(AREA, f"the {store_where(settings)} does not exist yet (embedded default)", INIT)
        )
        return result
    try:
        if isinstance(store, GoogleSheetStore):  # as start-up does: the token URL named
            store.sign_in(timeout)
    except StoreError as exc:
        result.findings.append(_finding(store_problem(settings, exc)))
        store.close()
        return result
    try:
        _inspect(store, settings, result)
    except StoreError as exc:
        result.findings.append(_finding(store_problem(settings, exc, doing="read")))
    finally:
        store.close()
    return result


def _finding(problem: SettingError) -> Finding:
    return error(AREA, problem.problem, problem.fix)


def _inspect(store: ProspectStore, settings: Settings, result: StoreResult) -> None:
    header = store.header()
    plan = store.ensure_schema(dry_run=True)
    found = result.findings
    if not header:
        found.append(warn(AREA, f"the {store_where(settings)} has no header row yet", INIT))
    elif plan.added_columns:
        found.append(
            error(
                AREA,
                f"the header of the {store_where(settings)} lacks {len(plan.added_columns)} hub "
                f"column(s): {', '.join(plan.added_columns)}{_renamed(header, plan.added_columns)}",
                f"{INIT} to append them at the end (your columns stay where they are)",
            )
        )
    else:
        mine = sum(1 for name in header if name not in HUB_COLUMNS)
        found.append(
            ok(
                AREA,
                f"the {store_where(settings)} answers; header complete ({len(HUB_COLUMNS)} hub "
                f"columns, {mine} of your own)",
            )
        )
    doubled = sorted(n for n, c in Counter(header).items() if c > 1 and n in HUB_COLUMNS)
    if doubled:
        found.append(
            warn(
                AREA,
                f"hub column(s) appear twice in the header: {', '.join(doubled)}; the hub uses "
                "the leftmost and never writes the other",
                "delete or rename the second copy",
            )
        )
    if plan.ids_assigned:
        found.append(
            warn(
                AREA,
                f"{plan.ids_assigned} row(s) have no hub_id: the hub ignores them until they "
                "get one",
                INIT,
            )
        )
    result.rows = store.rows()


def _squash(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _renamed(header: list[str], missing: list[str]) -> str:
    """``"Contact Email"`` in the header while ``contact_email`` is missing: likely renamed."""
    by_shape = {_squash(name): name for name in header if name not in HUB_COLUMNS}
    pairs = [f"{by_shape[_squash(m)]!r} looks like {m}" for m in missing if _squash(m) in by_shape]
    return (
        f" ({'; '.join(pairs)}: rename it back, the hub finds columns by exact name)"
        if (pairs)
        else ""
    )
