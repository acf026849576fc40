"""Who holds a send claim, and whether that holder still lives.

A claim on a ledger intent is an ``owner`` string plus a lease (``send_intents.owner`` /
``lease_until``). The owner names its host and process, so a claim left behind by a crashed
process on this host can be taken over at once instead of only when its lease runs out. A claim
held on another host (hubs sharing PostgreSQL) is trusted until its lease runs out: a pid means
nothing on another machine.
"""

from __future__ import annotations

import os
import socket
import uuid

from hub.jobs.leases import pid_alive

_HOST = socket.gethostname()

# A claim outlives a crash only until this passes, or at once when its process is gone.
DEFAULT_LEASE_SECONDS = 15 * 60


def new_owner() -> str:
    """``<pid>:<random>@<host>``: unique per job, and tells whether its process still lives."""
    return f"{os.getpid()}:{uuid.uuid4().hex[:12]}@{_HOST}"


def owner_alive(owner: str | None) -> bool:
    if not owner:
        return False
    claim, _, host = owner.partition("@")
    if host and host != _HOST:
        return True  # another machine's process: only its lease can tell
    pid_text = claim.split(":", 1)[0]
    return pid_text.isdigit() and pid_alive(int(pid_text))
