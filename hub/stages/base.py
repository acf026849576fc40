"""The contract between the job runner and a pipeline stage.

A stage is an async function ``(ctx: StageContext) -> StageResult`` registered under a job
type in :mod:`hub.stages.registry`. It reads the rows eligible for it from ``ctx.services.store``, works in
chunks, writes each chunk back in one batched ``store.update`` and reports progress. It must be
**idempotent by row state**: a second run over the same rows changes nothing, which is what
lets the runner simply run unfinished jobs again after a restart.

Per-row work goes through ``ctx.rows`` (:class:`hub.stages.row_errors.RowGuard`): an unexpected
exception on one row holds that row (``ERROR:<stage> <type>``) and the stage goes on; the job's
summary counts those rows under ``errors``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from hub.services import Services
from hub.stages.row_errors import RowGuard


class JobCancelled(Exception):
    """Raised by :meth:`StageContext.check_cancelled` so a stage stops between chunks."""


@dataclass
class StageContext:
    job_id: str
    job_type: str
    params: dict[str, Any]
    services: Services
    # processed, total: the runner stores them on the job (the status page shows them live)
    report_progress: Callable[[int, int], None] = lambda processed, total: None
    is_cancelled: Callable[[], bool] = lambda: False
    # outbound event (job.completed, prospect.replied, ...) into the durable event queue
    emit: Callable[[str, dict[str, Any]], None] = lambda event_type, payload: None
    _rows: RowGuard | None = field(default=None, repr=False)

    @property
    def rows(self) -> RowGuard:
        """This job's per-row error boundary (one per job: it counts the rows it caught)."""
        if self._rows is None:
            self._rows = RowGuard.for_settings(self.job_type, self.settings)
        return self._rows

    @property
    def settings(self):
        return self.services.settings

    @property
    def store(self):
        return self.services.store

    def check_cancelled(self) -> None:
        if self.is_cancelled():
            raise JobCancelled(self.job_id)


@dataclass
class StageResult:
    """What a stage returns; ``summary`` becomes the job's result (JSON)."""

    summary: dict[str, Any] = field(default_factory=dict)
    # True when the work continues elsewhere (DataForSEO callbacks): the job stays running
    # until the callback/recovery code calls the runner's ``finish_job``.
    waiting: bool = False
    # False stops the automatic chain (discover -> enrich -> score -> draft -> send).
    chain: bool = True


@dataclass
class ChainTo(StageResult):
    """A result that names its successor explicitly (``row_changed`` -> that row's stage)."""

    next_job: tuple[str, dict[str, Any]] | None = None
    summary: dict[str, Any] = field(default_factory=dict)


StageFn = Callable[[StageContext], Awaitable[StageResult]]
