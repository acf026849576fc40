"""Shared fixtures: those more than one test module uses, each name meaning one thing.

Emulators live in tests/emulators/; nothing of our own code is mocked. A module keeps a fixture
of its own only when no other module needs it; then its name says what is special about it
(``dfs_with_serp``, ``signed_in``, ``counting_store``, ...).
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from hub.config import Settings
from hub.mail.gmail import GmailMailer
from hub.services import Services
from sheets.local import LocalStore
from tests import hostile_run
from tests.emulators.dataforseo import DataForSEOEmulator
from tests.emulators.discovery_validator import REFUSALS
from tests.emulators.gemini import GeminiEmulator
from tests.emulators.gmail import gmail_world
from tests.emulators.hunter import HunterEmulator
from tests.emulators.serve import serve_in_thread
from tests.emulators.websites import TestSites
from tests.postgres_cluster import postgres_cluster, postgres_dsn  # noqa: F401 - fixtures


@pytest.fixture
def data_dir(tmp_path):
    path = tmp_path / "hub-data"
    path.mkdir()
    return path


@pytest.fixture
def settings(data_dir, monkeypatch) -> Settings:
    # Tests never read a developer's .env or environment by accident.
    monkeypatch.chdir(data_dir.parent)
    return Settings(_env_file=None, data_dir=data_dir)


@pytest.fixture
def local_store(data_dir):
    store = LocalStore(data_dir / "prospects.sqlite3")
    store.ensure_schema()
    yield store
    store.close()


# --- emulators, each served on a free port ------------------------------------------------
@pytest.fixture
def dfs():
    """DataForSEO v3; tasks complete only when a test says so (``auto_complete=False``)."""
    emulator = DataForSEOEmulator(auto_complete=False)
    with serve_in_thread(emulator.app) as server:
        emulator.url = server.url
        yield emulator


@pytest.fixture
def hunter():
    """Hunter v2 (``url`` ends in ``/v2``, as the real base URL does)."""
    emulator = HunterEmulator()
    with serve_in_thread(emulator.app) as server:
        emulator.url = server.url + "/v2"
        yield emulator


@pytest.fixture
def gemini():
    emulator = GeminiEmulator()
    with serve_in_thread(emulator.app) as server:
        emulator.url = server.url
        yield emulator


@pytest.fixture
def sites():
    """Prospects' own websites (for the site crawler and its SSRF guard)."""
    sites = TestSites()
    with serve_in_thread(sites.app) as server:
        sites.port = server.port
        yield sites


@pytest.fixture
def mail_world(settings):
    """Google OAuth + Gmail v1 emulators, with the settings that point a hub at them."""
    with gmail_world(settings) as world:
        yield world


@pytest.fixture
def mail_services(mail_world, local_store):
    """Services that send and read mail through the Gmail emulator, rows in the local store."""
    mailer = GmailMailer.from_settings(mail_world.settings)
    yield Services(settings=mail_world.settings, store=local_store, mailer=mailer)
    mailer.close()


@pytest.fixture(scope="module")
def hunter_world():
    """Every emulator a hostile-rows run needs (tests/hostile_run.py), once per module."""
    with hostile_run.hunter_world() as running:
        yield running


@pytest.fixture
def deliveries():
    """The delivery-log lines a webhook route records (its ``record`` callback appends here)."""
    return []


# --- requests Google would refuse fail the test that sent them ---------------------------------
# The Sheets, Gmail and Gemini emulators check every request against Google's own API
# descriptions (tests/emulators/discovery_validator.py) and answer a bad one with Google's 400.
# The product may handle that 400 quietly (a row marked failed), so the refusal itself fails the
# test, naming the method and the description's reason. A test that sends bad requests on
# purpose says so with @pytest.mark.google_refuses.
_REFUSAL_MARK = pytest.StashKey[int]()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    item.stash[_REFUSAL_MARK] = REFUSALS.mark()


def _refusals_since(item) -> str:
    mark = item.stash.get(_REFUSAL_MARK, REFUSALS.mark())
    refused = REFUSALS.since(mark)
    item.stash[_REFUSAL_MARK] = mark + len(refused)
    if not refused or item.get_closest_marker("google_refuses"):
        return ""
    return f"{len(refused)} request(s) Google would refuse:\n" + "\n".join(map(str, refused))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    try:
        result = yield
    except BaseException:
        if text := _refusals_since(item):
            item.add_report_section("call", "google refusals", text)
        raise
    if text := _refusals_since(item):
        pytest.fail(text, pytrace=False)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    result = yield
    if text := _refusals_since(item):
        pytest.fail(text, pytrace=False)
    return result


def pytest_terminal_summary(terminalreporter):
    checked = REFUSALS.checked
    if checked:
        apis = ", ".join(f"{api} {n}" for api, n in sorted(checked.items()))
        refused = len(REFUSALS.since(0))
        terminalreporter.write_line(
            f"Google API descriptions checked {sum(checked.values())} emulator requests "
            f"({apis}); {refused} refused"
        )


# --- hypothesis: a bounded profile for `make test`, a long one for bench/fuzz.py --------------
# HUB_HYPOTHESIS_PROFILE (or pytest's --hypothesis-profile) picks one. "bounded" is
# derandomized, so the suite is reproducible and a failure shows again on the next run.

_SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example]
hypothesis_settings.register_profile(
    "bounded",
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=_SLOW_OK,
)
# About 4-5 minutes per store on the 2-CPU machine (~0.15 s a pipeline example).
hypothesis_settings.register_profile(
    "long", max_examples=1_500, deadline=None, suppress_health_check=_SLOW_OK
)
hypothesis_settings.load_profile(os.environ.get("HUB_HYPOTHESIS_PROFILE", "bounded"))
