"""A throwaway PostgreSQL cluster from Debian's ``postgresql`` package, for tests and benches.

    with running_cluster() as cluster:           # bench scripts
        dsn = cluster.create_database()

    def test_x(postgres_dsn): ...                 # tests: a fresh database per test
    def test_y(postgres_cluster): ...             # tests: the session's cluster itself

``initdb`` and ``pg_ctl`` run in a temp dir on a free loopback port with trust auth on
127.0.0.1 only; PostgreSQL refuses to run as root, so as root they run as the ``postgres``
user. The cluster is stopped and its directory removed when the context is left. Readiness is
polled with a deadline (a real connection), never waited for by sleeping.

Tests skip only when no ``initdb`` exists on the machine; CI installs it (scripts/system-deps).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from tests.emulators.serve import free_port, wait_until

_PG_ROOT = Path("/usr/lib/postgresql")
_SUPERUSER = "postgres"


def find_pg_bin() -> Path | None:
    """The newest Debian PostgreSQL ``bin`` directory that has ``initdb``, or None."""
    if not _PG_ROOT.is_dir():
        return None
    found = [p / "bin" for p in _PG_ROOT.iterdir() if (p / "bin" / "initdb").exists()]
    return max(found, key=lambda p: _version_key(p.parent.name), default=None)


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.split(".") if part.isdigit())


def skip_reason() -> str | None:
    """Why PostgreSQL tests cannot run here, or None when they can."""
    if find_pg_bin() is None:
        return f"no initdb under {_PG_ROOT}/*/bin (apt-get install postgresql; scripts/system-deps)"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser: cannot start PostgreSQL as the postgres user"
    return None


@dataclass
class PostgresCluster:
    """A running cluster: ``dsn`` reaches its ``postgres`` maintenance database."""

    bin_dir: Path
    base_dir: Path
    port: int

    @property
    def host(self) -> str:
        return "127.0.0.1"

    def dsn_for(self, database: str) -> str:
        return f"postgresql://{_SUPERUSER}@{self.host}:{self.port}/{database}"

    @property
    def dsn(self) -> str:
        return self.dsn_for("postgres")

    def postmaster_pid(self) -> int:
        """The server's main process (its backends are its children): for CPU accounting."""
        return int((self.base_dir / "data" / "postmaster.pid").read_text().split()[0])

    def create_database(self, name: str | None = None) -> str:
        """A new empty database; returns its DSN."""
        name = name or "hub_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.dsn_for(name)

    def password_role(self, role: str, password: str) -> str:
        """A role that must give ``password`` (scram-sha-256) from 127.0.0.1, for tests of a
        refused password (every other role keeps trust auth); returns its DSN to
        ``postgres``. The rule goes first in pg_hba.conf: the first matching line wins."""
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(f'DROP ROLE IF EXISTS "{role}"')
            conn.execute(f"CREATE ROLE \"{role}\" LOGIN PASSWORD '{password}'")
            hba = self.base_dir / "data" / "pg_hba.conf"
            rule = f"host all {role} 127.0.0.1/32 scram-sha-256\n"
            text = hba.read_text()
            if rule not in text:
                hba.write_text(rule + text)
            conn.execute("SELECT pg_reload_conf()")
        return f"postgresql://{role}:{password}@{self.host}:{self.port}/postgres"

    def drop_database(self, name: str) -> None:
        """Drop a database even if processes the test started still hold connections."""
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _as_cluster_owner(argv: list[str]) -> list[str]:
    return ["runuser", "-u", _SUPERUSER, "--", *argv] if os.geteuid() == 0 else argv


def _run(argv: list[str], what: str) -> None:
    done = subprocess.run(_as_cluster_owner(argv), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed ({done.returncode}): {done.stderr or done.stdout}")


def _accepts_connections(dsn: str) -> bool:
    try:
        with psycopg.connect(dsn, connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False


@contextlib.contextmanager
def running_cluster(
    *, durable: bool = False, max_connections: int = 200, settings: dict[str, str] | None = None
) -> Iterator[PostgresCluster]:
    """Start a cluster, yield it, then stop it and remove its directory.

    ``durable=False`` (tests) turns fsync off: a crash of the *machine* would lose data, which
    a throwaway cluster does not care about. Benchmarks pass ``durable=True`` so PostgreSQL
    pays for its commits as it would in production. ``settings``: more server settings
    (``{"shared_preload_libraries": "pg_stat_statements"}`` for a profile).
    """
    reason = skip_reason()
    if reason:
        raise RuntimeError(reason)
    bin_dir = find_pg_bin()
    assert bin_dir is not None
    # Not under pytest's tmp_path: its parents are private to root, and postgres must reach it.
    base = Path(tempfile.mkdtemp(prefix="hub-pg-"))
    data, log = base / "data", base / "server.log"
    if os.geteuid() == 0:
        shutil.chown(base, _SUPERUSER, _SUPERUSER)
    port = free_port()
    options = [
        f"-p {port}",
        "-c listen_addresses=127.0.0.1",
        f"-c unix_socket_directories={base}",
        f"-c max_connections={max_connections}",
    ]
    if not durable:
        options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
    options += [f"-c {name}={value}" for name, value in (settings or {}).items()]
    started = False
    try:
        _run(
            [str(bin_dir / "initdb"), "-D", str(data), "-U", _SUPERUSER, "-A", "trust",
             "-E", "UTF8", "--no-sync", "--locale=C.UTF-8"],
            "initdb",
        )  # fmt: skip
        # pg_ctl returns once the postmaster is forked (-W: we poll readiness ourselves).
        _run(
            [str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-W",
             "-o", " ".join(options), "start"],
            "pg_ctl start",
        )  # fmt: skip
        started = True
        cluster = PostgresCluster(bin_dir=bin_dir, base_dir=base, port=port)
        try:
            wait_until(
                lambda: _accepts_connections(cluster.dsn),
                timeout=60,
                interval=0.05,
                what=f"PostgreSQL on port {port}",
            )
        except TimeoutError as exc:
            text = log.read_text(errors="replace") if log.exists() else "(no log)"
            raise RuntimeError(f"PostgreSQL did not start: {text[-2000:]}") from exc
        yield cluster
    finally:
        if started:
            subprocess.run(
                _as_cluster_owner([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                                   "-w", "-t", "60", "stop"]),
                capture_output=True, check=False,
            )  # fmt: skip
        shutil.rmtree(base, ignore_errors=True)


# --- pytest fixtures (registered in tests/conftest.py) ----------------------------------------
@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """One cluster for the whole test session (initdb costs ~1 s)."""
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    with running_cluster() as cluster:
        yield cluster


@pytest.fixture
def postgres_dsn(postgres_cluster: PostgresCluster) -> Iterator[str]:
    """A fresh, empty database for one test: its DSN. Dropped (connections forced off) after."""
    name = "hub_" + uuid.uuid4().hex[:12]
    dsn = postgres_cluster.create_database(name)
    yield dsn
    postgres_cluster.drop_database(name)
