"""Bench: how close the provider-bound stages get to the providers' limits.

    .venv/bin/python bench/provider_throughput.py [--sends 284] [--skip-hunter]

Gmail sending: the real send job (``JobRunner.run_inline("send")``: ledger intents, the sheet
writes, the real Gmail client, google-api-python-client) against the Gmail v1 emulator, which
meters quota units per user per minute as Gmail documents them (15,000 units/min; a send costs
100, so at most 150 sends/min) and refuses above that (Gmail's documented 403
userRateLimitExceeded, the retry time in its message). HUB_SEND_GAP_SECONDS=0, caps out of
the way, the local store. Neither the client's limiter nor the emulator has a compressible
clock, so this takes real time.

The lower bound: the quota is a sliding window (the emulator's, and Google's "per user per
minute"): 15,000 units may go at once, the next 15,000 only when the first have left the window
60 s later, and so on. So U units cannot all be spent before floor((U - 1) / 15,000) x 60 s.
A send costs 105 units here (send 100 + the messages.get that reads the thread id back), so
284 sends (29,820 units) fit two windows: the bound is 60 s. Printed last: wall time / lower
bound (goal <= 1.15); also the rate-limit refusals the emulator served (goal 0: the hub should
pace itself).

The client's limiter (``hub/mail/gmail_quota.py``) is a sliding 60 s window in units, like the
provider's: a call's units count until it is answered, then for a full window. So the first
15,000 units go at once and the rest a window after their answers, and nothing is refused.

Hunter enrichment: bench/enrich_hunter.py (run as a subprocess, its figures are read from its
output): the whole enrich job's wall time / ideal time at the rate limit (see its docstring for
what the wall time covers).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, Row, Stopwatch, machine_note, run_as_script

from hub.app import build_services
from hub.config import Settings
from hub.jobs.runner import JobRunner
from tests.emulators.gmail import UNITS_PER_USER_PER_MINUTE
from tests.helpers_send_crash import add_rows, gmail_world, sent_recipients

BENCH = "provider throughput"
UNITS_PER_SECOND = UNITS_PER_USER_PER_MINUTE / 60


def gmail_sending(sends: int) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="bench-gmail-") as tmp, gmail_world() as world:
        settings = Settings(
            _env_file=None,
            data_dir=Path(tmp),
            tick_minutes=0,
            **{**world.settings, "daily_cap": sends * 2, "per_domain_daily_cap": sends},
        )
        services = build_services(settings)
        try:
            add_rows(services.store, sends)
            world.gmail.reset_log()
            watch = Stopwatch()
            job = asyncio.run(JobRunner(services).run_inline("send", {}))
            wall = watch.seconds
        finally:
            services.close()
        gmail = world.gmail
        units = sum(gmail.units_by_method.values())
        # Gmail refuses a per-user rate with a 403 (the emulator's default) or a 429.
        throttled = sum(1 for r in gmail.requests if r.status in (403, 429))
        delivered = len(set(sent_recipients(gmail)))
        by_method = dict(gmail.units_by_method)

    bound = ((units - 1) // UNITS_PER_USER_PER_MINUTE) * 60.0
    steady = units / UNITS_PER_SECOND
    ratio = wall / bound if bound else float("nan")
    result = job.get("result") or {}
    print(
        f"Gmail: {delivered} of {sends} recipients have their message; job {job.get('status')}"
        f" { ({k: v for k, v in result.items() if isinstance(v, int)}) }"
    )
    print(f"Gmail units spent: {units} {by_method}; rate limits served: {throttled}")
    print(
        f"Gmail send wall time: {wall:.1f} s; lower bound {bound:.1f} s (sliding window; "
        f"at a steady 250 units/s it would be {steady:.1f} s)"
    )
    print(f"Gmail wall / lower bound       : {ratio:.3f}   (goal <= 1.15)")
    return [
        Row(BENCH, f"Gmail: {sends} sends, wall s", f"{wall:.1f} (bound {bound:.1f})"),
        Row(BENCH, "Gmail: rate limits served", str(throttled), "0", throttled == 0),
        Row(
            BENCH,
            "Gmail: wall / lower bound",
            f"{ratio:.3f}",
            "<= 1.15",
            ratio <= 1.15 and delivered == sends,
        ),
    ]


def hunter_enrichment() -> list[Row]:
    """Run bench/enrich_hunter.py as it is and read its figures."""
    script = ROOT / "bench" / "enrich_hunter.py"
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=480, cwd=ROOT
    )
    print(done.stdout, end="")
    if done.returncode != 0:
        print(done.stderr[-2000:])
        return [Row(BENCH, "Hunter: enrich_hunter.py", f"failed ({done.returncode})", "", False)]

    def figure(label: str) -> str:
        found = re.search(rf"^{re.escape(label)}\s*:\s*(\S+)", done.stdout, re.M)
        return found.group(1) if found else "?"

    ratio, violations = figure("wall / ideal"), figure("rate-limit violations")
    speedup, wall = figure("speed-up, old / new"), figure("wall time (the whole job)")
    rows = [
        Row(BENCH, "Hunter: 2,000 domains, the enrich job's wall s", wall),
        Row(BENCH, "Hunter: rate-limit violations", violations, "0", violations == "0"),
        Row(BENCH, "Hunter: speed-up over the old script", speedup),
    ]
    try:
        value = float(ratio)
        rows.insert(0, Row(BENCH, "Hunter: wall / ideal", ratio, "<= 1.15", value <= 1.15))
    except ValueError:
        rows.insert(0, Row(BENCH, "Hunter: wall / ideal", ratio, "<= 1.15", False))
    return rows


def main(argv: list[str] | None = None) -> list[Row]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sends", type=int, default=284)
    parser.add_argument("--skip-hunter", action="store_true")
    args = parser.parse_args(argv)
    print(f"machine: {machine_note()}")
    rows = [] if args.skip_hunter else hunter_enrichment()
    return rows + gmail_sending(args.sends)


if __name__ == "__main__":
    run_as_script(main)
