"""The hub's durable state on PostgreSQL (``HUB_DATABASE_URL``): what ``hub.state.sqlite``
keeps in one file, shared by any number of ``hub serve`` / ``hub worker`` processes.

The job and event code is the SQLite backend's (``JobsMixin``, ``EventsMixin``, through the
dialect layer); what differs is here:

- a job is claimed with ``SELECT ... FOR UPDATE SKIP LOCKED`` and a per-type advisory lock, so
  two processes never run two jobs of one type (the lease then keeps it);
- an inbound delivery is de-duplicated by the inbox's unique key (``INSERT ... ON CONFLICT DO
  NOTHING``), which holds across processes without a table lock;
- every change other processes must see (a job queued or ended, an event, a cancel) is sent
  with ``NOTIFY`` and received by one ``LISTEN`` connection per process (:mod:`.notify`).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from psycopg_pool import ConnectionPool

from hub.state.codec import dumps, iso, new_id
from hub.state.dialect import PgConnection, Row, pg_sql, redact_dsn, row_factory
from hub.state.events import EventsMixin
from hub.state.group import INSERT_JOB, Persisted
from hub.state.jobs import JobsMixin
from hub.state.listeners import ChangeListeners
from hub.state.migrate import prepare_schema
from hub.state.notify import CHANNEL, ChangeListener, encode

# First key of the two-int advisory locks the hub takes (the second is a hash of the name).
LOCK_JOB_TYPE = 0x6875_6231  # claims of one job type
LOCK_PERIODIC = 0x6875_6232  # the tick, the DataForSEO sweep

_INSERT_INBOX = pg_sql(
    "INSERT INTO inbox(dedupe_key, source, action, payload, job_id, task_id, tag, "
    "received_at, expires_at) VALUES(?,?,?,?,?,?,?,?,?) "
    "ON CONFLICT (dedupe_key) DO NOTHING RETURNING seq"
)


class DatabaseUnavailable(Exception):
    """The database did not answer; the message names it without its password."""


def open_pool(dsn: str, *, size: int, name: str = "hub-state", timeout: float = 10.0):
    """A psycopg pool whose connections autocommit (a transaction is always explicit) and
    return :class:`Row` rows. Fails fast, naming the database, when it cannot be reached."""
    pool = ConnectionPool(
        dsn,
        min_size=1,
        max_size=max(size, 1),
        kwargs={"autocommit": True, "row_factory": row_factory},
        name=name,
        open=False,
    )
    pool.open()
    try:
        pool.wait(timeout=timeout)
    except Exception as exc:
        pool.close()
        raise DatabaseUnavailable(
            f"HUB_DATABASE_URL: cannot reach {redact_dsn(dsn)} within {timeout:g} s"
        ) from exc
    return pool


class PostgresState(ChangeListeners, JobsMixin, EventsMixin):
    """The hub's durable state in PostgreSQL. Thread-safe (a connection pool)."""

    backend_name = "postgres"
    _CLAIM_SELECT = "SELECT * FROM jobs WHERE id=? FOR UPDATE SKIP LOCKED"
    _FOR_UPDATE = " FOR UPDATE"

    def __init__(
        self,
        dsn: str,
        *,
        now: Callable[[], float] = time.time,
        deliver_events: bool = False,
        max_deliveries: int = 500,
        pool_size: int = 10,
        auto_upgrade: bool = True,
        listen: bool = True,
    ):
        self.dsn = dsn
        self.now = now
        self.deliver_events = deliver_events
        self.max_deliveries = max_deliveries
        self._queued_deliveries: list[dict[str, Any]] = []
        self._queued_lock = threading.Lock()
        self._init_listeners()
        self.pool = open_pool(dsn, size=pool_size)
        try:
            with self.pool.connection() as conn:
                self.schema_version = prepare_schema(conn, dsn, auto_upgrade=auto_upgrade)
        except BaseException:
            self.pool.close()
            raise
        # Changes made by other processes arrive here and wake this process's loops.
        self._listener = ChangeListener(dsn, self._on_remote_change) if listen else None

    @classmethod
    def from_settings(cls, settings: Any, **kwargs: Any) -> PostgresState:
        return cls(
            settings.database_url.get_secret_value(),
            deliver_events=bool(settings.events_url),
            pool_size=settings.database_pool_size,
            auto_upgrade=settings.database_auto_upgrade,
            **kwargs,
        )

    # --- plumbing --------------------------------------------------------------------------
    @contextlib.contextmanager
    def tx(self) -> Iterator[PgConnection]:
        """One transaction on a pooled connection (committed on exit, rolled back on error)."""
        with self.pool.connection() as conn, conn.transaction():
            yield PgConnection(conn)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        with self.pool.connection() as conn:
            return conn.execute(pg_sql(sql), params or None).fetchall()

    def ping(self) -> bool:
        return self.query("SELECT 1")[0][0] == 1

    def pool_stats(self) -> dict[str, int]:
        return dict(self.pool.get_stats())

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.flush_deliveries()
        if self._listener is not None:
            self._listener.stop()
        self.pool.close()

    # --- across processes ------------------------------------------------------------------
    def _notify(self, kind: str, job_types: frozenset[str] | None = None) -> None:
        self._notify_local(kind, job_types)
        self._send(encode(kind, sorted(job_types) if job_types is not None else None))

    def _notify_cancel(self, job_id: str) -> None:
        self._notify_cancel_local(job_id)
        self._send(encode("cancel", [job_id]))

    def _send(self, payload: str) -> None:
        token = self._listener.token if self._listener is not None else ""
        with contextlib.suppress(Exception), self.pool.connection() as conn:
            conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, f"{token}|{payload}"))

    def _payload(self, kind: str, names: frozenset[str]) -> str:
        token = self._listener.token if self._listener is not None else ""
        return f"{token}|{encode(kind, sorted(names))}"

    def _on_remote_change(self, kind: str, names: list[str] | None) -> None:
        if kind == "cancel":
            for job_id in names or ():
                self._notify_cancel_local(job_id)
        else:
            self._notify_local(kind, frozenset(names) if names is not None else None)

    @contextlib.contextmanager
    def periodic_turn(self, name: str, period_seconds: float) -> Iterator[bool]:
        """True for one process per ``period_seconds`` (and never two at once): the tick and
        the DataForSEO sweep run once per period across every process of the hub.

        A session advisory lock is held for the whole turn (a slow sweep is not started
        again beside itself); the time of the last turn is kept in ``periodic_runs``.
        """
        with self.pool.connection() as conn:
            (locked,) = conn.execute(
                "SELECT pg_try_advisory_lock(%s, hashtext(%s))", (LOCK_PERIODIC, name)
            ).fetchone()
            if not locked:
                yield False
                return
            try:
                now = self.now()
                due = conn.execute(
                    "INSERT INTO periodic_runs(name, ran_at) VALUES(%s, %s) "
                    "ON CONFLICT (name) DO UPDATE SET ran_at=excluded.ran_at "
                    "WHERE periodic_runs.ran_at <= %s RETURNING 1",
                    # a little slack: processes whose timers fire slightly early still run
                    (name, now, now - period_seconds * 0.9),
                ).fetchone()
                yield due is not None
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", (LOCK_PERIODIC, name))

    # --- jobs: what differs from SQLite ------------------------------------------------------
    def _lock_job_type(self, db: PgConnection, job_type: str) -> bool:
        (locked,) = db.execute(
            "SELECT pg_try_advisory_xact_lock(?, hashtext(?))", (LOCK_JOB_TYPE, job_type)
        ).fetchone()
        return bool(locked)

    # --- inbox: dedupe by the unique key ------------------------------------------------------
    def persist_inbound(self, **item: Any) -> Persisted:
        (result,) = self.persist_inbound_many([item])
        if isinstance(result, Exception):
            raise result
        return result

    def persist_inbound_in(self, db: PgConnection, **item: Any) -> Persisted:
        (result,) = self._persist_group_in(db, [item], self.now())
        if isinstance(result, Exception):
            raise result
        return result

    def persist_inbound_many(self, items: list[dict[str, Any]]) -> list[Persisted | Exception]:
        """Group commit, as on SQLite: the deliveries and the delivery-log lines queued so far
        in one transaction, a handful of statements whatever the group's size, pipelined:
        psycopg sends them without waiting for each answer, and waits only where a result is
        read (the inbox seqs, the duplicates' first jobs), so a group costs ~3 round trips."""
        with self.pool.connection() as conn, conn.pipeline(), conn.transaction():
            db = PgConnection(conn)
            self._write_deliveries_in(db, self._take_queued_deliveries())
            results = self._persist_group_in(db, items, self.now())
            queued = frozenset(
                item["job"][0]
                for item, result in zip(items, results, strict=True)
                if item.get("job") is not None
                and isinstance(result, Persisted)
                and not result.duplicate
            )
            if queued:  # in the transaction: sent at its commit, no extra round trip
                db.execute("SELECT pg_notify(?, ?)", (CHANNEL, self._payload("job", queued)))
        if queued:
            self._notify_local("job", queued)
        return results

    def _persist_group_in(
        self, db: PgConnection, items: list[dict[str, Any]], now: float
    ) -> list[Persisted | Exception]:
        results: list[Persisted | Exception | None] = [None] * len(items)
        rows: list[tuple[int, tuple[Any, ...], tuple[Any, ...] | None]] = []
        for index, item in enumerate(items):
            try:  # an item that cannot be written gets its error; the others go on
                rows.append((index, *_inbound_row(item, now)))
            except Exception as exc:
                results[index] = exc
        # In key order: two processes writing overlapping groups take the keys' index locks
        # in the same order, so they wait for each other instead of deadlocking.
        rows.sort(key=lambda r: (r[1][0] is None, r[1][0] or ""))
        keys = [r[1][0] for r in rows if r[1][0]]
        if keys:  # a key whose window passed is a new request: its old row goes
            db.execute(
                "DELETE FROM inbox WHERE dedupe_key = ANY(?) AND expires_at <= ?", (keys, now)
            )
        seqs: list[int | None] = []
        if rows:
            with db.conn.cursor() as cur:
                cur.executemany(_INSERT_INBOX, [r[1] for r in rows], returning=True)
                while True:
                    found = cur.fetchone()
                    seqs.append(found[0] if found else None)
                    if not cur.nextset():
                        break
        jobs = [r[2] for r, seq in zip(rows, seqs, strict=True) if seq is not None and r[2]]
        if jobs:
            db.executemany(INSERT_JOB, jobs)
        duplicates = [r[1][0] for r, seq in zip(rows, seqs, strict=True) if seq is None]
        first_job: dict[str, str | None] = {}
        if duplicates:
            found_rows = db.execute(
                "SELECT dedupe_key, job_id FROM inbox WHERE dedupe_key = ANY(?)", (duplicates,)
            ).fetchall()
            first_job = {key: job_id for key, job_id in found_rows}
        for (index, inbox, _job), seq in zip(rows, seqs, strict=True):
            if seq is None:
                results[index] = Persisted(first_job.get(inbox[0]), True, None)
            else:
                results[index] = Persisted(inbox[4], False, seq)
        return results  # type: ignore[return-value]

    # --- events out: each due event to one process at a time --------------------------------
    # How long a claimed event stays with its process before another may try it (a process
    # killed mid-delivery): the receiver de-duplicates a rare second try by its webhook-id.
    EVENT_CLAIM_SECONDS = 120.0

    def due_events(self, limit: int = 50) -> list[dict[str, Any]]:
        """Due events, claimed: moved ``EVENT_CLAIM_SECONDS`` ahead in the same statement
        (``SKIP LOCKED``), so two workers' delivery loops never post one event twice at
        once. ``record_attempt`` then sets the real outcome."""
        now = self.now()
        rows = self.query(
            "UPDATE outbox SET next_attempt_at=? WHERE seq IN (SELECT seq FROM outbox "
            "WHERE status='pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, seq "
            "LIMIT ? FOR UPDATE SKIP LOCKED) RETURNING *",
            (now + self.EVENT_CLAIM_SECONDS, now, limit),
        )
        return sorted((dict(r) for r in rows), key=lambda e: e["seq"])

    # --- delivery log: RETURNING instead of lastrowid ---------------------------------------
    def record_delivery(self, **fields: Any) -> None:
        with self.tx() as db:
            self._write_deliveries_in(db, [fields])

    def _write_deliveries_in(self, db: PgConnection, queued: list[dict[str, Any]]) -> None:
        if not queued:
            return
        columns = ("at", "route", "action", "verdict", "status", "reason", "job_id")
        db.executemany(
            "INSERT INTO deliveries(at, route, action, verdict, status, reason, job_id) "
            "VALUES(?,?,?,?,?,?,?)",
            [tuple(fields.get(c) for c in columns) for fields in queued],
        )
        db.execute(
            "DELETE FROM deliveries WHERE seq <= (SELECT MAX(seq) FROM deliveries) - ?",
            (self.max_deliveries,),
        )


def _inbound_row(
    item: dict[str, Any], now: float
) -> tuple[tuple[Any, ...], tuple[Any, ...] | None]:
    """The inbox row of one delivery (the keyword arguments of ``persist_inbound``), and the
    job row to insert with it when it is not a duplicate (its id is chosen up front)."""
    window = item["window_seconds"]
    expires_at = now + max(window, 0)  # raises for a window that is not a number, as SQLite's
    job, job_id = item.get("job"), item.get("job_id")
    job_row = None
    if job is not None:
        job_id = new_id()
        job_row = (job_id, job[0], dumps(job[1] or {}), item["source"], iso(now))
    inbox = (
        item.get("dedupe_key") or None,
        item["source"],
        item["action"],
        dumps(item["payload"]),
        job_id,
        item.get("task_id"),
        item.get("tag"),
        item["received_at"],
        expires_at,
    )
    return inbox, job_row
