"""Shared fixtures. Emulators live in tests/emulators/; nothing of our own code is mocked."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from hub.config import Settings
from sheets.local import LocalStore
from tests.emulators.discovery_validator import REFUSALS
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
