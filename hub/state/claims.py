"""Claiming jobs: which are runnable, and taking one with its lease.

A job is *runnable* when it is pending, or running without a live lease (its process died:
the lease expired, or the owner's pid on this host is gone). A claim checks, under the type's
claim lock (SQLite's ``BEGIN IMMEDIATE``; on PostgreSQL ``FOR UPDATE SKIP LOCKED`` on the row
and an advisory lock on the type), that no other job of the type runs: one job per type across
processes, except the types the caller names parallel.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hub.state.codec import iso, job_from_row

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


class JobClaimsMixin:
    # provided by the backend (hub.state.sqlite.State, hub.state.postgres.PostgresState)
    now: Callable[[], float]
    tx: Any
    query: Any
    # How a claim reads the job row: PostgreSQL adds FOR UPDATE SKIP LOCKED, so two
    # processes claiming at once never both take it (SQLite's BEGIN IMMEDIATE serialises).
    _CLAIM_SELECT = "SELECT * FROM jobs WHERE id=?"
    # A read that decides a write (request_cancel): row-locked on PostgreSQL.
    _FOR_UPDATE = ""

    def _lock_job_type(self, db: Any, job_type: str) -> bool:
        """Serialise claims of one job type across processes; False: someone else is
        claiming that type right now. SQLite's write lock already does it."""
        return True

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
        parallel_types: frozenset[str] = frozenset(),
    ) -> list[dict[str, Any]]:
        """:meth:`runnable_jobs`, then :meth:`claim_job` for each candidate in turn, at most
        ``limit`` claimed and one per type, skipping ``busy_types`` (the caller runs one
        already) and ``skip_ids``: the runner's dispatch in one call, so one thread hop
        instead of one per claim. Jobs of ``parallel_types`` are taken several at once."""
        claimed: list[dict[str, Any]] = []
        busy = set(busy_types)
        candidates = self.runnable_jobs(owner_dead)
        if parallel_types:  # twice the slots: another process may be claiming the oldest
            candidates += self._pending_parallel(parallel_types, 2 * limit + len(skip_ids))
        seen: set[str] = set()
        for candidate in candidates:
            if len(claimed) >= limit:
                break
            job_type, parallel = candidate["job_type"], candidate["job_type"] in parallel_types
            if candidate["id"] in skip_ids or candidate["id"] in seen or job_type in busy:
                continue
            seen.add(candidate["id"])
            job = self.claim_job(
                candidate["id"], owner, lease_seconds, owner_dead, exclusive=not parallel
            )
            if job is not None:
                claimed.append(job)
                if not parallel:
                    busy.add(job_type)
        return claimed

    def _pending_parallel(self, types: frozenset[str], limit: int) -> list[dict[str, Any]]:
        marks = ",".join("?" * len(types))
        rows = self.query(
            f"SELECT * FROM jobs WHERE status='pending' AND job_type IN ({marks}) "
            "ORDER BY seq LIMIT ?",
            (*sorted(types), limit),
        )
        return [job_from_row(r) for r in rows]

    def _type_free(self, db: Any, job: dict[str, Any], owner_dead: OwnerDead) -> bool:
        """No other job of this job's type runs under a live lease (checked under the type's
        claim lock, so two processes cannot both see it free)."""
        if not self._lock_job_type(db, job["job_type"]):
            return False
        others = db.execute(
            "SELECT lease_owner, lease_expires FROM jobs WHERE job_type=? AND "
            "status='running' AND waiting=0 AND id<>?",
            (job["job_type"], job["id"]),
        ).fetchall()
        return not any(self._lease_live(o[0], o[1], owner_dead) for o in others)

    def claim_job(
        self,
        job_id: str,
        owner: str,
        lease_seconds: float,
        owner_dead: OwnerDead,
        *,
        exclusive: bool = True,
    ) -> dict[str, Any] | None:
        """Take the job and its type's lease, or return None (someone else runs that type, or
        the job is no longer runnable). ``exclusive=False``: other jobs of its type may run."""
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
            if exclusive and not self._type_free(db, job, owner_dead):
                return None
            db.execute(
                "UPDATE jobs SET status='running', lease_owner=?, lease_expires=?, "
                "started_at=COALESCE(started_at, ?), attempts=attempts+1 WHERE id=?",
                (owner, now + lease_seconds, iso(now), job_id),
            )
            found = db.execute("SELECT * FROM jobs WHERE id=?", (job_id,)).fetchone()
        return job_from_row(found)
