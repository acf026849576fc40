"""The store contract against the embedded local SQLite store."""

from __future__ import annotations

import pytest

from sheets.local import LocalStore
from tests.store_contract import LocalHarness, StoreContract


class TestLocalStoreContract(StoreContract):
    @pytest.fixture
    def harness(self, data_dir):
        harness = LocalHarness(data_dir)
        yield harness
        harness.store.close()


def test_rows_across_decode_batches_keep_order_and_share_keys(data_dir):
    store = LocalStore(data_dir / "prospects.sqlite3")
    try:
        store.ensure_schema()
        store.append([{"domain": f"s{i:05d}.example"} for i in range(2_500)])
        store.human_edit(store.select(lambda r: True, limit=1)[0]["hub_id"], "notes", "typed")

        rows = store.rows()

        assert [r["domain"] for r in rows] == [f"s{i:05d}.example" for i in range(2_500)]
        assert rows[0]["notes"] == "typed" and "notes" not in rows[1]
        first, last = rows[1], rows[-1]  # in different batches of one json.loads each
        assert [k for k in first if k != "notes"] == list(last)
        assert all(first[k] is last[k] for k in ("outreach_status", "created_at"))
        picked = store.select(lambda r: r["domain"].endswith("99.example"))
        assert [r["domain"] for r in picked] == [f"s{i:05d}.example" for i in range(99, 2500, 100)]
    finally:
        store.close()
