"""The store contract against a Google Sheet (real gspread + google-auth, Sheets emulator),
and what only a shared, remote sheet can do to us: hand-typed rows, faults, access errors."""

from __future__ import annotations

import pytest

from tests.store_contract import (
    GoogleHarness,
    StoreContract,
    emulator_servers,  # noqa: F401 - a fixture, shared by the tests of this module
    google_sheet_env,
)


@pytest.fixture
def env(data_dir, emulator_servers):  # noqa: F811
    with google_sheet_env(data_dir, servers=emulator_servers) as running:
        yield running


class TestGoogleSheetStoreContract(StoreContract):
    @pytest.fixture
    def harness(self, env):
        return GoogleHarness(env)
