"""Bench: enrich 2,000 domains through Hunter at 150 requests/s, side by side with the old way.

    .venv/bin/python bench/enrich_hunter.py [--domains 2000] [--rate 150] [--old-sample 5]

Everything local: the Hunter emulator in its own process (limits set to RATE per second and
RATE*500/15 per minute, i.e. Hunter's documented pair scaled together; 50 ms answer latency)
and the emulated Google Sheet (OAuth + Sheets v4 emulators, real gspread). The hub runs the
enrich job as in production: ``JobRunner.run_inline("enrich")`` on services built from the
settings (``build_services``: the Google Sheet store, Hunter with the site crawler as fallback,
the state DB).

The wall time is the job's, from the call that submits it to the return of its finished
record: the job's row in the state DB, the claim, reading the sheet, every Hunter call,
the chunk writes, the last write, the job's completion. Not in it: starting the emulators,
filling the sheet, building the services. Printed:

- wall time / ideal time (DOMAINS / RATE seconds)      goal <= 1.15
- rate-limit violations (requests Hunter refused, 403)  goal 0
- Sheets API requests during the job                    goal <= 60
- where the time went: the stage's own interval, the first and last Hunter request, the
  emulator's CPU time (is Hunter's side the bottleneck?) and ours
- the old system's way (one domain at a time, a 1 s pause, one sheet write per row), timed on
  a small sample in this same run and extrapolated; the speed-up ratio is printed last.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from hub.app import build_services  # noqa: E402
from hub.jobs.runner import JobRunner  # noqa: E402
from hub.providers import hunter as hunter_client  # noqa: E402
from hub.stages import enrich as enrich_stage  # noqa: E402
from tests.emulators.hunter import API_KEY, HunterEmulator  # noqa: E402
from tests.emulators.serve import free_port, wait_until  # noqa: E402
from tests.store_contract import google_sheet_env  # noqa: E402

OLD_PAUSE_SECONDS = 1.0


def serve_hunter(port: int, per_second: int, per_minute: int) -> None:
    """The Hunter emulator in its own process, as the real one is on another machine (in one
    process the client and the emulator would fight over the GIL and measure that instead)."""
    import uvicorn

    emulator = HunterEmulator(per_second=per_second, per_minute=per_minute, latency=0.05)
    uvicorn.run(emulator.app, host="127.0.0.1", port=port, log_level="warning")


@contextlib.contextmanager
def hunter_process(per_second: int, per_minute: int):
    port = free_port()
    process = multiprocessing.get_context("spawn").Process(
        target=serve_hunter, args=(port, per_second, per_minute), daemon=True
    )
    process.start()
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(url + "/_emulator/stats", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(up, timeout=30, interval=0.1, what="the Hunter emulator process")
        yield url, process.pid
    finally:
        process.terminate()
        process.join(timeout=10)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc/<pid>/stat, fields 14-15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Timeline:
    """When the stage started and ended and when Hunter requests went out, for the report."""

    def __init__(self) -> None:
        self.stage: list[float] = []
        self.requests: list[float] = []

    @contextlib.contextmanager
    def watching(self):
        stage_run, get = enrich_stage.run, hunter_client.HunterClient._get

        async def timed_stage(ctx):
            self.stage.append(time.perf_counter())
            try:
                return await stage_run(ctx)
            finally:
                self.stage.append(time.perf_counter())

        async def timed_get(client, *args, **kwargs):
            self.requests.append(time.perf_counter())
            return await get(client, *args, **kwargs)

        # The runner finds the stage in the registry by name: put the timed one there.
        from hub.stages.registry import STAGES

        STAGES["enrich"], hunter_client.HunterClient._get = timed_stage, timed_get
        try:
            yield self
        finally:
            STAGES["enrich"], hunter_client.HunterClient._get = stage_run, get


def old_way(hunter_url: str, store, hub_ids: list[str], domains: list[str]) -> float:
    """The old script: one domain-search, one row write, a 1 s pause; next domain."""
    started = time.perf_counter()
    with httpx.Client(timeout=20) as client:
        for hub_id, domain in zip(hub_ids, domains, strict=True):
            answer = client.get(
                hunter_url + "/domain-search", params={"domain": domain, "api_key": API_KEY}
            ).json()
            email = (answer["data"]["emails"] or [{}])[0].get("value", "")
            store.update({hub_id: {"contact_email": email, "outreach_status": "enriched"}})
            time.sleep(OLD_PAUSE_SECONDS)
    return (time.perf_counter() - started) / len(domains)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--domains", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=150.0)
    parser.add_argument("--old-sample", type=int, default=5)
    args = parser.parse_args()

    per_minute = int(args.rate * 500 / 15)
    with (
        tempfile.TemporaryDirectory() as tmp,
        hunter_process(int(args.rate), per_minute) as (hunter_root, hunter_pid),
        google_sheet_env(Path(tmp), write_quota=60, read_quota=60) as sheet,
    ):
        hunter_url = hunter_root + "/v2"
        settings = sheet.settings(
            hunter_api_key=API_KEY,
            hunter_api_url=hunter_url,
            hunter_rate_per_second=args.rate,
            tick_minutes=0,
        )
        services = build_services(settings)  # real clock: the sheet's pacing costs real time
        store = services.store
        store.ensure_schema()
        domains = [f"d{i:05d}.bench.test" for i in range(args.domains)]
        old_domains = [f"old{i:03d}.bench.test" for i in range(args.old_sample)]
        ids = store.append([{"domain": d} for d in domains + old_domains]).added
        old_ids = ids[args.domains :]
        # The old rows are not part of the job's run.
        store.update({i: {"outreach_status": "skip"} for i in old_ids})
        sheet.sheets.reset_log()

        timeline = Timeline()
        with timeline.watching():
            cpu_hunter, cpu_ours = cpu_seconds(hunter_pid), time.process_time()
            started = time.perf_counter()
            job = asyncio.run(JobRunner(services).run_inline("enrich", {}))
            ended = time.perf_counter()
            cpu_hunter = cpu_seconds(hunter_pid) - cpu_hunter
            cpu_ours = time.process_time() - cpu_ours
        wall = ended - started
        sheets_requests = sheet.sheets.count()
        violations = httpx.get(hunter_root + "/_emulator/stats").json()["violations"]
        enriched = (job.get("result") or {}).get("enriched", 0)

        per_domain_old = old_way(hunter_url, store, old_ids, old_domains)
        services.close()

    stage_start, stage_end = (t - started for t in timeline.stage)
    first, last = (timeline.requests[i] - started for i in (0, -1))
    print(f"job {job.get('status')}; machine: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    print(
        f"timeline (s from the job's start): stage {stage_start:.2f} .. {stage_end:.2f}, "
        f"first Hunter request {first:.2f}, last {last:.2f}, job done {wall:.2f}"
    )
    print(
        f"Hunter requests {len(timeline.requests)}; first to last at "
        f"{(len(timeline.requests) - 1) / (last - first):.1f}/s (limit {args.rate:g}/s)"
    )
    print(
        f"CPU during the job: Hunter emulator {cpu_hunter:.2f} s ({cpu_hunter / wall:.0%} of a "
        f"core), the hub {cpu_ours:.2f} s ({cpu_ours / wall:.0%})"
    )
    ideal = args.domains / args.rate
    old_total = per_domain_old * args.domains
    print(f"domains enriched           : {enriched} / {args.domains}")
    print(f"Hunter limit               : {args.rate:g}/s and {per_minute}/min")
    print(f"wall time (the whole job)  : {wall:.2f} s (ideal {ideal:.2f} s)")
    print(f"wall / ideal               : {wall / ideal:.3f}   (goal <= 1.15)")
    print(f"rate-limit violations      : {violations}   (goal 0)")
    print(f"Sheets API requests        : {sheets_requests}   (goal <= 60; emulated Google Sheet)")
    print(
        f"old way (sample of {args.old_sample})     : {per_domain_old:.2f} s per domain -> "
        f"{old_total / 60:.1f} min for {args.domains}"
    )
    print(f"speed-up, old / new        : {old_total / wall:.1f}x")


if __name__ == "__main__":
    main()
