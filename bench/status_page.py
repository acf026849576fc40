"""Status page first paint with 10,000 rows (issue 8): a benchmark, not a test.

Serves a hub on its embedded defaults (local SQLite store) filled with 10,000 half-realistic
rows plus 200 webhook deliveries and a few jobs, signs in like a browser, then measures:

- server time for ``GET /`` (funnel, jobs, deliveries, limits), median and worst of N runs;
- server time for ``GET /rows`` (first page) and a search;
- Chromium's first-contentful-paint of ``/`` when Debian's chromium is installed.

Run: ``.venv/bin/python bench/status_page.py [--rows 10000] [--runs 15]``. Goal: < 1 s.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hub.app import create_app
from hub.config import Settings
from tests.emulators.serve import serve_in_thread

GOAL_SECONDS = 1.0
KEY = "bench-key"
STATUSES = ("pending", "enriched", "drafted", "sent", "replied", "no_email", "failed")
CHROMIUM = Path("/usr/bin/chromium")


def fill(app, rows: int) -> None:
    services = app.state.services
    services.store.append(
        [
            {
                "domain": f"site{i}.example",
                "page_title": f"Art blog number {i}",
                "contact_email": f"editor@site{i}.example" if i % 3 else "",
                "outreach_status": STATUSES[i % len(STATUSES)],
                "hold_reason": "HELD:daily_cap until 2030-01-01T09:00Z" if i % 11 == 0 else "",
                "message_id": f"<{i}@hub>" if i % 7 in (3, 4) else "",
                "replied_at": "2026-01-01T00:00:00Z" if i % 7 == 4 else "",
                "draft_body": "Dear editor,\n" + "A few words about prints. " * 20,
            }
            for i in range(rows)
        ]
    )
    for n in range(200):
        services.state.record_delivery(
            at="2026-01-01T00:00:00+00:00",
            route="make",
            action="enrich",
            verdict="refused" if n % 4 == 0 else "accepted",
            status=401 if n % 4 == 0 else 202,
            reason="the token in this webhook URL is not valid" if n % 4 == 0 else "queued",
        )


def timed(client: httpx.Client, path: str, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(path)
        times.append(time.perf_counter() - started)
        response.raise_for_status()
    return times


def sign_in(client: httpx.Client) -> None:
    token = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/").text).group(1)
    response = client.post("/signin", data={"key": KEY, "csrf": token})
    if response.status_code != 303:
        raise SystemExit(f"sign-in failed: HTTP {response.status_code}")


def first_contentful_paint(url: str, cookies: httpx.Cookies) -> float | None:
    if not CHROMIUM.exists():
        return None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
    args += ["--disable-component-update", "--disable-sync", "--no-first-run"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=args)
        try:
            context = browser.new_context()
            context.add_cookies(
                [{"name": c.name, "value": c.value, "url": url} for c in cookies.jar]
            )
            page = context.new_page()
            page.goto(url + "/")
            page.wait_for_function(
                "performance.getEntriesByName('first-contentful-paint').length > 0"
            )
            return (
                page.evaluate("performance.getEntriesByName('first-contentful-paint')[0].startTime")
                / 1000
            )
        finally:
            browser.close()


def line(name: str, times: list[float]) -> str:
    median, worst = statistics.median(times), max(times)
    verdict = "ok" if median < GOAL_SECONDS else "OVER GOAL"
    return f"{name:<34} median {median * 1000:7.1f} ms   worst {worst * 1000:7.1f} ms   {verdict}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(_env_file=None, data_dir=Path(tmp), api_keys=[KEY], tick_minutes=0)
        app = create_app(settings)
        with serve_in_thread(app) as server:
            fill(app, args.rows)
            with httpx.Client(base_url=server.url, timeout=30) as client:
                sign_in(client)
                print(f"status page, {args.rows} rows, {args.runs} runs each; goal < 1 s")
                print(line("GET / (server time)", timed(client, "/", args.runs)))
                print(line("GET /rows (first page)", timed(client, "/rows", args.runs)))
                search = "/rows?q=site77&status=sent"
                print(line("GET /rows?q=...&status=...", timed(client, search, args.runs)))
                fcp = first_contentful_paint(server.url, client.cookies)
            if fcp is None:
                print("Chromium first-contentful-paint      not measured (no /usr/bin/chromium)")
            else:
                verdict = "ok" if fcp < GOAL_SECONDS else "OVER GOAL"
                print(f"{'Chromium first-contentful-paint':<34} {fcp * 1000:7.1f} ms   {verdict}")


if __name__ == "__main__":
    main()
