"""One PostgreSQL connection pool per process and database, shared by the modules that open
the hub's database often (a ledger per send job, per status-page request...): opening a pool
costs connections; borrowing from one costs nothing. The schema is migrated on first use."""

from __future__ import annotations

import atexit
import threading
from typing import Any

_POOLS: dict[str, Any] = {}
_GUARD = threading.Lock()


def shared_pool(settings: Any) -> Any:
    from hub.state.migrate import prepare_schema
    from hub.state.postgres import open_pool

    dsn = settings.database_url.get_secret_value()
    with _GUARD:
        pool = _POOLS.get(dsn)
        if pool is None or pool.closed:
            pool = open_pool(dsn, size=settings.database_pool_size, name="hub-shared")
            with pool.connection() as conn:
                prepare_schema(conn, dsn, auto_upgrade=settings.database_auto_upgrade)
            _POOLS[dsn] = pool
        return pool


@atexit.register
def close_pools() -> None:
    with _GUARD:
        for pool in _POOLS.values():
            pool.close()
        _POOLS.clear()
