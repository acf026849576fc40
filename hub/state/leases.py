"""Leases: who holds a job or a send intent, and whether that holder is certainly gone.

A lease is an owner id plus an expiry, written beside what it holds (``jobs.lease_owner`` /
``lease_expires``; ``send_intents.owner`` / ``lease_until``; ``dry_run_previews.owner``). The
owner id is ``host:pid:nonce``: host and pid let a lease left by a crashed process on this host
be taken over at once instead of only when it expires; the nonce tells apart holders in one
process (job runners, send paths), so a holder that stopped frees its leases at once even though
its process lives on (the CLI, tests). A holder on another host is trusted until its lease
expires: a pid means nothing on another machine.
"""

from __future__ import annotations

import contextlib
import os
import socket
import uuid

_HOST = socket.gethostname()
_LIVE_OWNERS: set[str] = set()  # owner ids of holders alive in this process


def new_owner() -> str:
    """A fresh owner id, live in this process until :func:`owner_stopped`."""
    owner = f"{_HOST}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
    owner_started(owner)
    return owner


def owner_started(owner: str) -> None:
    _LIVE_OWNERS.add(owner)


def owner_stopped(owner: str) -> None:
    _LIVE_OWNERS.discard(owner)


def pid_alive(pid: int) -> bool:
    """Is process ``pid`` on this host still running (a zombie is not)?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A killed child nobody reaped yet is a zombie: dead for our purposes.
    with contextlib.suppress(OSError), open(f"/proc/{pid}/stat") as handle:
        return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    return True


def _host_and_pid(owner: str) -> tuple[str, int] | None:
    """``host:pid:nonce``; also reads the send claims written before leases had one format
    (``pid:nonce@host``, and ``pid:nonce`` before that), which may still sit in a database."""
    if "@" in owner:
        claim, _, host = owner.rpartition("@")
        pid_text = claim.partition(":")[0]
    else:
        parts = owner.rsplit(":", 2)
        if len(parts) == 3:
            host, pid_text = parts[0], parts[1]
        elif len(parts) == 2 and parts[0].isdigit():
            host, pid_text = _HOST, parts[0]
        else:
            return None
    return (host, int(pid_text)) if pid_text.isdigit() else None


def owner_dead(owner: str | None) -> bool:
    """True when the lease holder is certainly gone: no owner, or one on this host whose process
    (or, in this process, whose holder) has ended. Holders on another host, and owner ids this
    cannot read, are trusted until their lease expires."""
    if not owner:
        return True
    found = _host_and_pid(owner)
    if found is None:
        return False
    host, pid = found
    if host != _HOST:
        return False
    if pid == os.getpid():
        return owner.count(":") == 2 and "@" not in owner and owner not in _LIVE_OWNERS
    return not pid_alive(pid)
