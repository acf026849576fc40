"""Bench: Sheets API requests per stage over 1,000 rows, against one update call per row.

    .venv/bin/python bench/sheets_economy.py [--rows 1000]

Everything runs for real against the emulated Google Sheet (OAuth + Sheets v4 emulators, real
gspread, quota 60 reads and 60 writes per minute per user, as Google's): the hub's enrich
(Hunter emulator), score, draft (the templates) and send (dry run: the outbox mailer, gap 0,
no approval needed) stages, each one job through the runner (``JobRunner.run_inline``). The
emulator counts every request and every 429 it served. The store's pacing and the emulator's
quota window share a compressed clock (``tests/emulators/fake_clock.py``), so the minutes the
quota would impose are measured without being waited for: "quota time" below.

The per-row approach (the old scripts' way: one ``store.update`` per row) is measured in the
same run on a second sheet of the same rows: the score stage's results written row by row.

Goal: <= 25 requests per stage per 1,000 rows, and no 429 served. The ratio printed last is
per-row requests / the hub's requests for the same score results.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Row, Stopwatch, machine_note, run_as_script

from hub.app import build_services
from hub.jobs.runner import JobRunner
from hub.scoring import load_weights, score_row
from tests.emulators.hunter import API_KEY, HunterEmulator
from tests.emulators.serve import serve_in_thread
from tests.store_contract import google_sheet_env

BENCH = "sheets economy"
STAGES = ("enrich", "score", "draft", "send")
GOAL_PER_1000 = 25


def prospects(count: int) -> list[dict[str, str]]:
    return [
        {
            "domain": f"gallery{i:05d}.example",
            "page_title": f"Gallery {i} - contemporary prints",
            "snippet": "Contemporary painting and print, new artists every month.",
            "keyword": "art gallery",
            "serp_rank": str(1 + i % 10),
        }
        for i in range(count)
    ]


def hub_settings(env, hunter_url: str, data_dir: Path):
    return env.settings(
        data_dir=data_dir,
        hunter_api_key=API_KEY,
        hunter_api_url=hunter_url,
        hunter_rate_per_second=2000,  # the bench is about the sheet, not Hunter's pace
        mailer="outbox",
        require_approval=False,
        daily_cap=100_000,
        per_domain_daily_cap=100,
        send_gap_seconds="0",
        sender_name="Ada Painter",
        sender_profile="I paint large abstract canvases.",
        sender_address="ada@studio.example",
        tick_minutes=0,
    )


async def run_stages(services, env) -> list[dict]:
    runner = JobRunner(services)
    measured = []
    for stage in STAGES:
        env.sheets.reset_log()
        quota_started, watch = env.clock(), Stopwatch()
        job = await runner.run_inline(stage, {})
        measured.append(
            {
                "stage": stage,
                "status": job.get("status"),
                "result": job.get("result") or {},
                "error": job.get("error"),
                "requests": env.sheets.count(),
                "reads": env.sheets.count("read"),
                "writes": env.sheets.count("write"),
                "throttled": env.sheets.served(429),
                "seconds": watch.seconds,
                "quota_seconds": env.clock() - quota_started,
            }
        )
    return measured


def per_row_baseline(tmp: Path, rows: list[dict[str, str]]) -> dict:
    """The old way on a sheet of the same rows, enriched: one store.update per scored row."""
    with google_sheet_env(tmp / "per-row") as env:
        store = env.store()
        store.ensure_schema()
        enriched = [
            {**r, "contact_email": f"editor@{r['domain']}", "outreach_status": "enriched"}
            for r in rows
        ]
        store.append(enriched)
        env.sheets.reset_log()
        env.clock.advance(120)  # the set-up's requests leave the quota window
        weights = load_weights("")
        quota_started, watch = env.clock(), Stopwatch()
        for row in store.select(lambda r: r.get("outreach_status") == "enriched"):
            result = score_row(row, weights)
            store.update({row["hub_id"]: {"score": str(result.value)}})
        return {
            "requests": env.sheets.count(),
            "throttled": env.sheets.served(429),
            "seconds": watch.seconds,
            "quota_seconds": env.clock() - quota_started,
        }


def main(argv: list[str] | None = None) -> list[Row]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1000)
    args = parser.parse_args(argv)
    print(f"machine: {machine_note()}")
    rows = prospects(args.rows)
    hunter = HunterEmulator(per_second=100_000, per_minute=10_000_000)
    with (
        tempfile.TemporaryDirectory(prefix="bench-sheets-") as tmp,
        serve_in_thread(hunter.app) as hunter_server,
        google_sheet_env(Path(tmp) / "hub") as env,
    ):
        settings = hub_settings(env, hunter_server.url + "/v2", Path(tmp) / "hub-data")
        store = env.store(data_dir=Path(tmp) / "hub-data")
        store.ensure_schema()
        store.append(rows)
        env.clock.advance(120)
        services = build_services(settings, store=store)
        try:
            measured = asyncio.run(run_stages(services, env))
            statuses = store.count_by_status()
        finally:
            services.close()
        baseline = per_row_baseline(Path(tmp), rows)

    scale = 1000 / args.rows
    out: list[Row] = []
    print(f"{args.rows} rows on the emulated sheet (quota 60 reads + 60 writes/min/user)")
    print(
        f"{'stage':8} {'requests':>8} {'reads':>6} {'writes':>6} {'429s':>5} "
        f"{'wall s':>7} {'quota min':>9}  result"
    )
    for m in measured:
        print(
            f"{m['stage']:8} {m['requests']:8d} {m['reads']:6d} {m['writes']:6d} "
            f"{m['throttled']:5d} {m['seconds']:7.1f} {m['quota_seconds'] / 60:9.1f}  "
            f"{m['status']} {m['error'] or compact(m['result'])}"
        )
        per_1000 = m["requests"] * scale
        ok = per_1000 <= GOAL_PER_1000 and m["throttled"] == 0 and m["status"] == "completed"
        out.append(
            Row(
                BENCH,
                f"{m['stage']}: requests / 1,000 rows",
                f"{per_1000:.0f} ({m['throttled']} x 429)",
                f"<= {GOAL_PER_1000}, 0 x 429",
                ok,
            )
        )
    print(f"rows by status afterwards: {statuses}")
    score = next(m for m in measured if m["stage"] == "score")
    ratio = baseline["requests"] / max(score["requests"], 1)
    print(
        f"per-row approach (score results, one update per row): {baseline['requests']} requests,"
        f" {baseline['throttled']} x 429, {baseline['seconds']:.1f} s wall, "
        f"{baseline['quota_seconds'] / 60:.1f} min of quota time"
    )
    print(
        f"hub score stage: {score['requests']} requests, "
        f"{score['quota_seconds'] / 60:.1f} min of quota time"
    )
    print(f"per-row requests / hub requests (score) : {ratio:.0f}x")
    out.append(Row(BENCH, "per-row requests / hub (score)", f"{ratio:.0f}x", "", None))
    return out


def compact(result: dict) -> str:
    keep = {k: v for k, v in result.items() if isinstance(v, int | str) and k != "drafter"}
    return ", ".join(f"{k}={v}" for k, v in list(keep.items())[:6])


if __name__ == "__main__":
    run_as_script(main)
