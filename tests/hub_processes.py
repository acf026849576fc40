"""Real ``hub`` processes (``hub serve``, ``hub serve --no-worker``, ``hub worker``) started as
subprocesses, each with its own data dir, sharing one PostgreSQL database: what several
machines running one hub look like. Used by the multi-process tests and the benchmarks.

    with HubProcess(["serve"], pg_env(dsn, data_dir)) as edge:
        httpx.get(edge.url + "/healthz")

A process that serves HTTP is ready when ``/healthz`` answers (polled with a deadline);
``hub worker`` has no port, so it is ready once it is running and the caller polls the
database for its effect.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.emulators.serve import free_port, wait_until

ROOT = Path(__file__).resolve().parents[1]
API_KEY = "multi-process-api-key"
SECRET_KEY = "multi-process-secret-key-0123456789abcdef"


def pg_env(dsn: str, data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of one hub process on PostgreSQL: its own data dir, the shared database,
    keys set explicitly (as start-up requires with ``HUB_DATABASE_URL``)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    # Never a developer's HUB_* variables: the process sees only what the test says.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "GOOGLE_", "GMAIL_"))}
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "HUB_DATA_DIR": str(data_dir),
            "HUB_DATABASE_URL": dsn,
            "HUB_API_KEYS": API_KEY,
            "HUB_SECRET_KEYS": SECRET_KEY,
            "HUB_TICK_MINUTES": "0",
            "HUB_LOG_LEVEL": "warning",
        }
    )
    env.update(extra)
    return env


class HubProcess:
    """One ``hub`` subprocess; ``args`` after ``hub`` (``["serve", "--no-worker"]``, ...)."""

    def __init__(self, args: list[str], env: dict[str, str], *, name: str = "hub"):
        self.args, self.env, self.name = list(args), env, name
        self.serves_http = args[0] == "serve"
        self.port = free_port() if self.serves_http else None
        self.url = f"http://127.0.0.1:{self.port}" if self.port else ""
        self.log_path = Path(env["HUB_DATA_DIR"]).parent / f"{name}.log"
        self.proc: subprocess.Popen | None = None

    @property
    def data_dir(self) -> Path:
        return Path(self.env["HUB_DATA_DIR"])

    def start(self, *, timeout: float = 60) -> HubProcess:
        argv = [sys.executable, "-m", "hub", *self.args]
        if self.port:
            argv += ["--port", str(self.port)]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                argv,
                cwd=self.data_dir.parent,  # no developer .env is read
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        if self.serves_http:
            wait_until(self._answers, timeout=timeout, interval=0.05, what=f"{self.name} /healthz")
        else:
            self._check_alive()
        return self

    def _check_alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(
                f"{self.name} ({' '.join(self.args)}) exited with {self.proc.returncode}:\n"
                + self.log()
            )

    def _answers(self) -> bool:
        self._check_alive()
        try:
            return httpx.get(self.url + "/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL, then reap it: a zombie would still look alive to a lease check."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def __enter__(self) -> HubProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- the REST API ------------------------------------------------------------------------
    def api(self, method: str, path: str, **kwargs) -> httpx.Response:
        headers = {"authorization": f"Bearer {API_KEY}", **kwargs.pop("headers", {})}
        return httpx.request(method, self.url + path, headers=headers, timeout=30, **kwargs)
