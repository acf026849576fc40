"""Durable records of the DataForSEO tasks each discovery job posted (SQLite in HUB_DATA_DIR, or
the shared PostgreSQL database with ``HUB_DATABASE_URL``).

A task is ``posted`` until its results are ingested (``done``) or DataForSEO reports it failed
(``failed``). A job is finished exactly once, when all its tasks are done or failed: the
``finished`` flag is claimed with one atomic UPDATE, so a postback and the sweep racing for the
last task cannot both finish the job.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub.state.database import SqliteDatabase, open_database
from webhooks.dataforseo import canonical_make_job

TERMINAL = ("done", "failed")


@dataclass(frozen=True)
class TaskRecord:
    task_id: str
    job_id: str
    keyword: str
    location: str
    status: str
    posted_at: float
    found: int = 0
    added: int = 0
    duplicates: int = 0
    excluded: int = 0
    error: str = ""


@dataclass(frozen=True)
class Counts:
    found: int = 0
    added: int = 0
    duplicates: int = 0
    excluded: int = 0


class TaskBook:
    def __init__(self, db: Any):
        """``db``: the hub's database (:func:`hub.state.database.open_database`) or the path of
        a SQLite file."""
        if isinstance(db, str | Path):
            db = SqliteDatabase(db)
        self._db = db
        # Held while a task is ingested, so two deliveries of one task ingest it once (across
        # processes too, on PostgreSQL). Re-entrant.
        self.lock = db.shared_lock("discovery_tasks")

    def close(self) -> None:
        self._db.close()

    # --- jobs -------------------------------------------------------------------------------
    def record_job(self, job_id: str, params: dict[str, Any]) -> None:
        self._db.execute(
            "INSERT INTO discovery_jobs(job_id, params, created_at) VALUES(?,?,?) "
            "ON CONFLICT DO NOTHING",
            (job_id, json.dumps(params), time.time()),
        )

    def job_params(self, job_id: str) -> dict[str, Any]:
        found = self._db.execute(
            "SELECT params FROM discovery_jobs WHERE job_id=?", (job_id,)
        ).fetchone()
        return json.loads(found[0]) if found else {}

    def claim_finish(self, job_id: str) -> bool:
        """True for exactly one caller, once every task of the job is done or failed."""
        if self.open_tasks(job_id):
            return False
        cur = self._db.execute(
            "UPDATE discovery_jobs SET finished=1 WHERE job_id=? AND finished=0", (job_id,)
        )
        return cur.rowcount == 1

    def unfinished_jobs_without_open_tasks(self) -> list[str]:
        found = self._db.execute(
            "SELECT j.job_id FROM discovery_jobs j WHERE j.finished=0 AND EXISTS "
            "(SELECT 1 FROM discovery_tasks t WHERE t.job_id=j.job_id) AND NOT EXISTS "
            "(SELECT 1 FROM discovery_tasks t WHERE t.job_id=j.job_id AND t.status='posted')"
        ).fetchall()
        return [job_id for (job_id,) in found]

    # --- tasks ------------------------------------------------------------------------------
    def record_task(
        self, task_id: str, job_id: str, keyword: str, location: str, *, status: str = "posted",
        error: str = "",
    ) -> bool:  # fmt: skip
        """Record a task; False if it was already recorded (the first record stands)."""
        cur = self._db.execute(
            "INSERT INTO discovery_tasks"
            "(task_id, job_id, keyword, location, status, posted_at, error) "
            "VALUES(?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
            (task_id, job_id, keyword, location, status, time.time(), error),
        )
        return cur.rowcount == 1

    def fill_query(self, task_id: str, keyword: str, location: str) -> None:
        """Name the search of a task recorded before its query was known (a pingback)."""
        self._db.execute(
            "UPDATE discovery_tasks SET keyword=?, location=? WHERE task_id=? AND keyword=''",
            (keyword, location, task_id),
        )

    def get(self, task_id: str) -> TaskRecord | None:
        found = self._db.execute(
            "SELECT task_id, job_id, keyword, location, status, posted_at, found, added, "
            "duplicates, excluded, error FROM discovery_tasks WHERE task_id=?",
            (task_id,),
        ).fetchone()
        return TaskRecord(*found) if found else None

    def job_tasks(self, job_id: str) -> list[TaskRecord]:
        found = self._db.execute(
            "SELECT task_id, job_id, keyword, location, status, posted_at, found, added, "
            "duplicates, excluded, error FROM discovery_tasks WHERE job_id=? "
            "ORDER BY posted_at, task_id",
            (job_id,),
        ).fetchall()
        return [TaskRecord(*row) for row in found]

    def open_tasks(self, job_id: str) -> int:
        (count,) = self._db.execute(
            "SELECT COUNT(*) FROM discovery_tasks WHERE job_id=? AND status='posted'",
            (job_id,),
        ).fetchone()
        return count

    def overdue(self, older_than_seconds: float, *, now: float | None = None) -> list[TaskRecord]:
        cutoff = (now if now is not None else time.time()) - older_than_seconds
        found = self._db.execute(
            "SELECT task_id FROM discovery_tasks WHERE status='posted' AND posted_at<=? "
            "ORDER BY posted_at LIMIT 1000",
            (cutoff,),
        ).fetchall()
        return [record for (task_id,) in found if (record := self.get(task_id))]

    def mark_done(self, task_id: str, counts: Counts) -> bool:
        cur = self._db.execute(
            "UPDATE discovery_tasks SET status='done', done_at=?, found=?, added=?, "
            "duplicates=?, excluded=? WHERE task_id=? AND status='posted'",
            (
                time.time(),
                counts.found,
                counts.added,
                counts.duplicates,
                counts.excluded,
                task_id,
            ),
        )
        return cur.rowcount == 1

    def mark_failed(self, task_id: str, error: str) -> bool:
        cur = self._db.execute(
            "UPDATE discovery_tasks SET status='failed', done_at=?, error=? "
            "WHERE task_id=? AND status='posted'",
            (time.time(), error, task_id),
        )
        return cur.rowcount == 1

    def backdate(self, task_id: str, seconds: float) -> None:
        """Make a task look older (tests of the recovery sweep; never used by the hub)."""
        self._db.execute(
            "UPDATE discovery_tasks SET posted_at=posted_at-? WHERE task_id=?",
            (seconds, task_id),
        )


def task_book(services) -> TaskBook:
    """The services' one TaskBook (opened on first use, closed with the services)."""
    book = services.extras.get("discovery_tasks")
    if book is None:
        settings = services.settings
        book = TaskBook(
            open_database(settings, sqlite_path=settings.data_dir / "discovery.sqlite3")
        )
        services.extras["discovery_tasks"] = book
    return book


# Job params key naming the callback grant (``make-dfs:<label>``) a job was opened under, for
# jobs the hub opened for DataForSEO tasks a Make.com scenario posted (hub.discovery.from_make).
CALLBACK_GRANT = "callback_grant"


def is_known_task(services, job_id: str, task_id: str) -> bool:
    """Did job ``job_id`` post task ``task_id``? (The webhook edge refuses unknown tasks.)

    ``job_id`` may also be a Make grant (``make-dfs:<label>``, or the old ``make``): then the
    task must have been recorded under that grant, on its first callback
    (:func:`hub.discovery.from_make.callback_job` records a task it has not seen yet).
    """
    return known_task_job(services, job_id, task_id) is not None


def known_task_job(services, token_job_id: str, task_id: str) -> str | None:
    """The real job that task ``task_id`` belongs to, if the callback token grants it."""
    book = task_book(services)
    record = book.get(task_id)
    if record is None:
        return None
    if record.job_id == token_job_id:
        return record.job_id
    grant = canonical_make_job(token_job_id)
    if grant is not None and book.job_params(record.job_id).get(CALLBACK_GRANT) == grant:
        return record.job_id
    return None
