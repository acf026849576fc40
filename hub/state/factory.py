"""Which state backend a hub uses: PostgreSQL when ``HUB_DATABASE_URL`` is set, else the
SQLite file in ``HUB_DATA_DIR`` (the embedded default)."""

from __future__ import annotations

from typing import Any


def open_state(settings: Any, *, listen: bool = True, **kwargs: Any) -> Any:
    """``listen=False``: this process runs no jobs (``hub serve --no-worker``), so it needs no
    wake-ups from the others; on PostgreSQL it then holds no ``LISTEN`` connection, which every
    NOTIFY (one per group of deliveries any edge commits) would otherwise wake."""
    if settings.uses_postgres:
        from hub.state.postgres import PostgresState

        return PostgresState.from_settings(settings, listen=listen, **kwargs)
    from hub.state.sqlite import State

    return State.from_settings(settings, **kwargs)
