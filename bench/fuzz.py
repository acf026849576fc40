"""The long fuzz: generated hostile rows through every row stage on both stores, for minutes.

    .venv/bin/python bench/fuzz.py --minutes 5          # the figures in BENCHMARKS.md
    .venv/bin/python bench/fuzz.py --stores local       # the local store only

The same strategies and invariants as ``tests/test_fuzz_stages.py`` (tests/hostile.py), but
random (not derandomized) and in rounds of ``--batch`` examples until the time is up, so every
round explores new rows. A round that breaks an invariant is reported with hypothesis's
shrunk, falsifying example and the fuzz goes on. Beside the invariants it counts where rows
ended: rows held on ``ERROR:<stage>`` are rows whose own stage code raised (the boundary caught
them, but each is a bug to fix), so they are listed too.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import itertools
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from hypothesis import HealthCheck, given  # noqa: E402
from hypothesis import settings as hypothesis_settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from bench.common import Row, machine_note, run_as_script  # noqa: E402
from sheets.cells import BadCell, domain_from_cell, normalize_email  # noqa: E402
from tests import hostile, hostile_run  # noqa: E402
from tests.emulators.serve import serve_in_thread  # noqa: E402
from tests.store_contract import EmulatorServers, Switchboard  # noqa: E402

STAGES_PER_EXAMPLE = len(hostile_run.ROW_STAGES)


class Tally:
    def __init__(self) -> None:
        self.examples: collections.Counter[str] = collections.Counter()
        self.rows = 0
        self.jobs = 0
        self.ends: collections.Counter[str] = collections.Counter()
        self.errors: collections.Counter[str] = collections.Counter()
        self.failures: list[str] = []
        self.slowest = (0.0, "")  # seconds, and what the example held

    def timed(self, seconds: float, rows: list[dict[str, str]]) -> None:
        if seconds > self.slowest[0]:
            shown = [{k: v[:60] for k, v in row.items() if v} for row in rows]
            self.slowest = (seconds, repr(shown)[:600])

    def record(self, store: str, after: dict[str, dict[str, str]], previews: int) -> None:
        self.examples[store] += 1
        self.rows += len(after)
        self.jobs += STAGES_PER_EXAMPLE
        self.ends["reached the outbox"] += previews
        for row in after.values():
            hold = row.get("hold_reason", "")
            if hold.startswith("ERROR:"):
                self.errors[f"{hold.split(' (', 1)[0]}: {row.get('last_error', '')[:90]}"] += 1
            if hold and not hold.startswith("DRY_RUN"):
                self.ends[hold.split(" ", 1)[0]] += 1


def _servers(stack) -> EmulatorServers:
    oauth, sheets = Switchboard(), Switchboard()
    oauth_server = stack.enter_context(serve_in_thread(oauth, lifespan="off"))
    sheets_server = stack.enter_context(serve_in_thread(sheets, lifespan="off"))
    return EmulatorServers(oauth, sheets, oauth_server.url, sheets_server.url)


def _round(store: str, world, servers, workdir: Path, serial, tally: Tally, batch: int) -> None:
    @hypothesis_settings(
        max_examples=batch,
        deadline=None,
        database=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
    )
    @given(rows=hostile.batches)
    def once(rows):
        data_dir = workdir / f"run{next(serial)}" / "hub-data"
        data_dir.mkdir(parents=True)
        begun = time.monotonic()
        if store == "local":
            verdict, after = hostile_run.run_local(world, data_dir, rows)
        else:
            verdict, after = hostile_run.run_google(world, servers, data_dir, rows)
        tally.timed(time.monotonic() - begun, rows)
        tally.record(store, after, len(verdict.sent_to))
        assert verdict.problems == [], verdict.problems

    try:
        once()
    except Exception as exc:  # the falsifying example, shrunk: report it and go on
        tally.failures.append(f"{store}: {str(exc)[:2000]}")


def _parse_round(tally: Tally, batch: int) -> None:
    @hypothesis_settings(max_examples=batch * 40, deadline=None, database=None)
    @given(value=st.one_of(hostile.hostile_text, hostile.addresses, st.emails(), hostile.domains))
    def once(value):
        tally.examples["cells"] += 1
        for parse in (normalize_email, domain_from_cell):
            with contextlib.suppress(BadCell):  # a value or BadCell; anything else fails
                parse(value)

    try:
        once()
    except Exception as exc:
        tally.failures.append(f"cells: {str(exc)[:2000]}")


def main(argv: list[str] | None = None) -> list[Row]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=1.0)
    parser.add_argument("--stores", default="local,google")
    parser.add_argument("--batch", type=int, default=25, help="examples per round")
    args = parser.parse_args(argv)
    stores = [s for s in args.stores.split(",") if s]
    print(f"machine: {machine_note()}")
    tally = Tally()
    serial = itertools.count()
    started = time.monotonic()
    deadline = started + args.minutes * 60
    with (
        contextlib.ExitStack() as stack,
        tempfile.TemporaryDirectory(prefix="hub-fuzz-") as tmp,
    ):
        world = stack.enter_context(hostile_run.hunter_world())
        servers = _servers(stack)
        for rounds, store in enumerate(itertools.cycle(stores), start=1):
            if time.monotonic() >= deadline:
                break
            _round(store, world, servers, Path(tmp), serial, tally, args.batch)
            _parse_round(tally, args.batch)
            spent = time.monotonic() - started
            print(
                f"{spent:6.0f} s  round {rounds}: examples {dict(tally.examples)}, "
                f"rows {tally.rows}, jobs {tally.jobs}, failures {len(tally.failures)}",
                flush=True,
            )
    seconds = time.monotonic() - started
    print(f"\nslowest example: {tally.slowest[0]:.1f} s: {tally.slowest[1]}")
    print("where rows ended:", dict(tally.ends.most_common()))
    for line, count in tally.errors.most_common():
        print(f"  caught by the row error boundary x{count}: {line}")
    for failure in tally.failures:
        print("\nFAILURE", failure)
    pipeline = sum(tally.examples[s] for s in stores)
    rows = [
        Row("fuzz", "minutes run", f"{seconds / 60:.1f}"),
        Row(
            "fuzz",
            "pipeline examples (local / google)",
            " / ".join(str(tally.examples[s]) for s in ("local", "google")),
        ),
        Row("fuzz", "rows through every stage", str(tally.rows)),
        Row("fuzz", "stage jobs run", str(tally.jobs), "all completed", not tally.failures),
        Row("fuzz", "cells parsed alone", str(tally.examples["cells"])),
        Row(
            "fuzz",
            "rows held on ERROR:<stage>",
            str(sum(tally.errors.values())),
            "0",
            not tally.errors,
        ),
        Row("fuzz", "invariant failures", str(len(tally.failures)), "0", not tally.failures),
    ]
    print(f"\n{pipeline} pipeline examples, {len(tally.failures)} invariant failures")
    return rows


if __name__ == "__main__":
    run_as_script(main)
