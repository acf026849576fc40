"""The inbox (durable, de-duplicated inbound events), the delivery log and the queue of
outbound events with its attempt log (its table is still named ``outbox``)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from hub.state.codec import dumps, iso, loads, new_id
from hub.state.group import Persisted, persist_group_in


class EventsMixin:
    # provided by hub.state.sqlite.State
    now: Callable[[], float]
    tx: Any
    query: Any
    _notify: Any
    deliver_events: bool
    max_deliveries: int
    insert_job_in: Any
    _queued_deliveries: list[dict[str, Any]]
    _queued_lock: Any

    # --- inbox ---------------------------------------------------------------------------
    def persist_inbound(
        self,
        *,
        source: str,
        action: str,
        payload: Any,
        dedupe_key: str | None,
        window_seconds: float,
        received_at: float,
        job: tuple[str, dict[str, Any]] | None = None,
        job_id: str | None = None,
        task_id: str | None = None,
        tag: str | None = None,
    ) -> Persisted:
        """Persist a delivery and (with ``job``) queue its job in ONE transaction, unless the
        same ``dedupe_key`` was seen within its window: then answer with the first job's id."""
        with self.tx() as db:
            saved = self.persist_inbound_in(
                db,
                source=source,
                action=action,
                payload=payload,
                dedupe_key=dedupe_key,
                window_seconds=window_seconds,
                received_at=received_at,
                job=job,
                job_id=job_id,
                task_id=task_id,
                tag=tag,
            )
        if job is not None and not saved.duplicate:
            self._notify("job", frozenset((job[0],)))
        return saved

    def persist_inbound_many(self, items: list[dict[str, Any]]) -> list[Persisted | Exception]:
        """Group commit: persist many deliveries (each the keyword arguments of
        :meth:`persist_inbound`) in ONE transaction, with the delivery-log lines queued so far.

        Under load the webhook route hands over every delivery that arrived while the previous
        group was being written, so one thread hop and one commit serve them all. Each item runs
        in its own savepoint: one that fails gets its exception back, the others are kept.
        Nothing is acknowledged before this returns, so the durability is that of
        :meth:`persist_inbound` (committed in WAL mode = survives SIGKILL).
        """
        results: list[Persisted | Exception] = []
        with self.tx() as db:
            self._write_deliveries_in(db, self._take_queued_deliveries())
            db.execute("SAVEPOINT inbound_group")
            try:
                # the whole group in a few statements (hub.state.group says why) ...
                results.extend(persist_group_in(db, items, self.now()))
            except Exception:
                # ... or, when an item does not fit, one savepoint per item as before
                db.execute("ROLLBACK TO inbound_group")
                results.clear()
            db.execute("RELEASE inbound_group")
            for item in items if not results else ():
                db.execute("SAVEPOINT inbound_item")
                try:
                    results.append(self.persist_inbound_in(db, **item))
                except Exception as exc:
                    db.execute("ROLLBACK TO inbound_item")
                    results.append(exc)
                db.execute("RELEASE inbound_item")
        queued = frozenset(
            item["job"][0]
            for item, result in zip(items, results, strict=True)
            if item.get("job") is not None
            and isinstance(result, Persisted)
            and not result.duplicate
        )
        if queued:
            self._notify("job", queued)
        return results

    def persist_inbound_in(
        self,
        db: sqlite3.Connection,
        *,
        source: str,
        action: str,
        payload: Any,
        dedupe_key: str | None,
        window_seconds: float,
        received_at: float,
        job: tuple[str, dict[str, Any]] | None = None,
        job_id: str | None = None,
        task_id: str | None = None,
        tag: str | None = None,
    ) -> Persisted:
        """:meth:`persist_inbound` inside the caller's transaction."""
        now = self.now()
        if dedupe_key:
            seen = db.execute(
                "SELECT job_id, expires_at FROM inbox WHERE dedupe_key=?", (dedupe_key,)
            ).fetchone()
            if seen is not None and seen["expires_at"] > now:
                return Persisted(seen["job_id"], True, None)
            if seen is not None:  # the window passed: this one is a new request
                db.execute("DELETE FROM inbox WHERE dedupe_key=?", (dedupe_key,))
        if job is not None:
            job_id = self.insert_job_in(db, job[0], job[1], source=source)
        cur = db.execute(
            "INSERT INTO inbox(dedupe_key, source, action, payload, job_id, task_id, tag, "
            "received_at, expires_at) VALUES(?,?,?,?,?,?,?,?,?)",
            (
                dedupe_key or None,
                source,
                action,
                dumps(payload),
                job_id,
                task_id,
                tag,
                received_at,
                now + max(window_seconds, 0),
            ),
        )
        seq = cur.lastrowid
        return Persisted(job_id, False, seq)

    def unprocessed_inbound(self, source_prefix: str) -> list[dict[str, Any]]:
        rows = self.query(
            "SELECT * FROM inbox WHERE processed_at IS NULL AND source LIKE ? ORDER BY seq",
            (source_prefix + "%",),
        )
        return [{**dict(r), "payload": loads(r["payload"], {})} for r in rows]

    def mark_inbound_processed(self, seq: int, error: str | None = None) -> None:
        with self.tx() as db:
            db.execute(
                "UPDATE inbox SET processed_at=?, error=? WHERE seq=?", (self.now(), error, seq)
            )

    def purge_inbox(self) -> int:
        """Drop processed inbox rows whose de-duplication window has passed."""
        with self.tx() as db:
            cur = db.execute(
                "DELETE FROM inbox WHERE expires_at < ? AND (processed_at IS NOT NULL "
                "OR source NOT LIKE 'dataforseo%')",
                (self.now(),),
            )
        return cur.rowcount

    # --- delivery log --------------------------------------------------------------------
    def record_delivery(
        self,
        *,
        at: str,
        route: str,
        action: str,
        verdict: str,
        status: int,
        reason: str,
        job_id: str | None = None,
    ) -> None:
        with self.tx() as db:
            cur = db.execute(
                "INSERT INTO deliveries(at, route, action, verdict, status, reason, job_id) "
                "VALUES(?,?,?,?,?,?,?)",
                (at, route, action, verdict, status, reason, job_id),
            )
            # keep the last N only; seq is the primary key, so this is an index range delete
            db.execute(
                "DELETE FROM deliveries WHERE seq <= ?", (cur.lastrowid - self.max_deliveries,)
            )

    def queue_delivery(self, **fields: Any) -> None:
        """A delivery-log line (the fields of :meth:`record_delivery`) written with the next
        group of inbound deliveries, or by :meth:`flush_deliveries`: the webhook route must not
        wait for its own commit (nor block the event loop) for a status-page line."""
        with self._queued_lock:
            self._queued_deliveries.append(fields)

    def flush_deliveries(self) -> None:
        queued = self._take_queued_deliveries()
        if queued:
            with self.tx() as db:
                self._write_deliveries_in(db, queued)

    def has_queued_deliveries(self) -> bool:
        return bool(self._queued_deliveries)

    def _take_queued_deliveries(self) -> list[dict[str, Any]]:
        with self._queued_lock:
            queued, self._queued_deliveries[:] = list(self._queued_deliveries), []
        return queued

    def _write_deliveries_in(self, db: sqlite3.Connection, queued: list[dict[str, Any]]) -> None:
        if not queued:
            return
        columns = ("at", "route", "action", "verdict", "status", "reason", "job_id")
        db.executemany(
            "INSERT INTO deliveries(at, route, action, verdict, status, reason, job_id) "
            "VALUES(?,?,?,?,?,?,?)",
            [tuple(fields.get(c) for c in columns) for fields in queued],
        )
        last = db.execute("SELECT last_insert_rowid()").fetchone()[0]
        db.execute("DELETE FROM deliveries WHERE seq <= ?", (last - self.max_deliveries,))

    def list_deliveries(self, limit: int = 50) -> list[dict[str, Any]]:
        self.flush_deliveries()
        rows = self.query("SELECT * FROM deliveries ORDER BY seq DESC LIMIT ?", (limit,))
        return [dict(r) for r in rows]

    # --- outbound events -------------------------------------------------------------------
    def add_event_in(self, db: sqlite3.Connection, event_type: str, data: dict[str, Any]) -> str:
        now = self.now()
        event_id = new_id("msg_")
        body = dumps({"type": event_type, "timestamp": iso(now), "data": data})
        db.execute(
            "INSERT INTO outbox(id, event_type, body, created_at, status, next_attempt_at) "
            "VALUES(?,?,?,?,?,?)",
            (event_id, event_type, body, now, "pending" if self.deliver_events else "local", now),
        )
        return event_id

    def add_event(self, event_type: str, payload: dict[str, Any]) -> str:
        """Queue an outbound event (``prospect.replied``, ...). Delivered by the events loop
        when ``HUB_EVENTS_URL`` is set, else kept in the local event log."""
        with self.tx() as db:
            event_id = self.add_event_in(db, event_type, payload)
        self._notify("event")
        return event_id

    def due_events(self, limit: int = 50) -> list[dict[str, Any]]:
        rows = self.query(
            "SELECT * FROM outbox WHERE status='pending' AND next_attempt_at <= ? "
            "ORDER BY next_attempt_at, seq LIMIT ?",
            (self.now(), limit),
        )
        return [dict(r) for r in rows]

    def next_event_due_at(self) -> float | None:
        found = self.query("SELECT MIN(next_attempt_at) FROM outbox WHERE status='pending'")
        return found[0][0] if found else None

    def record_attempt(
        self,
        event_id: str,
        *,
        status_code: int | None,
        error: str | None,
        duration_ms: int,
        outcome: str,
        next_attempt_at: float | None = None,
    ) -> None:
        """Log one delivery attempt; ``outcome`` is delivered | retry | dead."""
        now = self.now()
        with self.tx() as db:
            db.execute(
                "INSERT INTO outbox_attempts(event_id, at, status_code, error, duration_ms) "
                "VALUES(?,?,?,?,?)",
                (event_id, now, status_code, error, duration_ms),
            )
            if outcome == "delivered":
                db.execute(
                    "UPDATE outbox SET status='delivered', attempts=attempts+1, delivered_at=?, "
                    "last_error=NULL WHERE id=?",
                    (now, event_id),
                )
            elif outcome == "retry":
                db.execute(
                    "UPDATE outbox SET attempts=attempts+1, next_attempt_at=?, last_error=? "
                    "WHERE id=?",
                    (next_attempt_at, error, event_id),
                )
            else:
                db.execute(
                    "UPDATE outbox SET status='dead', attempts=attempts+1, last_error=? WHERE id=?",
                    (error, event_id),
                )

    def get_event(self, event_id: str) -> dict[str, Any] | None:
        found = self.query("SELECT * FROM outbox WHERE id=?", (event_id,))
        return dict(found[0]) if found else None

    def list_events(self, limit: int = 50, status: str | None = None) -> list[dict[str, Any]]:
        if status:
            rows = self.query(
                "SELECT * FROM outbox WHERE status=? ORDER BY seq DESC LIMIT ?", (status, limit)
            )
        else:
            rows = self.query("SELECT * FROM outbox ORDER BY seq DESC LIMIT ?", (limit,))
        return [dict(r) for r in rows]

    def event_attempts(self, event_id: str) -> list[dict[str, Any]]:
        rows = self.query(
            "SELECT * FROM outbox_attempts WHERE event_id=? ORDER BY seq", (event_id,)
        )
        return [dict(r) for r in rows]
