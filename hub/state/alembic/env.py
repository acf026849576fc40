"""Alembic's environment for the hub's tables (:mod:`hub.state.schema`).

The hub runs migrations through :mod:`hub.state.schema_upgrade`, which hands over a connection
already inside its transaction and lock (``config.attributes["connection"]``). The ``alembic``
command line (drafting a migration, printing its SQL with ``--sql``) names a database with
``-x url=...``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from hub.state.migrations import VERSION_TABLE
from hub.state.schema import metadata


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    # One PostgreSQL database also holds the prospect store's tables (sheets.schema): the
    # comparison with this metadata must not offer to drop them.
    return type_ != "table" or name in metadata.tables


def _configure(**kwargs: object) -> None:
    context.configure(
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        include_name=include_name,
        **kwargs,
    )


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url")
    if not url:
        raise SystemExit("name a database: alembic -x url=sqlite:////tmp/draft.sqlite3 ...")
    return url


def run() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
        with context.begin_transaction():  # the caller's transaction: nothing committed here
            context.run_migrations()
    elif context.is_offline_mode():
        url = _url()
        _configure(url=url, render_as_batch=url.startswith("sqlite"), literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
    else:
        engine = sa.create_engine(_url().replace("postgresql://", "postgresql+psycopg://", 1))
        with engine.begin() as conn:
            _configure(connection=conn, render_as_batch=conn.dialect.name == "sqlite")
            context.run_migrations()
        engine.dispose()


run()
