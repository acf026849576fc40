"""Wake-ups across processes: ``NOTIFY`` on one channel, one ``LISTEN`` connection per process.

A payload is ``<sender token>|<kind>[|name,name...]``: kind ``job`` (with the job types queued,
or none when any job may have changed), ``event``, or ``cancel`` (with the job id). A process
ignores its own notifications (it already told its listeners). A notification is a wake-up,
never the only record: the state is in the tables, and the runner still looks now and then, so
one lost while the listening connection reconnects costs a delay, not a job.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable

import psycopg

CHANNEL = "hub_changes"
log = logging.getLogger("hub.state.notify")


def encode(kind: str, names: list[str] | None) -> str:
    return kind if names is None else f"{kind}|{','.join(names)}"


def decode(payload: str) -> tuple[str, str, list[str] | None]:
    """(sender token, kind, names or None)."""
    token, _, rest = payload.partition("|")
    kind, sep, names = rest.partition("|")
    return token, kind, (names.split(",") if names else []) if sep else None


class ChangeListener:
    """A daemon thread that LISTENs and calls ``on_change(kind, names)`` for notifications
    sent by other processes. Reconnects after an error until :meth:`stop`."""

    def __init__(self, dsn: str, on_change: Callable[[str, list[str] | None], None]):
        self.token = uuid.uuid4().hex[:12]
        self._dsn = dsn
        self._on_change = on_change
        self._stop = threading.Event()
        self._listening = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hub-state-listen", daemon=True)
        self._thread.start()

    def wait_listening(self, timeout: float) -> bool:
        """True once the LISTEN is in place (tests wait for it before notifying)."""
        return self._listening.wait(timeout)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._dsn, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._listening.set()
                    while not self._stop.is_set():
                        # timeout: come back now and then to see whether we must stop
                        for note in conn.notifies(timeout=0.5):
                            self._deliver(note.payload)
            except Exception as exc:
                self._listening.clear()
                log.warning("LISTEN %s lost (%s); reconnecting", CHANNEL, type(exc).__name__)
                self._stop.wait(1.0)  # back off before reconnecting (or return when stopped)

    def _deliver(self, payload: str) -> None:
        token, kind, names = decode(payload)
        if token == self.token:
            return
        try:
            self._on_change(kind, names)
        except Exception:
            log.exception("a change listener failed")
