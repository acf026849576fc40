"""The database behind ``HUB_DATABASE_URL``: reachable, its schema version against this code's,
and whether the configured pool fits in what the server allows.

Read-only, like every doctor check: no migration is applied, no table created. Messages say
``host:port/dbname`` (:func:`sheets.postgres.describe_dsn`), never the URL: it holds a password.
Synchronous (psycopg); the caller runs it in a thread with a deadline.
"""

from __future__ import annotations

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from hub.config import Settings
from hub.doctor.report import Finding, error, ok, warn
from hub.startup import database_problem
from hub.state.migrate import database_version
from hub.state.migrations import CODE_VERSION
from sheets.postgres import describe_dsn

AREA = "database"
UPGRADE = "run `hub db upgrade` (`hub serve` and `hub worker` also apply it at start-up)"
# What one hub process may hold at most: the state's pool and the shared one (ledger,
# suppression, ...) of HUB_DATABASE_POOL_SIZE each, one LISTEN connection, and the prospect
# store's pool (sheets.postgres: 4). Warn when another such process would not fit.
STORE_POOL = 4


def process_footprint(pool_size: int) -> int:
    return 2 * pool_size + 1 + STORE_POOL


def check_database(settings: Settings, timeout: float = 5.0) -> list[Finding]:
    if not settings.uses_postgres:
        return []  # the embedded SQLite state: nothing to reach
    url = settings.database_url.get_secret_value()
    where = describe_dsn(url)
    try:
        conn = psycopg.connect(url, connect_timeout=max(1, int(timeout)), autocommit=True)
    except psycopg.Error as exc:  # the line `hub serve` prints for the same failure
        problem = database_problem(settings, exc)
        return [error(AREA, problem.problem, problem.fix)]
    with conn:
        version = conn.info.server_version // 10000
        findings = [ok(AREA, f"PostgreSQL {version} at {where} is reachable")]
        findings.append(_schema(conn))
        findings += _pool(conn, url, where, settings.database_pool_size, timeout)
    return findings


def _schema(conn: psycopg.Connection) -> Finding:
    applied = database_version(conn)
    if applied == 0:
        return warn(AREA, "the hub's tables are not created yet (schema version 0)", UPGRADE)
    if applied > CODE_VERSION:
        return error(
            AREA,
            f"the database schema is version {applied}, newer than this hub's {CODE_VERSION}: "
            "a newer hub migrated it, and this one refuses to start on it",
            "run the newer hub version on this machine too (upgrade the hub package or image)",
        )
    if applied < CODE_VERSION:
        return warn(
            AREA, f"the database schema is version {applied}, this hub's is {CODE_VERSION}", UPGRADE
        )
    return ok(AREA, f"the database schema is up to date (version {applied})")


def _pool(
    conn: psycopg.Connection, url: str, where: str, size: int, timeout: float
) -> list[Finding]:
    """Fill a pool of the configured size, as a hub process would, and count what is left."""
    pool = ConnectionPool(url, min_size=size, max_size=size, open=False, name="doctor")
    try:
        pool.open(wait=True, timeout=timeout)
    except PoolTimeout:
        stats = pool.get_stats()  # the pool has closed what it opened; count the successes
        opened = min(size, stats.get("connections_num", 0) - stats.get("connections_errors", 0))
        return [
            error(
                AREA,
                f"could open only {opened} of the {size} pool connections to {where}",
                "lower HUB_DATABASE_POOL_SIZE, or raise the server's max_connections (or the "
                "role's connection limit)",
            )
        ]
    finally:
        pool.close()
    allowed, in_use = conn.execute(
        "SELECT current_setting('max_connections')::int"
        " - current_setting('superuser_reserved_connections')::int,"
        " (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')"
    ).fetchone()
    free = allowed - in_use
    message = f"a pool of {size} connections opened; the server has {free} of {allowed} free"
    if free < process_footprint(size):
        return [
            warn(
                AREA,
                message + f": another hub process (up to {process_footprint(size)} connections "
                "with this pool size) would not fit",
                "raise the server's max_connections, or lower HUB_DATABASE_POOL_SIZE",
            )
        ]
    return [ok(AREA, message)]
