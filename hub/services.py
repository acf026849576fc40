"""Everything a stage or route needs, built once from settings in one place.

Each role has a real client and an embedded default (DESIGN.md §6); the builders below pick
one from the settings, so the same stage code runs either way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hub.config import Settings
from sheets.local import LocalStore
from sheets.store import ProspectStore


def build_store(settings: Settings) -> ProspectStore:
    """The Google Sheet when ``HUB_SHEET_ID`` is set, else the local store: in PostgreSQL
    when ``HUB_DATABASE_URL`` is set (shared by every process), else in SQLite."""
    if settings.uses_google_sheet:
        from sheets.google import GoogleSheetStore

        return GoogleSheetStore.from_settings(settings)
    if settings.uses_postgres:
        from sheets.postgres import PostgresStore

        return PostgresStore(settings.database_url.get_secret_value())
    return LocalStore(settings.local_store_path)


@dataclass
class Services:
    settings: Settings
    store: ProspectStore
    # Filled by the provider modules' builders (see build_services); None = not available.
    # jobs, inbox, outbox (durable): hub.state.sqlite.State or hub.state.postgres.PostgresState
    state: Any = None
    runner: Any = None  # hub.jobs.runner.JobRunner, set by the app (or the CLI) once state exists
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


def build_services(
    settings: Settings, *, store: ProspectStore | None = None, listen: bool = True
) -> Services:
    """``listen=False`` for a process that runs no jobs (see ``hub.state.factory``)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    services = Services(settings=settings, store=store or build_store(settings))
    from hub.state.factory import open_state  # jobs, inbox, events: durable

    services.state = open_state(settings, listen=listen)
    from hub.mail.factory import build_mailer

    services.mailer = build_mailer(settings)
    from hub.drafting.factory import build_drafter

    services.drafter = build_drafter(settings)
    from hub.enrich import build_enricher
    from hub.providers.dataforseo import build_serp

    services.serp = build_serp(settings)
    services.enricher = build_enricher(settings)
    return services
