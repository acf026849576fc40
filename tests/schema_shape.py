"""What a database's schema looks like, read back through SQLAlchemy's inspector: to compare
a database upgraded from an older release with one created fresh (tests/test_schema_*.py)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa


def schema_shape(conn: sa.Connection, tables: set[str] | None = None) -> dict[str, Any]:
    """Every table (or those named) with its columns in order (name, type, nullability,
    default, identity), primary key, unique constraints and indexes (with a partial index's
    condition). Index and constraint names are kept except SQLite's unnamed ones."""
    inspector = sa.inspect(conn)
    dialect = conn.dialect
    shape: dict[str, Any] = {}
    for table in sorted(inspector.get_table_names()):
        if tables is not None and table not in tables:
            continue
        columns = [
            (
                c["name"],
                c["type"].compile(dialect=dialect),
                c["nullable"],
                c.get("default"),
                _identity(c.get("identity")),
            )
            for c in inspector.get_columns(table)
        ]
        pk = inspector.get_pk_constraint(table)
        shape[table] = {
            "columns": columns,
            "primary_key": (pk.get("name"), tuple(pk["constrained_columns"])),
            "unique": sorted(
                (u.get("name"), tuple(u["column_names"]))
                for u in inspector.get_unique_constraints(table)
            ),
            "indexes": sorted(
                (
                    i["name"],
                    tuple(i["column_names"]),
                    bool(i["unique"]),
                    _where(i.get("dialect_options", {})),
                )
                for i in inspector.get_indexes(table)
            ),
            "autoincrement": _sqlite_autoincrement(conn, table),
        }
    return shape


def _identity(identity: dict | None) -> tuple | None:
    return None if not identity else (identity.get("always"), identity.get("start"))


def _where(options: dict[str, Any]) -> str | None:
    where = options.get("postgresql_where") or options.get("sqlite_where")
    return " ".join(str(where).split()) if where is not None else None


def _sqlite_autoincrement(conn: sa.Connection, table: str) -> bool | None:
    """SQLite's AUTOINCREMENT (ids never reused) is seen only in the table's own SQL."""
    if conn.dialect.name != "sqlite":
        return None
    sql = conn.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type='table' AND name=?", (table,)
    ).scalar_one()
    return "AUTOINCREMENT" in sql.upper()
