"""Which state backend a hub uses: PostgreSQL when ``HUB_DATABASE_URL`` is set, else the
SQLite file in ``HUB_DATA_DIR`` (the embedded default)."""

from __future__ import annotations

from typing import Any


def open_state(settings: Any, **kwargs: Any) -> Any:
    if settings.uses_postgres:
        from hub.state.postgres import PostgresState

        return PostgresState.from_settings(settings, **kwargs)
    from hub.state.sqlite import State

    return State.from_settings(settings, **kwargs)
