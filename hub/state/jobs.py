"""The jobs table: queueing, leases (one running job per type, across processes), progress,
completion with its chained child in the same transaction.

A job is *runnable* when it is pending, or running without a live lease (its process died:
the lease expired, or the owner's pid on this host is gone). Claiming takes the per-type lease
inside ``BEGIN IMMEDIATE``, so the CLI and the server never run two jobs of one type at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hub.state.codec import dumps, iso, job_from_row, new_id

TERMINAL = ("completed", "failed", "cancelled")

# The oldest pending job of each type, found by a loose index scan over jobs_status
# (status, job_type, rowid): one index seek per job type. ``MIN(seq) ... GROUP BY job_type``
# read every pending row instead: 1.5 ms under the state lock with 12,000 webhooks queued,
# on every dispatch, which the webhook route's commits then waited for.
_RUNNABLE_SQL = """
WITH RECURSIVE pending_types(job_type) AS (
    SELECT MIN(job_type) FROM jobs WHERE status='pending'
    UNION ALL
    SELECT (SELECT MIN(j.job_type) FROM jobs j WHERE j.status='pending' AND j.job_type > p.job_type)
    FROM pending_types p WHERE p.job_type IS NOT NULL
)
SELECT * FROM jobs WHERE seq IN (
    SELECT (SELECT MIN(j.seq) FROM jobs j WHERE j.status='pending' AND j.job_type=p.job_type)
    FROM pending_types p WHERE p.job_type IS NOT NULL
) OR (status='running' AND waiting=0) ORDER BY seq LIMIT ?
"""
OwnerDead = Callable[[str], bool]


class JobsMixin:
    # provided by the backend (hub.state.sqlite.State, hub.state.postgres.PostgresState)
    now: Callable[[], float]
    tx: Any
    query: Any
    _notify: Any
    _notify_cancel: Any
    add_event_in: Any
    # How a claim reads the job row: PostgreSQL adds FOR UPDATE SKIP LOCKED, so two
    # processes claiming at once never both take it (SQLite's BEGIN IMMEDIATE serialises).
    _CLAIM_SELECT = "SELECT * FROM jobs WHERE id=?"
    # A read that decides a write (request_cancel): row-locked on PostgreSQL.
    _FOR_UPDATE = ""

    def _lock_job_type(self, db: Any, job_type: str) -> bool:
        """Serialise claims of one job type across processes; False: someone else is
        claiming that type right now. SQLite's write lock already does it."""
        return True

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

    def _lease_live(self, owner: str | None, expires: float | None, owner_dead: OwnerDead) -> bool:
        return bool(owner) and (expires or 0) > self.now() and not owner_dead(owner or "")

    def runnable_jobs(self, owner_dead: OwnerDead, limit: int = 200) -> list[dict[str, Any]]:
        """Pending jobs and running ones whose process is gone, oldest first."""
        # Only the oldest pending job of each type can start next (one per type runs), so a
        # backlog of hundreds of queued jobs costs one row per type here, not hundreds.
        rows = self.query(_RUNNABLE_SQL, (limit,))
        jobs = [job_from_row(r) for r in rows]
        return [
            j
            for j in jobs
            if j["status"] == "pending"
            or not self._lease_live(j["lease_owner"], j["lease_expires"], owner_dead)
        ]

    def claim_runnable(
        self,
        owner: str,
        lease_seconds: float,
        owner_dead: OwnerDead,
        *,
        limit: int,
        busy_types: frozenset[str] = frozenset(),
        skip_ids: frozenset[str] = frozenset(),
    ) -> list[dict[str, Any]]:
        """:meth:`runnable_jobs`, then :meth:`claim_job` for each candidate in turn, at most
        ``limit`` claimed and one per type, skipping ``busy_types`` (the caller runs one
        already) and ``skip_ids``: the runner's dispatch in one call, so one thread hop
        instead of one per claim."""
        claimed: list[dict[str, Any]] = []
        busy = set(busy_types)
        for candidate in self.runnable_jobs(owner_dead):
            if len(claimed) >= limit:
                break
            if candidate["id"] in skip_ids or candidate["job_type"] in busy:
                continue
            job = self.claim_job(candidate["id"], owner, lease_seconds, owner_dead)
            if job is not None:
                claimed.append(job)
                busy.add(job["job_type"])
        return claimed

    # --- leases ----------------------------------------------------------------------------
    def claim_job(
        self, job_id: str, owner: str, lease_seconds: float, owner_dead: OwnerDead
    ) -> dict[str, Any] | None:
        """Take the job and its type's lease, or return None (someone else runs that type, or
        the job is no longer runnable)."""
        now = self.now()
        with self.tx() as db:
            found = db.execute(self._CLAIM_SELECT, (job_id,)).fetchone()
            if found is None:
                return None
            job = job_from_row(found)
            if job["status"] == "running":
                if job["waiting"] or self._lease_live(
                    job["lease_owner"], job["lease_expires"], owner_dead
                ):
                    return None
            elif job["status"] != "pending":
                return None
            if not self._lock_job_type(db, job["job_type"]):
                return None
            others = db.execute(
                "SELECT lease_owner, lease_expires FROM jobs WHERE job_type=? AND "
                "status='running' AND waiting=0 AND id<>?",
                (job["job_type"], job_id),
            ).fetchall()
            if any(self._lease_live(o[0], o[1], owner_dead) for o in others):
                return None
            db.execute(
                "UPDATE jobs SET status='running', lease_owner=?, lease_expires=?, "
                "started_at=COALESCE(started_at, ?), attempts=attempts+1 WHERE id=?",
                (owner, now + lease_seconds, iso(now), job_id),
            )
            found = db.execute("SELECT * FROM jobs WHERE id=?", (job_id,)).fetchone()
        return job_from_row(found)

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
