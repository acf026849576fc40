"""Every bad setting: `hub serve` prints one line naming the setting and the fix, with no
traceback, and `hub doctor` reports the same words; no secret appears in either.

Each case is a real `hub serve` subprocess (what a user sees on the terminal) with a canary in
every secret setting (tests/canaries.py), and `hub doctor --json` run with the same
environment. The doctor must not call any of it "a bug in the hub".
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from hub.cli import app as cli
from hub.config import Settings
from hub.startup import StartupError, prepare
from tests.canaries import CLOSED, Canaries
from tests.emulators.dns import running_dns
from tests.emulators.google_keys import service_account_info
from tests.emulators.serve import wait_until

pytestmark = pytest.mark.timeout(120)
IDENTITY = """
[[identity]]
name = "ada"
mailer = "smtp"
from = "Ada <ada@artist.example>"
daily_cap = 5
smtp_host = "127.0.0.1"
imap_host = "127.0.0.1"
smtp_password_env = "ADA_SMTP_PASSWORD"
"""


@pytest.fixture(scope="module")
def canaries() -> Canaries:
    return Canaries.planted()


@pytest.fixture
def startup_world(tmp_path, canaries, monkeypatch):
    """Runs `hub serve` (a subprocess) and `hub doctor --json` (in process) on one environment."""
    monkeypatch.chdir(tmp_path)  # no developer .env
    return StartupWorld(tmp_path, canaries, monkeypatch)


class StartupWorld:
    def __init__(self, tmp: Path, canaries: Canaries, monkeypatch):
        self.tmp, self.canaries, self.monkeypatch = tmp, canaries, monkeypatch
        self.data_dir = tmp / "hub-data"

    def file(self, name: str, text: str) -> str:
        path = self.tmp / name
        path.write_text(text)
        return str(path)

    def serve(self, env: dict[str, str], *, real: bool = False) -> tuple[int, str]:
        """`hub serve`: a subprocess when ``real`` (what a terminal shows, tracebacks and all),
        else in this process (an escaping exception would be the traceback)."""
        if not real:
            self._only(env)
            result = CliRunner().invoke(cli, ["serve"], env=env)
            assert result.exception is None or isinstance(result.exception, SystemExit), (
                result.exception
            )
            return result.exit_code, result.output
        done = subprocess.run(
            [sys.executable, "-m", "hub", "serve"],
            cwd=self.tmp, env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        return done.returncode, done.stdout + done.stderr

    def _only(self, env: dict[str, str]) -> None:
        for name in list(os.environ):  # only what the test gives
            if name not in env:
                self.monkeypatch.delenv(name)

    def doctor(self, env: dict[str, str]) -> dict:
        self._only(env)
        result = CliRunner().invoke(cli, ["doctor", "--json"], env=env)
        self.doctor_output = result.output
        return json.loads(result.output)

    def check(
        self, env: dict[str, str], expected: str, *, area: str | None = None, real: bool = False
    ) -> str:
        """Serve stops with one line holding ``expected``; the doctor says the same words."""
        code, output = self.serve(env, real=real)
        lines = [line for line in output.splitlines() if line.strip()]
        assert code != 0 and len(lines) == 1, output
        [line] = lines
        assert expected in line and "Traceback" not in output, line
        report = self.doctor(env)
        errors = [f for f in report["findings"] if f["level"] == "error"]
        same = [f for f in errors if f["message"] in line]
        assert same, f"doctor does not say {line!r}: {errors}"
        if area:
            assert same[0]["area"] == area
        assert "bug in the hub" not in self.doctor_output
        self.no_canary(output + self.doctor_output)
        return line

    def no_canary(self, text: str) -> None:
        assert self.canaries.found_in(text) == []
        if self.data_dir.exists():
            assert self.canaries.found_in_files(self.data_dir) == {}


# --- the identities file -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[[identity]\nname = 'x'\n", "not valid TOML"),
        (IDENTITY + IDENTITY, "two identities are named 'ada'"),
        (IDENTITY.replace('smtp_password_env = "ADA_SMTP_PASSWORD"', 'smtp_password = "typed"'),
         "smtp_password must not be in the file"),
    ],
    ids=["bad-toml", "duplicate-name", "secret-in-file"],
)  # fmt: skip
def test_a_bad_identities_file_is_one_line(startup_world, text, expected):
    env = startup_world.canaries.env(
        startup_world.data_dir, HUB_IDENTITIES_FILE=startup_world.file("ids.toml", text)
    )
    real = "TOML" in expected  # one case of each family runs as a real process
    assert "HUB_IDENTITIES_FILE" in startup_world.check(env, expected, area="settings", real=real)


def test_an_identity_whose_secret_variable_is_unset_is_one_line(startup_world):
    env = startup_world.canaries.env(
        startup_world.data_dir,
        HUB_MAILER="smtp",
        HUB_IDENTITIES_FILE=startup_world.file("ids.toml", IDENTITY),
    )
    del env["ADA_SMTP_PASSWORD"]
    startup_world.check(
        env, "the environment variable ADA_SMTP_PASSWORD (smtp_password_env) is not set"
    )


# --- the service account -----------------------------------------------------------------------
def _sheet_env(startup_world, **extra: str) -> dict[str, str]:
    env = startup_world.canaries.env(startup_world.data_dir, HUB_SHEET_ID="sheet-1", **extra)
    if "GOOGLE_SERVICE_ACCOUNT_FILE" in extra:
        del env["GOOGLE_SERVICE_ACCOUNT_JSON"]  # the inline JSON would win over the file
    return env


def test_a_missing_service_account_file_is_one_line(startup_world):
    env = _sheet_env(
        startup_world, GOOGLE_SERVICE_ACCOUNT_FILE=str(startup_world.tmp / "nowhere.json")
    )
    startup_world.check(env, "cannot read GOOGLE_SERVICE_ACCOUNT_FILE", area="store")


def test_a_malformed_service_account_file_is_one_line(startup_world):
    env = _sheet_env(
        startup_world, GOOGLE_SERVICE_ACCOUNT_FILE=startup_world.file("sa.json", "{not json")
    )
    startup_world.check(env, "is not valid JSON", area="store")


def test_a_key_that_is_not_a_key_is_one_line_that_says_so(startup_world):
    info = service_account_info(token_uri=f"{CLOSED}/token")
    info["private_key"] = startup_world.canaries.values["GOOGLE_SERVICE_ACCOUNT_JSON"]
    env = _sheet_env(startup_world, GOOGLE_SERVICE_ACCOUNT_JSON=json.dumps(info))
    startup_world.check(
        env, "the private_key of the service-account key is not a private key", real=True
    )


def test_an_unreachable_google_token_url_gives_up_within_the_startup_timeout(startup_world):
    key = startup_world.file(
        "sa.json", json.dumps(service_account_info(token_uri=f"{CLOSED}/token"))
    )
    env = _sheet_env(startup_world, GOOGLE_SERVICE_ACCOUNT_FILE=key, HUB_STARTUP_TIMEOUT="2")
    began = time.monotonic()
    line = startup_world.check(env, "could not reach the Google token URL", area="store", real=True)
    assert "HUB_STARTUP_TIMEOUT=2 s" in line and "HUB_GOOGLE_TOKEN_URL" in line
    assert time.monotonic() - began < 15  # serve (~3 s with its imports) and the doctor


def test_sigterm_ends_a_start_up_waiting_on_a_silent_token_url(startup_world):
    """The token URL accepts the connection and never answers: SIGTERM still ends start-up."""
    with _silent_server() as (port, connected):
        key = startup_world.file("sa.json", json.dumps(service_account_info(token_uri="x")))
        env = _sheet_env(
            startup_world,
            GOOGLE_SERVICE_ACCOUNT_FILE=key,
            HUB_GOOGLE_TOKEN_URL=f"http://127.0.0.1:{port}/token",
        )
        proc = subprocess.Popen(
            [sys.executable, "-m", "hub", "serve"], cwd=startup_world.tmp, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        try:
            assert connected.wait(30), "start-up never asked the token URL"
            stopped_at = time.monotonic()
            proc.terminate()
            output, _ = proc.communicate(timeout=10)
        finally:
            proc.kill()
    assert time.monotonic() - stopped_at < 3
    assert proc.returncode == 1 and output.strip() == "start-up stopped by SIGTERM", output


class _silent_server:
    """A TCP port that accepts connections and never answers (and sets ``connected``)."""

    def __enter__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.connected = threading.Event()
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()
        return self.sock.getsockname()[1], self.connected

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)
            self.connected.set()

    def __exit__(self, *exc):
        self.sock.close()
        for conn in self.held:
            conn.close()


# --- ranges and keys ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"HUB_PORT": "180212"}, "HUB_PORT: Input should be less than or equal to 65535"),
        ({"HUB_LOG_LEVEL": "loud"}, "HUB_LOG_LEVEL: Input should be"),
        ({"HUB_BODY_TIMEOUT": "0"}, "HUB_BODY_TIMEOUT: Input should be greater than 0"),
        ({"HUB_SECRET_KEYS": "x"}, "the key in HUB_SECRET_KEYS is shorter than 32 characters"),
        ({"HUB_API_KEYS": "a"}, "the key in HUB_API_KEYS is shorter than 20 characters"),
    ],
    ids=["port", "log-level", "body-timeout", "weak-secret-key", "weak-api-key"],
)
def test_ranges_and_weak_keys_are_refused_in_one_line(startup_world, extra, expected):
    env = startup_world.canaries.env(startup_world.data_dir, **extra)
    line = startup_world.check(env, expected, real="HUB_PORT" in extra)
    assert ": correct " in line or "HUB_ALLOW_WEAK_KEYS=true" in line


def test_weak_keys_start_when_allowed(startup_world):
    weak = Settings(
        _env_file=None, data_dir=startup_world.data_dir, secret_keys=["x"], api_keys=["a"]
    )
    with pytest.raises(StartupError, match="HUB_API_KEYS is shorter than 20"):
        prepare(weak)
    allowed = weak.model_copy(update={"allow_weak_keys": True})
    prepare(allowed).close()  # starts
    env = startup_world.canaries.env(
        startup_world.data_dir, HUB_SECRET_KEYS="x", HUB_API_KEYS="a", HUB_ALLOW_WEAK_KEYS="true"
    )
    warned = [f["message"] for f in startup_world.doctor(env)["findings"] if f["level"] == "warn"]
    assert any("HUB_SECRET_KEYS is shorter" in m for m in warned)
    assert any("HUB_API_KEYS is shorter" in m for m in warned)


# --- sending without its settings ------------------------------------------------------------
def test_smtp_without_its_settings_asks_no_dns_about_the_placeholder_domain(startup_world):
    with running_dns({}) as dns:
        env = startup_world.canaries.env(
            startup_world.data_dir, HUB_MAILER="smtp", HUB_DNS_NAMESERVER=dns.address
        )
        for name in ("SMTP_PASSWORD", "IMAP_PASSWORD"):
            env.pop(name)
        startup_world.check(env, "HUB_MAILER=smtp needs SMTP_HOST", area="settings")
        assert dns.queries == []
    identity_lines = [
        f for f in startup_world.doctor(env)["findings"] if "hub.invalid" in f["message"]
    ]
    assert identity_lines == []


# --- PostgreSQL ------------------------------------------------------------------------------
@pytest.fixture
def refusing_role(postgres_cluster):
    dsn = postgres_cluster.password_role("pwcheck", "right-password")

    def refused() -> bool:
        try:
            psycopg.connect(dsn.replace("right-password", "wrong"), connect_timeout=2).close()
        except psycopg.OperationalError as exc:
            return "password authentication failed" in str(exc)
        return False

    wait_until(refused, timeout=10, what="pg_hba.conf reloaded")
    return f"postgresql://pwcheck@127.0.0.1:{postgres_cluster.port}/postgres"


def test_a_refused_database_password_says_so(startup_world, refusing_role):
    env = startup_world.canaries.env(
        startup_world.data_dir, HUB_DATABASE_URL=startup_world.canaries.database_url(refusing_role)
    )
    startup_world.check(
        env, "is not reachable (the password was refused)", area="database", real=True
    )


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("nohost.invalid:5432/hub", "(unknown host name)"),
        ("127.0.0.1:99999/hub", "(the port is not a number from 1 to 65535)"),
        ("127.0.0.1:{port}/postgres?sslmode=require", "(the server does not offer SSL"),
        ("127.0.0.1:{port}/postgres?sslmode=sometimes", "(sslmode is not one of"),
        ("[127.0.0.1:{port}/postgres", "(HUB_DATABASE_URL is not a valid postgresql:// URL)"),
        ("127.0.0.1:{unused}/postgres", "(connection refused)"),
    ],
    ids=["unknown-host", "bad-port", "ssl-required", "bad-sslmode", "unmatched-bracket", "refused"],
)
def test_the_exact_database_reason_is_given(startup_world, postgres_cluster, where, expected):
    where = where.format(port=postgres_cluster.port, unused=postgres_cluster.port + 1)
    env = startup_world.canaries.env(
        startup_world.data_dir,
        HUB_DATABASE_URL=startup_world.canaries.database_url(f"postgresql://hub@{where}"),
    )
    startup_world.check(env, expected, area="database")


def test_a_password_with_url_delimiters_is_named_as_a_bad_url_and_never_printed(startup_world):
    password = "Db/Pw#55?21" + startup_world.canaries.values["HUB_DATABASE_URL"]
    startup_world.canaries.values["HUB_DATABASE_URL"] = password
    try:
        env = startup_world.canaries.env(
            startup_world.data_dir,
            HUB_DATABASE_URL=f"postgresql://hub:{password}@127.0.0.1:5999/hub",
        )
        startup_world.check(
            env, "HUB_DATABASE_URL is not a valid postgresql:// URL", area="database", real=True
        )
        # Any other command: psycopg_pool's retries log libpq's message, which quotes the
        # piece of the URL it could not parse (here, the tail of the password).
        rows = subprocess.run(
            [sys.executable, "-m", "hub", "rows", "list"], cwd=startup_world.tmp, env=env,
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert rows.returncode != 0 and "not a valid postgresql:// URL" in rows.stderr
        startup_world.no_canary(rows.stdout + rows.stderr)
        assert "21@" not in rows.stderr
    finally:
        startup_world.canaries.values["HUB_DATABASE_URL"] = password[len("Db/Pw#55?21") :]


def test_every_secret_setting_has_a_canary(canaries):
    """A new secret setting must be planted too (tests/canaries.py finds them by type)."""
    assert "HUB_DATABASE_URL" in canaries.values and "HUB_EVENTS_SECRET" in canaries.values
    assert len(canaries.values) >= 12
