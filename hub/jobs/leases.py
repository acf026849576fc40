"""Who holds a job lease: the owner id a runner writes into the jobs table, and whether that
holder is certainly gone (so its lease can be taken over before it expires).

An owner id is ``host:pid:nonce``; the nonce tells apart runners in one process, so a runner
that stopped frees its jobs at once even though its process lives on (the CLI, tests).
"""

from __future__ import annotations

import contextlib
import os
import socket

_HOST = socket.gethostname()
# How long a job's lease lasts without a heartbeat; a runner beats every third of it (and
# records that it is alive: hub doctor warns when none has for this long).
LEASE_SECONDS = 30.0
_LIVE_RUNNERS: set[str] = set()  # nonces of runners alive in this process


def lease_owner(nonce: str) -> str:
    """The owner id a runner with this nonce holds its leases under."""
    return f"{_HOST}:{os.getpid()}:{nonce}"


def runner_started(nonce: str) -> None:
    _LIVE_RUNNERS.add(nonce)


def runner_stopped(nonce: str) -> None:
    _LIVE_RUNNERS.discard(nonce)


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


def owner_dead(owner: str) -> bool:
    """True when the lease holder is certainly gone (same host, process or runner ended).
    Holders on another host are trusted until their lease expires."""
    try:
        host, pid_text, nonce = owner.rsplit(":", 2)
        pid = int(pid_text)
    except ValueError:
        return False
    if host != _HOST:
        return False
    if pid == os.getpid():
        return nonce not in _LIVE_RUNNERS
    return not pid_alive(pid)
