"""The tables other modules keep in the hub's database (the send ledger and its claims, the
suppression list, DataForSEO task records, the reply-check cursor): one contract, run on SQLite
(the embedded default) and on PostgreSQL (``HUB_DATABASE_URL``).

Two objects opened from the same settings stand for two hub processes.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from hub.config import Settings
from hub.discovery.tasks import Counts, TaskBook, task_book
from hub.replies.inbound import MailboxCursor
from hub.sending.ledger import Ledger
from hub.sending.suppression import Suppression
from hub.services import Services
from hub.state.leases import new_owner, owner_dead
from hub.state.pools import close_pools
from tests.emulators.serve import wait_until

ELSEWHERE = "another-machine:4242:abc"  # a claim held by a live process on another host


@pytest.fixture(params=["sqlite", "postgres"])
def settings(request, tmp_path):
    extra = {}
    if request.param == "postgres":
        extra = {"database_url": request.getfixturevalue("postgres_dsn")}
    yield Settings(data_dir=tmp_path / "data", **extra)
    close_pools()


def plan(ledger, owner, *, hub_id="h1", step=0, now=1000.0):
    return ledger.plan(
        hub_id=hub_id, step=step, message_id=f"<{hub_id}.{step}@hub>", recipient="ed@site.example",
        subject="Hello", body="Hi", owner=owner, now=now,
    )  # fmt: skip


def test_owners_name_their_host_and_another_hosts_lease_is_trusted():
    assert not owner_dead(new_owner())
    assert not owner_dead(ELSEWHERE)  # its pid means nothing here: only its lease can tell
    assert owner_dead("999999999:dead")  # an old-style owner whose process is gone
    assert not owner_dead("4242:abc@another-machine")  # a claim written before issue 18


def test_an_intent_is_planned_once_and_held_by_its_owner(settings):
    first, second = Ledger.from_settings(settings), Ledger.from_settings(settings)
    intent = plan(first, ELSEWHERE)
    assert (intent.owner, intent.recipient_domain, intent.attempted_at) == (
        ELSEWHERE, "site.example", None,
    )  # fmt: skip
    assert plan(second, new_owner()) is None  # a live lease elsewhere
    taken = plan(second, "me", now=1000.0 + 16 * 60)  # the lease (15 min) ran out
    assert taken.owner == "me" and taken.message_id == intent.message_id
    assert second.mark_attempt("h1", 0, "me", now=2000.0)
    assert not first.mark_attempt("h1", 0, ELSEWHERE)  # no longer the holder
    assert first.sends_since(0) == [2000.0]  # an attempted intent counts against the caps
    record = second.record_sent(taken, provider_id="p1", thread_id="t1", now=2001.0)
    assert first.sent("h1", 0) == record and first.intent("h1", 0) is None
    assert plan(first, "someone") is None  # sent: never planned again
    assert first.count() == 1 and first.recipients("h1") == {"ed@site.example"}
    assert [r.step for r in second.history("h1")] == [0]


def test_concurrent_plans_from_two_processes_give_the_step_to_one(settings):
    ledgers = [Ledger.from_settings(settings), Ledger.from_settings(settings)]

    def attempt(index):
        return plan(ledgers[index % 2], f"{index}:x@host-{index}")

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(attempt, range(16)))
    assert sum(o is not None for o in outcomes) == 1


def test_release_and_release_owner(settings):
    ledger = Ledger.from_settings(settings)
    plan(ledger, "me", step=0)
    plan(ledger, "me", step=1)
    ledger.mark_attempt("h1", 1, "me", now=1001.0)
    ledger.release("h1", 0, "me", not_sent=True)
    assert ledger.intent("h1", 0) is None
    ledger.release_owner("me")
    kept = ledger.intent("h1", 1)  # attempted: kept, unclaimed, for reconciliation
    assert kept is not None and kept.owner is None


def test_suppression_is_shared_and_keeps_the_first_reason(settings):
    first, second = Suppression(settings), Suppression(settings)
    first.add(" Grace@Gallery.example ", "unsubscribed")
    second.add("grace@gallery.example", "bounced")
    assert second.reason_for("GRACE@gallery.example") == "unsubscribed"
    assert first.entries() == [("grace@gallery.example", "unsubscribed")]


def test_task_records_are_written_once_and_a_job_finished_once(settings, local_store):
    services = [Services(settings=settings, store=local_store) for _ in range(2)]
    first, second = task_book(services[0]), task_book(services[1])
    first.record_job("j1", {"keywords": ["a"]})
    assert second.job_params("j1") == {"keywords": ["a"]}
    assert first.record_task("t1", "j1", "gallery", "Paris")
    assert not second.record_task("t1", "j1", "other", "Lyon")  # the first record stands
    second.record_task("t2", "j1", "", "")
    first.fill_query("t2", "museum", "Rome")
    assert [t.keyword for t in second.job_tasks("j1")] == ["gallery", "museum"]
    assert second.overdue(0, now=10**12)[0].task_id in ("t1", "t2")
    assert first.mark_done("t1", Counts(found=3, added=2))
    assert not second.mark_done("t1", Counts())
    assert not first.claim_finish("j1")  # t2 still open
    assert second.mark_failed("t2", "no results")
    assert first.unfinished_jobs_without_open_tasks() == ["j1"]
    assert [first.claim_finish("j1"), second.claim_finish("j1")] == [True, False]
    assert first.get("t1").added == 2 and second.open_tasks("j1") == 0


def test_the_task_lock_excludes_other_processes(settings, tmp_path):
    if not settings.uses_postgres:
        pytest.skip("SQLite's task file has one writer process: the lock is in-process")
    first, second = [TaskBook(_database(settings)) for _ in range(2)]
    entered, release, order = threading.Event(), threading.Event(), []

    def hold():
        with first.lock:
            order.append("first in")
            entered.set()
            release.wait(10)
            order.append("first out")

    holder = threading.Thread(target=hold)
    holder.start()
    assert entered.wait(10)

    def wait_then_enter():
        with second.lock:
            order.append("second in")

    waiter = threading.Thread(target=wait_then_enter)
    waiter.start()
    # The second process is queued on the advisory lock (PostgreSQL says so), not let in.
    wait_until(lambda: _advisory_waiters(settings) == 1, what="the second process waiting")
    assert order == ["first in"]
    release.set()
    holder.join(10)
    waiter.join(10)
    assert order == ["first in", "first out", "second in"]


def _advisory_waiters(settings) -> int:
    with psycopg.connect(settings.database_url.get_secret_value()) as conn:
        (count,) = conn.execute(
            "SELECT COUNT(*) FROM pg_locks WHERE locktype='advisory' AND NOT granted"
        ).fetchone()
    return count


def _database(settings):
    from hub.state.database import open_database

    return open_database(settings)


def test_the_reply_cursor_is_shared(settings):
    MailboxCursor.from_settings(settings).set("gmail:me", "h-100")
    other = MailboxCursor.from_settings(settings)
    assert other.get("gmail:me") == "h-100" and other.get("imap:x") is None
    other.set("gmail:me", "h-200")
    assert MailboxCursor.from_settings(settings).get("gmail:me") == "h-200"


def test_row_history_is_shared(settings):
    from hub.rows.history import RowHistory

    RowHistory.from_settings(settings).record({"h1": {"approved": ("", "TRUE")}}, "cli", at=1.0)
    other = RowHistory.from_settings(settings)
    other.record({"h1": {"draft_subject": ("Hi", "Hello")}, "h2": {"notes": ("", "x")}}, "api:ab")
    changes = RowHistory.from_settings(settings).for_row("h1")
    assert [(c.column, c.before, c.after, c.actor) for c in changes] == [
        ("draft_subject", "Hi", "Hello", "api:ab"),
        ("approved", "", "TRUE", "cli"),
    ]  # newest first, from either process
