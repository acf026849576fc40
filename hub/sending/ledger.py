"""The durable send ledger: the source of truth for what was (maybe) sent, in the hub's database.

Two tables of our own, in the state DB (``settings.state_db_path``) or, with
``HUB_DATABASE_URL``, in PostgreSQL, where every process of the hub sees them (DESIGN.md §5):

- ``send_intents``: one row per (hub_id, step) we mean to send, written and committed
  *before* the provider is called, with the pre-made Message-ID. ``attempted_at`` is set, and
  committed, right before the call: from then on the outcome is unknown until reconciled.
  ``owner``/``lease_until`` keep two jobs (or two processes) from sending the same step.
- ``sends``: one row per (hub_id, step) that the provider accepted (or that reconciliation
  found in the Sent mailbox). Its primary key is what makes a second send of a step impossible.

Caps count ``sends`` plus attempted intents (they may have gone out), so a restart never
resets the rolling 24 h count. ``synchronous=FULL``: an intent survives a power cut, not only
a killed process. Every write about one step holds that step's lock (SQLite's write lock, a
PostgreSQL advisory lock), so two processes deciding about one step are serialised.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from hub.sending.ledger_schema import Intent, SendRecord, recipient_domain
from hub.state.database import SqliteDatabase, open_database
from hub.state.leases import owner_dead

# The rolling window the daily caps count over (``sends_since(now - DAY_SECONDS)``).
DAY_SECONDS = 24 * 3600

# A send claim outlives a crash only until this passes, or at once when its holder is gone.
DEFAULT_LEASE_SECONDS = 15 * 60


class Ledger:
    def __init__(self, db: Any):
        """``db``: the hub's database (:func:`hub.state.database.open_database`), or the path
        of a SQLite file."""
        if isinstance(db, str | Path):
            db = SqliteDatabase(db, synchronous="FULL")
        self._db = db

    @classmethod
    def from_settings(cls, settings) -> Ledger:
        return cls(open_database(settings, synchronous="FULL"))

    def close(self) -> None:
        self._db.close()

    def _tx(self, hub_id: str | None = None, step: int = 0):
        return _StepTransaction(self._db, hub_id, step)

    # --- reading ------------------------------------------------------------------------------
    def intent(self, hub_id: str, step: int) -> Intent | None:
        found = self._db.execute(
            "SELECT * FROM send_intents WHERE hub_id=? AND step=?", (hub_id, step)
        ).fetchone()
        return Intent(*found) if found else None

    def sent(self, hub_id: str, step: int) -> SendRecord | None:
        found = self._db.execute(
            "SELECT * FROM sends WHERE hub_id=? AND step=?", (hub_id, step)
        ).fetchone()
        return SendRecord(*found) if found else None

    def history(self, hub_id: str) -> list[SendRecord]:
        """Every message sent to this row, first message first."""
        found = self._db.execute(
            "SELECT * FROM sends WHERE hub_id=? ORDER BY step", (hub_id,)
        ).fetchall()
        return [SendRecord(*row) for row in found]

    def recipients(self, hub_id: str) -> set[str]:
        found = self._db.execute(
            "SELECT recipient FROM sends WHERE hub_id=? "
            "UNION SELECT recipient FROM send_intents WHERE hub_id=?",
            (hub_id, hub_id),
        ).fetchall()
        return {r for (r,) in found}

    def sends_since(
        self, since: float, *, domain: str | None = None, identity: str | None = None
    ) -> list[float]:
        """Times of messages that went out (or may have) since ``since``, oldest first;
        ``domain`` / ``identity`` count only that recipient domain / sending identity."""
        where_domain = " AND recipient_domain=?" if domain else ""
        args: tuple = (since, domain) if domain else (since,)
        if identity is not None:
            where_domain += " AND identity=?"
            args += (identity,)
        sent = self._db.execute(
            f"SELECT sent_at FROM sends WHERE sent_at>=?{where_domain}", args
        ).fetchall()
        maybe = self._db.execute(
            f"SELECT attempted_at FROM send_intents WHERE attempted_at>=?{where_domain}", args
        ).fetchall()
        return sorted(t for (t,) in sent + maybe)

    def count(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM sends").fetchone()[0]

    # --- writing --------------------------------------------------------------------------------
    def plan(
        self,
        *,
        hub_id: str,
        step: int,
        message_id: str,
        recipient: str,
        subject: str,
        body: str = "",
        thread_id: str = "",
        owner: str,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        now: float | None = None,
        identity: str = "",
    ) -> Intent | None:
        """Record (or take over) the intent to send this step; committed when this returns.

        Returns the intent to use -- an existing one keeps its Message-ID, subject and body,
        so a retried send is the same message. Returns None when the step is already sent or
        another live job holds it.
        """
        now = time.time() if now is None else now
        with self._tx(hub_id, step) as db:
            if db.execute(
                "SELECT 1 FROM sends WHERE hub_id=? AND step=?", (hub_id, step)
            ).fetchone():
                return None
            found = db.execute(
                "SELECT * FROM send_intents WHERE hub_id=? AND step=?", (hub_id, step)
            ).fetchone()
            if found is None:
                db.execute(
                    "INSERT INTO send_intents VALUES(?,?,?,?,?,?,?,?,?,NULL,?,?,?)",
                    (
                        hub_id,
                        step,
                        message_id,
                        recipient,
                        recipient_domain(recipient),
                        subject,
                        body,
                        thread_id,
                        now,
                        owner,
                        now + lease_seconds,
                        identity,
                    ),
                )
            else:
                held = Intent(*found)
                if (
                    held.owner != owner
                    and (held.lease_until or 0) > now
                    and not owner_dead(held.owner)
                ):
                    return None
                db.execute(
                    "UPDATE send_intents SET owner=?, lease_until=? WHERE hub_id=? AND step=?",
                    (owner, now + lease_seconds, hub_id, step),
                )
                if held.attempted_at is None:
                    # Never handed to the provider: the person may have fixed the address or
                    # the draft since; send what the row says now (same Message-ID).
                    db.execute(
                        "UPDATE send_intents SET recipient=?, recipient_domain=?, subject=?, "
                        "body=?, thread_id=? WHERE hub_id=? AND step=?",
                        (
                            recipient,
                            recipient_domain(recipient),
                            subject,
                            body,
                            thread_id,
                            hub_id,
                            step,
                        ),
                    )
            row = db.execute(
                "SELECT * FROM send_intents WHERE hub_id=? AND step=?", (hub_id, step)
            ).fetchone()
        return Intent(*row)

    def mark_attempt(
        self,
        hub_id: str,
        step: int,
        owner: str,
        *,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        now: float | None = None,
    ) -> bool:
        """Committed right before the provider call; False when we no longer hold the claim."""
        now = time.time() if now is None else now
        with self._tx(hub_id, step) as db:
            changed = db.execute(
                "UPDATE send_intents SET attempted_at=COALESCE(attempted_at, ?), lease_until=? "
                "WHERE hub_id=? AND step=? AND owner=?",
                (now, now + lease_seconds, hub_id, step, owner),
            ).rowcount
        return changed == 1

    def record_sent(
        self,
        intent: Intent,
        *,
        provider_id: str,
        thread_id: str,
        how: str = "sent",
        now: float | None = None,
    ) -> SendRecord:
        """The step went out: move the intent into ``sends`` in one transaction."""
        now = time.time() if now is None else now
        sent_at = intent.attempted_at if how == "reconciled" and intent.attempted_at else now
        record = SendRecord(
            hub_id=intent.hub_id,
            step=intent.step,
            message_id=intent.message_id,
            recipient=intent.recipient,
            recipient_domain=intent.recipient_domain,
            subject=intent.subject,
            provider_id=provider_id,
            thread_id=thread_id or intent.thread_id,
            sent_at=sent_at,
            how=how,
            identity=intent.identity,
        )
        with self._tx(intent.hub_id, intent.step) as db:
            db.execute(
                "INSERT INTO sends VALUES(?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                (
                    record.hub_id,
                    record.step,
                    record.message_id,
                    record.recipient,
                    record.recipient_domain,
                    record.subject,
                    record.provider_id,
                    record.thread_id,
                    record.sent_at,
                    record.how,
                    record.identity,
                ),
            )
            db.execute(
                "DELETE FROM send_intents WHERE hub_id=? AND step=?", (intent.hub_id, intent.step)
            )
        return self.sent(intent.hub_id, intent.step) or record

    def release(self, hub_id: str, step: int, owner: str, *, not_sent: bool) -> None:
        """Give up the claim. ``not_sent``: the provider certainly did not send it (refused
        before accepting, or never called), so the intent goes and nothing counts."""
        with self._tx(hub_id, step) as db:
            if not_sent:
                db.execute(
                    "DELETE FROM send_intents WHERE hub_id=? AND step=? AND owner=?",
                    (hub_id, step, owner),
                )
            else:
                db.execute(
                    "UPDATE send_intents SET owner=NULL, lease_until=NULL "
                    "WHERE hub_id=? AND step=? AND owner=?",
                    (hub_id, step, owner),
                )

    def release_owner(self, owner: str) -> None:
        """End of a job: intents it planned but never attempted go (nothing was sent), and
        attempted ones stay, unclaimed, for reconciliation."""
        with self._tx() as db:
            db.execute("DELETE FROM send_intents WHERE owner=? AND attempted_at IS NULL", (owner,))
            db.execute(
                "UPDATE send_intents SET owner=NULL, lease_until=NULL WHERE owner=?", (owner,)
            )


class _StepTransaction:
    """A write transaction holding the lock of one (hub_id, step) when one is named."""

    def __init__(self, db: Any, hub_id: str | None, step: int):
        self.db = db
        self.key = (hub_id, step)
        self._cm: Any = None

    def __enter__(self) -> Any:
        self._cm = self.db.transaction()
        conn = self._cm.__enter__()
        if self.key[0] is not None:
            try:
                self.db.lock_key(conn, f"send:{self.key[0]}", self.key[1])
            except BaseException as exc:
                self._cm.__exit__(type(exc), exc, exc.__traceback__)
                raise
        return conn

    def __exit__(self, exc_type, exc, tb) -> None:
        self._cm.__exit__(exc_type, exc, tb)
