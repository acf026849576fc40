"""Bench: Gmail quota units of one reply check, against polling every sent thread.

    .venv/bin/python bench/reply_check.py [--sent 10000] [--new 20] [--sample 200]

10,000 rows in ``sent`` with their threads in the Gmail v1 emulator's Sent mailbox; a first
check sets the mailbox cursor; then 20 replies arrive in 20 of those threads and the
check_replies job runs through the runner against the emulator with the real Gmail client.
The emulator meters Gmail's documented units (history.list 2, messages.get 5, threads.get 10,
...), so the figure is what Google would charge.

The per-thread approach (the old script's way: ``threads.get`` on every sent thread, every
check) is measured in the same run on a sample of threads with the same client and
extrapolated to all of them (at 10 units a call, 10,000 calls would take the whole quota for
almost 7 minutes, which is the point). Goal: the hub's check costs <= 5% of it.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from email.message import EmailMessage
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Row, Stopwatch, machine_note, run_as_script

from hub.app import build_services
from hub.config import Settings
from hub.jobs.runner import JobRunner
from sheets.local import LocalStore
from tests.emulators import gmail_messages as inbound
from tests.emulators.gmail import UNITS_PER_USER_PER_MINUTE, gmail_world

BENCH = "reply check"
ME = "me@artist.example"
GOAL_SHARE = 0.05


def sent_mailbox(gmail, store: LocalStore, n: int) -> tuple[dict[int, EmailMessage], list[str]]:
    originals, rows = inbound.sent_threads(gmail, n, sender=ME, last_sent="2026-03-01T10:00:00Z")
    threads = [row["gmail_thread_id"] for row in rows]
    store.append(rows, dedupe_by_domain=False)
    return originals, threads


def per_thread_units(mailer, gmail, threads: list[str]) -> int:
    """The old way on a sample: threads.get (metadata, From) on each sent thread."""
    gmail.reset_log()
    users = mailer._users  # the same google-api-python-client object the hub uses
    for thread_id in threads:
        users.threads().get(
            userId="me", id=thread_id, format="metadata", metadataHeaders=["From"]
        ).execute()
    return sum(gmail.units_by_method.values())


def main(argv: list[str] | None = None) -> list[Row]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sent", type=int, default=10_000)
    parser.add_argument("--new", type=int, default=20)
    parser.add_argument("--sample", type=int, default=200)
    args = parser.parse_args(argv)
    print(f"machine: {machine_note()}")
    with tempfile.TemporaryDirectory(prefix="bench-replies-") as tmp:
        base = Settings(_env_file=None, data_dir=Path(tmp), tick_minutes=0)
        with gmail_world(base) as world:
            gmail = world.gmail
            services = build_services(world.settings)
            try:
                originals, threads = sent_mailbox(gmail, services.store, args.sent)
                runner = JobRunner(services)
                first = asyncio.run(runner.run_inline("check_replies", {}))
                step = max(1, args.sent // args.new)
                replied = list(range(0, args.sent, step))[: args.new]
                for i in replied:
                    gmail.deliver(inbound.reply(originals[i], from_addr=f"editor@site{i}.example"))
                gmail.reset_log()
                watch = Stopwatch()
                job = asyncio.run(runner.run_inline("check_replies", {}))
                wall = watch.seconds
                units = sum(gmail.units_by_method.values())
                calls = dict(gmail.units_by_method)
                statuses = services.store.count_by_status()
                sample = threads[: args.sample]
                sample_units = per_thread_units(services.mailer, gmail, sample)
            finally:
                services.close()

    per_thread = sample_units / len(sample) * args.sent
    share = units / per_thread
    result = job.get("result") or {}
    print(f"first check (sets the cursor): {first.get('status')} {first.get('result')}")
    print(
        f"check with {args.new} new messages over {args.sent} sent rows: {job.get('status')}, "
        f"{result.get('new_messages')} new messages, {wall:.2f} s"
    )
    print(f"  units: {units} {calls}")
    print(f"  rows by status afterwards: {statuses}")
    print(
        f"per-thread approach: {sample_units} units for {len(sample)} threads.get -> "
        f"{per_thread:.0f} units for {args.sent} threads "
        f"({per_thread / UNITS_PER_USER_PER_MINUTE:.1f} min of the whole per-minute quota)"
    )
    print(f"hub check / per-thread polling : {share:.4f} ({share:.2%})   (goal <= 5%)")
    ok = share <= GOAL_SHARE and statuses.get("replied", 0) == args.new
    return [
        Row(BENCH, f"units per check ({args.new} new, {args.sent:,} sent)", str(units)),
        Row(BENCH, "per-thread polling units", f"{per_thread:.0f}"),
        Row(BENCH, "hub / per-thread units", f"{share:.2%}", "<= 5%", ok),
    ]


if __name__ == "__main__":
    run_as_script(main)
