"""The whole pipeline run through the real job runner over rows from ``tests/hostile.py``,
and the invariants every run must keep (no preview to a bad address, no injected header, no
person's cell changed, every row reaches the outbox or says why)."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import getaddresses
from pathlib import Path
from typing import Any

from hub.app import build_services
from hub.config import Settings
from hub.jobs.runner import JobRunner
from sheets.cells import BadCell, normalize_email
from sheets.columns import HUB_COLUMNS, HUMAN_TERMINAL_STATUSES, Row
from sheets.local import LocalStore
from tests.emulators.hunter import API_KEY, HunterEmulator
from tests.emulators.serve import serve_in_thread
from tests.store_contract import GoogleHarness, google_sheet_env

# Every stage a job can run over rows (discover needs a SERP provider: tested on its own).
ROW_STAGES = ("enrich", "score", "draft", "send", "followup", "check_replies")


# --- running the pipeline -------------------------------------------------------------------
@dataclass
class World:
    """Hunter's emulator behind a served port (the enricher's provider in every run)."""

    hunter: HunterEmulator
    url: str

    def settings(self, data_dir: Path, **overrides: Any) -> Settings:
        return Settings(_env_file=None, **self.values(data_dir, **overrides))

    def values(self, data_dir: Path, **overrides: Any) -> dict[str, Any]:
        values: dict[str, Any] = {
            "data_dir": data_dir,
            "hunter_api_key": API_KEY,
            "hunter_api_url": self.url,
            "hunter_rate_per_second": 1000,
            "require_approval": False,
            "sender_name": "Ada",  # the template needs it; rows, not settings, are fuzzed
            "sender_address": "1 Art Lane, Paris",
            "send_gap_seconds": "0",
            "tick_minutes": 0,
        }
        values.update(overrides)
        return values


@contextlib.contextmanager
def hunter_world() -> Iterator[World]:
    hunter = HunterEmulator(per_second=100_000, per_minute=10_000_000)
    with serve_in_thread(hunter.app) as server:
        yield World(hunter, server.url + "/v2")


async def run_stages(settings: Settings, store=None, stages=ROW_STAGES) -> list[dict[str, Any]]:
    """Every stage once, in order, each a real job through the runner; the finished jobs."""
    services = build_services(settings, store=store)
    try:
        runner = JobRunner(services, poll_interval=0.01)
        services.runner = runner
        return [await runner.run_inline(stage, {}) for stage in stages]
    finally:
        if hasattr(services.enricher, "aclose"):
            await services.enricher.aclose()
        services.close()


# --- what must hold after any run -----------------------------------------------------------
ALLOWED_HEADERS = {
    "from",
    "to",
    "subject",
    "date",
    "message-id",
    "in-reply-to",
    "references",
    "list-unsubscribe",
    "list-unsubscribe-post",
    "content-type",
    "content-transfer-encoding",
    "mime-version",
    "x-hub-preview",
}


@dataclass
class Verdict:
    problems: list[str] = field(default_factory=list)
    sent_to: dict[str, str] = field(default_factory=dict)  # hub_id -> To of its preview

    def check(self, ok: bool, what: str) -> None:
        if not ok:
            self.problems.append(what)


def check_outbox(outbox: Path, verdict: Verdict) -> None:
    """Every preview goes to one valid, normalised mailbox, with no injected header."""
    for path in sorted(outbox.glob("*.eml")) if outbox.exists() else []:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        names = {name.lower() for name in message}
        verdict.check(names <= ALLOWED_HEADERS, f"{path.name}: unexpected headers {names}")
        to = getaddresses(message.get_all("To", []))
        verdict.check(len(to) == 1, f"{path.name}: To holds {len(to)} addresses")
        address = to[0][1] if to else ""
        try:
            verdict.check(normalize_email(address) == address, f"{path.name}: To not normalised")
        except BadCell as exc:
            verdict.problems.append(f"{path.name}: To {address!r} is not a mailbox: {exc}")
        subject = str(message.get("Subject", ""))
        verdict.check("\n" not in subject and "\r" not in subject, f"{path.name}: subject breaks")
        verdict.sent_to[path.stem.rsplit("-", 1)[0]] = address


def _valid(address: str) -> bool:
    try:
        normalize_email(address)
    except BadCell:
        return False
    return True


def check_rows(before: dict[str, Row], after: dict[str, Row], verdict: Verdict) -> None:
    """No person's cell changed; every row either reached the outbox or says why; a bad
    hand-typed address is named as such."""
    for hub_id, old in before.items():
        new = after.get(hub_id)
        if new is None:
            verdict.problems.append(f"{hub_id}: row vanished")
            continue
        for name in ("notes", "approved"):
            verdict.check(
                (old.get(name) or "") == (new.get(name) or ""), f"{hub_id}: {name} changed"
            )
        for name in ("contact_email", "draft_subject", "draft_body"):
            if (old.get(name) or "").strip():
                verdict.check(old[name] == new.get(name), f"{hub_id}: person's {name} changed")
        status = (new.get("outreach_status") or "").strip().lower()
        reason = (new.get("hold_reason") or "") + (new.get("last_error") or "")
        if hub_id in verdict.sent_to:
            continue
        verdict.check(
            bool(reason.strip()) or status in HUMAN_TERMINAL_STATUSES,
            f"{hub_id}: stopped at {status!r} with no reason",
        )
        typed = old.get("contact_email") or ""
        if typed.strip() and not _valid(typed) and status not in HUMAN_TERMINAL_STATUSES:
            verdict.check(
                "contact_email" in (new.get("hold_reason") or ""),
                f"{hub_id}: bad contact_email {typed[:40]!r} held without naming the column",
            )
    for hub_id in verdict.sent_to:
        typed = (before.get(hub_id, {}).get("contact_email") or "").strip()
        if typed:
            verdict.check(_valid(typed), f"{hub_id}: a preview went to bad address {typed!r}")


def check_jobs(jobs: list[dict[str, Any]], verdict: Verdict) -> None:
    for job in jobs:
        verdict.check(
            job.get("status") == "completed",
            f"{job.get('job_type')} job {job.get('status')}: {job.get('error')}",
        )


def _verdict(jobs, before: dict[str, Row], after: dict[str, Row], outbox: Path) -> Verdict:
    verdict = Verdict()
    check_jobs(jobs, verdict)
    check_outbox(outbox, verdict)
    check_rows(before, after, verdict)
    return verdict


def run_local(world: World, data_dir: Path, rows: list[dict[str, str]]):
    """Rows appended as the API or a webhook would, on the local store, then every stage:
    ``(verdict, rows after)``."""
    store = LocalStore(data_dir / "prospects.sqlite3")
    store.ensure_schema()
    store.append(rows)
    before = {row["hub_id"]: row for row in store.rows()}
    store.close()
    settings = world.settings(data_dir)
    jobs = asyncio.run(run_stages(settings))
    store = LocalStore(data_dir / "prospects.sqlite3")
    after = {row["hub_id"]: row for row in store.rows()}
    store.close()
    return _verdict(jobs, before, after, settings.outbox_dir), after


def run_google(world: World, servers, data_dir: Path, rows: list[dict[str, str]]):
    """Rows typed into the Google Sheet by a person (no hub_id: the hub gives them one), then
    every stage: ``(verdict, rows after)``."""
    header = ["notes", *HUB_COLUMNS]
    grid = [header] + [[row.get(name, "") for name in header] for row in rows]
    with google_sheet_env(data_dir, grid, servers=servers) as env:
        harness = GoogleHarness(env)
        harness.store.ensure_schema()
        before = {row["hub_id"]: row for row in harness.store.rows()}
        settings = env.settings(**world.values(data_dir))
        jobs = asyncio.run(run_stages(settings, store=harness.store))
        after = {row["hub_id"]: row for row in harness.store.rows()}
    return _verdict(jobs, before, after, settings.outbox_dir), after
