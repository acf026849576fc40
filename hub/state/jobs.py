"""The jobs table: queueing, leases (one running job per type, across processes), progress,
cancel, completion with its chained child in the same transaction. Claiming a job (which are
runnable, one per type) is :mod:`hub.state.claims`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hub.state.claims import JobClaimsMixin
from hub.state.codec import dumps, iso, job_from_row, new_id

TERMINAL = ("completed", "failed", "cancelled")


class JobsMixin(JobClaimsMixin):
    # provided by the backend (hub.state.sqlite.State, hub.state.postgres.PostgresState)
    now: Callable[[], float]
    tx: Any
    query: Any
    _notify: Any
    _notify_cancel: Any
    add_event_in: Any

    # --- creating ------------------------------------------------------------------------
    def insert_job_in(
        self,
        db: Any,
        job_type: str,
        params: dict[str, Any] | None = None,
        *,
        source: str = "api",
        parent_id: str | None = None,
        status: str = "pending",
        result: Any = None,
        job_id: str | None = None,
    ) -> str:
        """Queue a job inside the caller's transaction (the inbox uses it to persist the
        delivery and its job atomically)."""
        job_id = job_id or new_id()
        now = iso(self.now())
        finished = now if status in TERMINAL else None
        db.execute(
            "INSERT INTO jobs(id, job_type, status, params, source, parent_id, result, "
            "created_at, started_at, finished_at) VALUES(?,?,?,?,?,?,?,?,?,?)",
            (
                job_id,
                job_type,
                status,
                dumps(params or {}),
                source,
                parent_id,
                None if result is None else dumps(result),
                now,
                finished,
                finished,
            ),
        )
        return job_id

    def insert_job(
        self,
        job_type: str,
        params: dict[str, Any] | None = None,
        *,
        source: str = "api",
        parent_id: str | None = None,
    ) -> str:
        with self.tx() as db:
            job_id = self.insert_job_in(db, job_type, params, source=source, parent_id=parent_id)
        self._notify("job", frozenset((job_type,)))
        return job_id

    def open_waiting_job(
        self,
        job_type: str,
        params: dict[str, Any],
        *,
        source: str,
        summary: dict[str, Any] | None = None,
    ) -> str:
        """Create a job that starts out waiting for callbacks, as a stage returning
        ``waiting=True`` leaves it: for work someone else started (DataForSEO tasks a Make.com
        scenario posted). No stage ever runs for it; :meth:`JobRunner.finish_job` ends it and
        queues its successor like any other."""
        with self.tx() as db:
            job_id = self.insert_job_in(
                db, job_type, params, source=source, status="running", result=summary
            )
            # Same columns set_waiting leaves: running, waiting, no lease (so never runnable).
            db.execute("UPDATE jobs SET waiting=1, started_at=created_at WHERE id=?", (job_id,))
        return job_id

    # --- reading -------------------------------------------------------------------------
    def get_job(self, job_id: str) -> dict[str, Any] | None:
        found = self.query("SELECT * FROM jobs WHERE id=?", (job_id,))
        return job_from_row(found[0]) if found else None

    def list_jobs(
        self,
        job_type: str | None = None,
        status: str | None = None,
        *,
        limit: int = 100,
        offset: int = 0,
        parent_id: str | None = None,
    ) -> list[dict[str, Any]]:
        where, params = [], []
        for column, value in (("job_type", job_type), ("status", status), ("parent_id", parent_id)):
            if value:
                where.append(f"{column}=?")
                params.append(value)
        clause = ("WHERE " + " AND ".join(where)) if where else ""
        rows = self.query(
            f"SELECT * FROM jobs {clause} ORDER BY seq DESC LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        return [job_from_row(r) for r in rows]

    def count_jobs(self) -> dict[str, dict[str, int]]:
        """``{job_type: {status: n}}`` for the stats page."""
        counts: dict[str, dict[str, int]] = {}
        for row in self.query("SELECT job_type, status, COUNT(*) FROM jobs GROUP BY 1, 2"):
            counts.setdefault(row[0], {})[row[1]] = row[2]
        return counts

    # --- leases ----------------------------------------------------------------------------
    def renew_leases(self, owner: str, lease_seconds: float) -> set[str]:
        """Extend every lease ``owner`` holds; returns the ids of its jobs asked to cancel
        (a cancel may come from another process: the CLI or the server)."""
        with self.tx() as db:
            db.execute(
                "UPDATE jobs SET lease_expires=? WHERE lease_owner=? AND status='running' "
                "AND waiting=0",
                (self.now() + lease_seconds, owner),
            )
            rows = db.execute(
                "SELECT id FROM jobs WHERE lease_owner=? AND status='running' "
                "AND cancel_requested=1",
                (owner,),
            ).fetchall()
        return {r[0] for r in rows}

    def release_job(self, job_id: str, owner: str) -> None:
        """Give an interrupted job back to the queue (graceful shutdown)."""
        with self.tx() as db:
            db.execute(
                "UPDATE jobs SET status='pending', lease_owner=NULL, lease_expires=NULL "
                "WHERE id=? AND lease_owner=? AND status='running'",
                (job_id, owner),
            )
        self._notify("job")

    # --- progress and outcome ----------------------------------------------------------------
    def set_progress(self, job_id: str, processed: int, total: int) -> None:
        with self.tx() as db:
            db.execute(
                "UPDATE jobs SET processed=?, total=? WHERE id=?", (processed, total, job_id)
            )

    def set_waiting(self, job_id: str, owner: str, result: Any) -> bool:
        """The stage handed over to callbacks: keep the job running, drop its type lease."""
        with self.tx() as db:
            cur = db.execute(
                "UPDATE jobs SET waiting=1, result=?, lease_owner=NULL, lease_expires=NULL "
                "WHERE id=? AND status='running' AND lease_owner=?",
                (dumps(result), job_id, owner),
            )
        self._notify("job")
        return cur.rowcount == 1

    def finish(
        self,
        job_id: str,
        status: str,
        *,
        result: Any = None,
        error: str | None = None,
        owner: str | None = None,
        child: tuple[str, dict[str, Any]] | None = None,
        event: tuple[str, dict[str, Any]] | None = None,
    ) -> tuple[bool, str | None]:
        """End a running (or pending) job, queue its chained child and its outbound event in
        ONE transaction, so a crash can neither lose nor duplicate the chain.

        With ``owner`` only the lease holder may finish it. Returns (finished, child id).
        """
        if status not in TERMINAL:
            raise ValueError(f"not a final status: {status}")
        condition = "status IN ('pending', 'running')"
        params: list[Any] = []
        if owner is not None:
            condition += " AND lease_owner=?"
            params.append(owner)
        child_id = None
        with self.tx() as db:
            cur = db.execute(
                "UPDATE jobs SET status=?, result=COALESCE(?, result), error=?, finished_at=?, "
                f"waiting=0, lease_owner=NULL, lease_expires=NULL WHERE id=? AND {condition}",
                (
                    status,
                    None if result is None else dumps(result),
                    error,
                    iso(self.now()),
                    job_id,
                    *params,
                ),
            )
            if cur.rowcount != 1:
                return False, None
            if child is not None:
                child_id = self.insert_job_in(
                    db, child[0], child[1], source="chain", parent_id=job_id
                )
            if event is not None:
                self.add_event_in(db, event[0], event[1])
        self._notify("job")
        if event is not None:
            self._notify("event")
        return True, child_id

    def request_cancel(self, job_id: str) -> dict[str, Any] | None:
        """Pending or waiting jobs are cancelled at once; a running one is flagged and stops
        at its next ``ctx.check_cancelled()``."""
        with self.tx() as db:
            found = db.execute(f"SELECT * FROM jobs WHERE id=?{self._FOR_UPDATE}", (job_id,))
            found = found.fetchone()
            if found is None:
                return None
            job = job_from_row(found)
            if job["status"] == "pending" or (job["status"] == "running" and job["waiting"]):
                db.execute(
                    "UPDATE jobs SET status='cancelled', finished_at=?, waiting=0, "
                    "lease_owner=NULL, lease_expires=NULL WHERE id=?",
                    (iso(self.now()), job_id),
                )
            elif job["status"] == "running":
                db.execute("UPDATE jobs SET cancel_requested=1 WHERE id=?", (job_id,))
            found = db.execute("SELECT * FROM jobs WHERE id=?", (job_id,)).fetchone()
        self._notify("job")
        if found["status"] == "running":
            self._notify_cancel(job_id)
        return job_from_row(found)
