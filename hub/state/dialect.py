"""The small layer that lets one SQL text serve SQLite and PostgreSQL.

The state code is written in SQLite's dialect (``?`` placeholders, rows readable by index and
by column name). On PostgreSQL, :class:`PgConnection` wraps a psycopg connection so that code
runs unchanged: placeholders become ``%s`` (and a literal ``%`` becomes ``%%``), rows come back
as :class:`Row`. What truly differs (claiming with ``SKIP LOCKED``, ``ON CONFLICT`` dedupe,
``RETURNING`` instead of ``lastrowid``) is written per backend, not translated.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from typing import Any

from psycopg import Connection, Cursor
from psycopg.rows import RowMaker


@functools.lru_cache(maxsize=512)
def pg_sql(sql: str) -> str:
    """SQLite-style SQL as psycopg wants it: ``?`` -> ``%s``, ``%`` -> ``%%``."""
    return sql.replace("%", "%%").replace("?", "%s")


class Row:
    """A result row readable like ``sqlite3.Row``: ``row[0]``, ``row["name"]``, ``dict(row)``,
    unpacking."""

    __slots__ = ("_index", "_values")

    def __init__(self, values: Sequence[Any], index: dict[str, int]):
        self._values = values
        self._index = index

    def __getitem__(self, key: int | str) -> Any:
        if isinstance(key, str):
            return self._values[self._index[key]]
        return self._values[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def keys(self) -> list[str]:
        return list(self._index)

    def __repr__(self) -> str:
        return f"Row({dict(zip(self._index, self._values, strict=True))!r})"


def row_factory(cursor: Cursor[Any]) -> RowMaker[Row]:
    names = [column.name for column in cursor.description or ()]
    index = {name: i for i, name in enumerate(names)}

    def make(values: Sequence[Any]) -> Row:
        return Row(values, index)

    return make


class PgConnection:
    """A psycopg connection inside one transaction, spoken to in SQLite's dialect."""

    def __init__(self, conn: Connection[Any]):
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor[Any]:
        return self.conn.execute(pg_sql(sql), params or None)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self.conn.cursor() as cur:
            cur.executemany(pg_sql(sql), rows)
