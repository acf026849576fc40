"""One dry-run ``.eml`` per row and step across the machines of a hub (``HUB_DATABASE_URL``).

On one machine a preview is a file named per row and step: previewing again overwrites it. With
several processes on several machines each has its own outbox folder, so a second preview on
another machine would be a second ``.eml`` for the same recipient. The ``dry_run_previews``
table says which machine's folder holds a step's preview; a preview is written only by the
machine that holds it (and written again there, as before), by another only when the holder
died before writing it (its claim: owner + lease, as the send ledger's).

Written in three steps: claim (committed), write the file (atomic rename), mark written (in the
same worker-thread hop). A process killed between the first two leaves a claim without a file,
which another process takes over. One killed between the last two leaves the file and an
unmarked claim: a process on the same host looks in the dead holder's folder and, finding the
file, marks it written instead of writing a second one. Only a process on another host cannot
look there: that one case (a kill within one database round trip after a rename) may still
give a second preview.
"""

from __future__ import annotations

import asyncio
import socket
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from hub.mail.outbox import safe_file_name
from hub.sending.ledger import DEFAULT_LEASE_SECONDS
from hub.state.database import open_database
from hub.state.leases import owner_dead


class PreviewClaims:
    def __init__(self, settings: Any, owner: str):
        self._db = open_database(settings)
        # This machine's outbox folder: previews written here may be written here again.
        self.machine = f"{socket.gethostname()}:{settings.outbox_dir.resolve()}"
        self.owner = owner

    @classmethod
    def on_several_machines(cls, settings: Any, owner: str) -> PreviewClaims | None:
        """Claims when the hub shares PostgreSQL (several machines, several outbox folders);
        None on one machine, whose one folder holds every preview."""
        return cls(settings, owner) if settings.uses_postgres else None

    def claim(self, hub_id: str, step: int, *, now: float | None = None) -> tuple[str, str]:
        """``("write", "")``: write the preview here; ``("done", file)``: another machine's
        folder holds it; ``("busy", "")``: another machine is writing it right now.

        One statement in the usual case (a new step, or one this machine holds): every row
        of a dry run passes here, and two workers on two CPUs share a database server."""
        now = time.time() if now is None else now
        lease_until = now + DEFAULT_LEASE_SECONDS
        mine = self._db.execute(
            "INSERT INTO dry_run_previews(hub_id, step, machine, owner, lease_until) "
            "VALUES(?,?,?,?,?) ON CONFLICT (hub_id, step) DO UPDATE SET "
            "owner=excluded.owner, written=0, lease_until=excluded.lease_until "
            "WHERE dry_run_previews.machine=excluded.machine RETURNING 1",
            (hub_id, step, self.machine, self.owner, lease_until),
        ).fetchone()
        if mine is not None:
            return "write", ""
        found = self._db.execute(
            "SELECT machine, owner, file, written, lease_until FROM dry_run_previews "
            "WHERE hub_id=? AND step=?",
            (hub_id, step),
        ).fetchone()
        machine, owner, file, written, held_until = found
        if written:
            return "done", file
        if held_until > now and not owner_dead(owner):
            return "busy", ""
        left = _left_in_folder(machine, hub_id, step)
        if left:  # the holder died after its rename, before its mark: finish its mark
            self._db.execute(
                "UPDATE dry_run_previews SET written=1, file=? "
                "WHERE hub_id=? AND step=? AND owner=? AND written=0",
                (left, hub_id, step, owner),
            )
            return "done", left
        # The holder died before writing: take it over, unless someone else just did.
        taken = self._db.execute(
            "UPDATE dry_run_previews SET machine=?, owner=?, written=0, lease_until=? "
            "WHERE hub_id=? AND step=? AND owner=? AND written=0",
            (self.machine, self.owner, lease_until, hub_id, step, owner),
        ).rowcount
        return ("write", "") if taken == 1 else ("busy", "")

    def written(self, hub_id: str, step: int, file: str) -> None:
        self._db.execute(
            "UPDATE dry_run_previews SET written=1, file=? WHERE hub_id=? AND step=? AND owner=?",
            (file, hub_id, step, self.owner),
        )

    def close(self) -> None:
        self._db.close()


def _left_in_folder(machine: str, hub_id: str, step: int) -> str:
    """The preview file a dead holder left in its folder, when that folder is on this host
    (``machine`` is ``host:folder``); "" when there is none or it cannot be looked at."""
    host, _, folder = machine.partition(":")
    if host != socket.gethostname():
        return ""
    name = safe_file_name(f"{hub_id}-{step}")
    return name if (Path(folder) / name).exists() else ""


async def write_preview(
    path: Any, built: EmailMessage, hub_id: str, step: int, threading: Any
) -> str | None:
    """Write the preview of this step through ``path.mailer`` (the outbox folder), unless
    another machine's folder holds it: returns the file name, or None while another machine
    is writing it."""
    claims: PreviewClaims | None = path.previews
    if claims is not None:
        claim, file = await asyncio.to_thread(claims.claim, hub_id, step)
        if claim != "write":
            return file if claim == "done" else None

    def write_and_mark() -> str:
        # One hop for both: the window between the rename and the mark stays one round trip.
        sent = path.mailer.send(
            built,
            thread_id=threading.thread_id if threading else None,
            preview_name=f"{hub_id}-{step}",
        )
        if claims is not None:
            claims.written(hub_id, step, sent.provider_id)
        return sent.provider_id

    return await asyncio.to_thread(write_and_mark)
