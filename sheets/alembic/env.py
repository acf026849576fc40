"""Alembic's environment for the prospect store's tables (:mod:`sheets.schema`).

The store runs migrations through :mod:`sheets.schema_upgrade`, which hands over a connection
already inside its transaction and lock (``config.attributes["connection"]``). The ``alembic``
command line names a database with ``-x url=...``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from sheets.schema import metadata
from sheets.schema_version import VERSION_TABLE


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    # On PostgreSQL the hub's own tables share the database: not the store's to compare.
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
