"""Who holds a send claim, and whether that holder still lives.

A claim on a ledger intent is an ``owner`` string plus a lease (``send_intents.owner`` /
``lease_until``). The owner names its process, so a claim left behind by a crashed process
can be taken over at once instead of only when its lease runs out.
"""

from __future__ import annotations

import os
import uuid

from hub.jobs.leases import pid_alive

# A claim outlives a crash only until this passes, or at once when its process is gone.
DEFAULT_LEASE_SECONDS = 15 * 60


def new_owner() -> str:
    """``<pid>:<random>``: unique per job, and tells whether its process still lives."""
    return f"{os.getpid()}:{uuid.uuid4().hex[:12]}"


def owner_alive(owner: str | None) -> bool:
    if not owner:
        return False
    pid_text = owner.split(":", 1)[0]
    return pid_text.isdigit() and pid_alive(int(pid_text))
