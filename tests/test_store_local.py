"""The store contract against the embedded local SQLite store."""

from __future__ import annotations

import pytest

from tests.store_contract import LocalHarness, StoreContract


class TestLocalStoreContract(StoreContract):
    @pytest.fixture
    def harness(self, data_dir):
        harness = LocalHarness(data_dir)
        yield harness
        harness.store.close()
