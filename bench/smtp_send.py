"""Bench: 300 sends over SMTP at gap 0 -- the hub's wall time against the server's own time.

    .venv/bin/python bench/smtp_send.py [--rows 300] [--latency 0.05]

The send job runs end to end (local store, durable ledger, smtplib) against the aiosmtpd
stand-in, which spends ``--latency`` seconds on each message before it answers DATA (what a
real server does with a message). The server alone needs latency x rows; the goal is a wall
time of at most 1.15 times that: the hub's own work per message (ledger commits, building and
signing the message, the SMTP commands, chunked sheet writes) hides behind the server's.

The stand-in reports two server times: the seconds it spends answering DATA (its latency as
it really came out: the goal's "time the server itself needs") and its whole transactions,
MAIL FROM to the final reply, which add its own protocol work (aiosmtpd, Python, parsing
each command) and the client's turn-arounds: wall / that time shows how much of the gap is
the hub's.

Measured in the same run, side by side:
- ``imap_append_sent = false`` (the server files sent mail itself, like Gmail and Microsoft
  365): the SMTP path alone -- the goal applies here;
- ``imap_append_sent = true``: the hub also files a pending copy in Sent on dovecot before each
  message and confirms it after (two IMAP round trips a message), shown for context.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, Row, Stopwatch, machine_note, run_as_script

from hub.config import Settings
from hub.mail.factory import build_mailer
from hub.services import Services
from hub.stages.send import run_send
from sheets.local import LocalStore
from tests.emulators.dovecot import available, running_dovecot
from tests.helpers_send_crash import add_rows, real_send_settings

BENCH = "smtp send"
GOAL = 1.15
ME = "ada@artist.example"
USERS = {"ada": "smtp-secret"}


@contextlib.contextmanager
def smtp_server(latency: float) -> Iterator[tuple[int, list[dict]]]:
    """The SMTP stand-in in a process of its own, as a real server would be (in this one, its
    Python work would compete with the hub's for the interpreter lock). Yields its port and a
    list that holds what it reports once the block is left: the messages it accepted and the
    seconds it spent answering DATA (its latency as it really came out on this machine)."""
    command = [sys.executable, "-m", "tests.emulators.smtp", json.dumps(USERS), str(latency)]
    proc = subprocess.Popen(
        command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    accepted: list[dict] = []
    try:
        ready = proc.stdout.readline().split()  # blocks until the server answers
        assert ready and ready[0] == "READY", ready
        yield int(ready[1]), accepted
    finally:
        out, _ = proc.communicate("", timeout=30)
        accepted.append(json.loads(out.strip().splitlines()[-1]))


def one_run(rows: int, latency: float, *, append: bool, imap) -> tuple[float, dict]:
    """Seconds for the send job to send ``rows`` messages, and the server's report."""
    with (
        tempfile.TemporaryDirectory(prefix="bench-smtp-") as tmp,
        smtp_server(latency) as (
            port,
            accepted,
        ),
    ):
        values = real_send_settings() | {
            "mailer": "smtp",
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_security": "none",
            "smtp_username": "ada",
            "smtp_password": "smtp-secret",
            "smtp_from": f"Ada Artist <{ME}>",
            "imap_host": imap.host if imap else "127.0.0.1",
            "imap_port": imap.port if imap else 1,
            "imap_security": "none",
            "imap_username": ME,
            "imap_password": "imap-secret",
            "imap_append_sent": append,
        }
        settings = Settings(_env_file=None, data_dir=Path(tmp), **values)
        store = LocalStore(settings.local_store_path)
        store.ensure_schema()
        add_rows(store, rows)
        services = Services(settings, store, mailer=build_mailer(settings))
        try:
            watch = Stopwatch()
            summary = asyncio.run(run_send(services, {}))
            seconds = watch.seconds
        finally:
            services.close()
        assert summary.get("sent") == rows, summary
    return seconds, accepted[0]


def main(argv: list[str] | None = None) -> list[Row]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=300)
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args(argv)
    print(f"machine: {machine_note()}")
    nominal = args.latency * args.rows
    plain, report = one_run(args.rows, args.latency, append=False, imap=None)
    server = report["busy_seconds"]
    with_append = None
    if available():
        with running_dovecot({ME: "imap-secret"}) as imap:
            with_append, appended = one_run(args.rows, args.latency, append=True, imap=imap)
    ratio = plain / server
    whole = report["transaction_seconds"]
    print(
        f"{args.rows} sends at {args.latency * 1000:.0f} ms a message: {nominal:.2f} s nominal; "
        f"the server measured {server:.2f} s answering DATA, {whole:.2f} s in whole "
        f"transactions (MAIL FROM to the final reply: + its own protocol work, in Python)"
    )
    print(f"  imap_append_sent=false: wall {plain:.2f} s, {report['delivered']} reached")
    print(f"  wall / nominal server time: {plain / nominal:.3f}x")
    if with_append is not None:
        print(f"  imap_append_sent=true (hub APPENDs to dovecot): wall {with_append:.2f} s, "
              f"{with_append / appended['busy_seconds']:.3f}x its server time")  # fmt: skip
    print(f"  wall / server's whole transactions: {plain / whole:.3f}x "
          f"(the hub's own share, the stand-in's protocol work taken out)")  # fmt: skip
    print(f"hub wall time / server time : {ratio:.3f}x   (goal <= {GOAL}x)")
    rows = [
        Row(BENCH, f"server time ({args.rows} x {args.latency * 1000:.0f} ms)", f"{server:.2f} s"),
        Row(BENCH, "wall / nominal latency x n", f"{plain / nominal:.3f}x"),
        Row(BENCH, "wall / server's whole transactions (MAIL..reply)", f"{plain / whole:.3f}x"),
    ]
    if with_append is not None:
        share = with_append / appended["busy_seconds"]
        rows.append(Row(BENCH, "wall / server, hub APPENDs to Sent", f"{share:.3f}x"))
    rows.append(
        Row(BENCH, "wall / server (SMTP, gap 0)", f"{ratio:.3f}x", f"<= {GOAL}x", ratio <= GOAL)
    )
    return rows


if __name__ == "__main__":
    run_as_script(main)
