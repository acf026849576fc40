"""SIGKILL ``hub serve`` with jobs pending and running; start it again: every job completes,
no job is lost and no row is processed twice.

The server is the real ``hub serve`` in a subprocess, with stage-shaped test stages over
enrich and score (``python -m tests.core_plugin serve``): they mark each row's marker cell by
incrementing it (a row handled twice would read "2") and log each handled row.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import httpx
import pytest

from hub.state.sqlite import State
from sheets.local import LocalStore
from tests.emulators.serve import free_port, wait_until

ROOT = Path(__file__).resolve().parents[1]
ROWS = 300
AUTH = {"authorization": "Bearer restart-key"}


class Server:
    def __init__(self, data_dir: Path, port: int):
        self.data_dir, self.port = data_dir, port
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> None:
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "HUB_DATA_DIR": str(self.data_dir),
            "HUB_API_KEYS": "restart-key",
            "HUB_TICK_MINUTES": "0",
            "HUB_TEST_MARK_DELAY": "0.03",
            "HUB_LOG_LEVEL": "warning",
        }
        self.starts += 1
        log = open(self.data_dir.parent / f"server-{self.starts}.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.core_plugin", "serve", "--port", str(self.port)],
            cwd=self.data_dir.parent,  # no developer .env is read
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        wait_until(self._up, timeout=30, interval=0.05, what="hub serve to answer /healthz")

    def _up(self) -> bool:
        if self.proc.poll() is not None:
            output = (self.data_dir.parent / f"server-{self.starts}.log").read_text()
            raise RuntimeError(f"hub serve exited with {self.proc.returncode}:\n{output}")
        try:
            return httpx.get(self.url + "/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)  # reap it: a zombie would still look alive

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@pytest.fixture
def hub_process(data_dir):
    store = LocalStore(data_dir / "prospects.sqlite3")
    store.ensure_schema()
    store.append([{"domain": f"site{i}.example"} for i in range(ROWS)])
    store.close()
    hub_process = Server(data_dir, free_port())
    yield hub_process
    hub_process.stop()


def status(hub_process: Server, job_id: str) -> dict:
    return httpx.get(f"{hub_process.url}/api/jobs/{job_id}/status", headers=AUTH, timeout=5).json()


def submit(hub_process: Server, path: str) -> str:
    response = httpx.post(hub_process.url + path, headers=AUTH, timeout=5)
    assert response.status_code == 202, response.text
    return response.json()["job_id"]


def test_sigkill_with_jobs_pending_and_running_loses_nothing_and_repeats_nothing(
    hub_process, data_dir
):
    hub_process.start()
    jobs = [
        submit(hub_process, "/api/jobs/enrich"),
        submit(hub_process, "/api/jobs/score"),
        submit(hub_process, "/api/jobs/enrich"),  # waits for the first enrich (one per type)
        submit(hub_process, "/api/jobs/score?max_prospects=50"),
    ]
    wait_until(
        lambda: status(hub_process, jobs[0])["progress"]["processed"] >= 30,
        timeout=30,
        what="the first enrich job to be part-way",
    )
    hub_process.kill()

    state = State(data_dir / "state.sqlite3")
    try:
        at_kill = {job_id: state.get_job(job_id)["status"] for job_id in jobs}
    finally:
        state.close()
    assert "running" in at_kill.values() and "pending" in at_kill.values(), at_kill
    assert at_kill[jobs[2]] == "pending"

    hub_process.start()
    finals = [
        wait_until(
            lambda job_id=job_id: (s := status(hub_process, job_id))["status"] == "completed" and s,
            timeout=60,
            what=f"job {job_id} to complete after the restart",
        )
        for job_id in jobs
    ]
    assert [f["status"] for f in finals] == ["completed"] * 4
    assert any(
        f["started_at"] and at_kill[f["job_id"]] == "running" for f in finals
    )  # a job that was running when killed ran again and finished

    store = LocalStore(data_dir / "prospects.sqlite3")
    try:
        rows = store.rows()
    finally:
        store.close()
    assert len(rows) == ROWS
    assert Counter(r.get("email_status", "") for r in rows) == {"1": ROWS}
    assert Counter(r.get("score", "") for r in rows) == {"1": ROWS}
    handled = (data_dir / "marks.log").read_text().splitlines()
    repeated = [line for line, n in Counter(handled).items() if n > 1]
    assert repeated == []
    # the second enrich and the capped score found nothing left to do
    assert finals[2]["result"]["marked"] == 0
