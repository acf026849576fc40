"""Everything a stage or route needs: the settings, the prospect store, the durable state and
one client per provider role.

A plain container: the composition root (:func:`hub.app.build_services`) fills it from the
settings, picking a real client or the embedded default for each role (DESIGN.md §6), so the
same stage code runs either way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from hub.config import Settings
from sheets.store import ProspectStore


class JobQueue(Protocol):
    """What code below the jobs layer may ask of the job runner (:class:`hub.jobs.runner.
    JobRunner`). It is handed over as ``services.runner`` or an argument, never imported: a
    stage chaining work, the tick queueing jobs, a DataForSEO callback ending its job."""

    @property
    def dispatching(self) -> bool: ...  # started: it takes queued jobs (the CLI runs one inline)

    async def submit(
        self,
        job_type: str,
        params: dict[str, Any] | None = None,
        *,
        source: str = "api",
        parent_id: str | None = None,
    ) -> str: ...

    async def finish_job(
        self, job_id: str, result: dict[str, Any] | None, *, error: str | None = None
    ) -> bool: ...


@dataclass
class Services:
    settings: Settings
    store: ProspectStore
    # Filled by hub.app.build_services from the provider modules' builders; None = not there.
    # jobs, inbox, outbound events (durable): hub.state.sqlite.State or hub.state.postgres.PostgresState
    state: Any = None
    runner: JobQueue | None = None  # the JobRunner, set by the app (or the CLI) once state exists
    serp: Any = None  # discovery client (DataForSEO), None = import-only
    enricher: Any = None  # Hunter, or the site crawler
    drafter: Any = None  # Gemini, or templates
    mailer: Any = None  # Gmail, or the outbox folder
    extras: dict[str, Any] = field(default_factory=dict)

    def close(self) -> None:
        for part in (self.mailer, self.enricher, self.serp, self.drafter, self.state):
            closer = getattr(part, "close", None)
            if callable(closer):
                closer()
        self.store.close()

    def providers(self) -> dict[str, str]:
        """Which implementation serves each role (for doctor and the status page)."""

        def name(part: Any, default: str) -> str:
            return getattr(part, "provider_name", None) or default

        return {
            "store": self.store.backend_name,
            "discovery": name(self.serp, "import only"),
            "enrichment": name(self.enricher, "none"),
            "drafting": name(self.drafter, "none"),
            "sending": name(self.mailer, "none"),
        }
