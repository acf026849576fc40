"""In-process change listeners: loops that wake at once when a job is queued or an event added,
instead of waiting for their next poll. Both state backends call them after their commits; the
PostgreSQL one also forwards changes made by other processes (LISTEN/NOTIFY)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

TypedListener = Callable[[str, frozenset[str] | None], None]


class ChangeListeners:
    def _init_listeners(self) -> None:
        self._listeners: list[Callable[[str], None]] = []
        self._typed_listeners: list[TypedListener] = []
        self._cancel_listeners: list[Callable[[str], None]] = []

    def on_change(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(kind)`` after a job is queued ("job") or an event added ("event"),
        so loops wake at once instead of waiting for their next poll."""
        self._listeners.append(listener)

    def on_change_typed(self, listener: TypedListener) -> None:
        """Like :meth:`on_change`, with the job types concerned: ``listener("job", types)``
        when only jobs of ``types`` were queued, ``None`` when any job may have changed (one
        finished, was released, cancelled...). The runner uses it to skip a dispatch that
        could start nothing (under webhook load: every group commit)."""
        self._typed_listeners.append(listener)

    def on_cancel(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(job_id)`` when a cancel of a running job was requested (from this
        process, or, on PostgreSQL, from any other)."""
        self._cancel_listeners.append(listener)

    def _notify_local(self, kind: str, job_types: frozenset[str] | None = None) -> None:
        for listener in list(self._listeners):
            with contextlib.suppress(Exception):
                listener(kind)
        for typed in list(self._typed_listeners):
            with contextlib.suppress(Exception):
                typed(kind, job_types)

    def _notify_cancel_local(self, job_id: str) -> None:
        for listener in list(self._cancel_listeners):
            with contextlib.suppress(Exception):
                listener(job_id)

    def _notify(self, kind: str, job_types: frozenset[str] | None = None) -> None:
        self._notify_local(kind, job_types)

    def _notify_cancel(self, job_id: str) -> None:
        self._notify_cancel_local(job_id)
