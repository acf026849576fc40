"""The store contract against the prospect store on PostgreSQL, plus what only several
processes sharing one database can show: de-duplication and writes across stores."""

from __future__ import annotations

import threading

import psycopg
import pytest

from sheets.postgres import PostgresStore, describe_dsn
from sheets.store import ProspectStore, StoreError
from tests.store_contract import Harness, StoreContract


class PostgresHarness(Harness):
    """The person at the keyboard edits the rows in the database behind the store's back."""

    name = "postgres"

    def __init__(self, dsn: str):
        self.store = PostgresStore(dsn)

    def seed(self, grid: list[list[str]]) -> ProspectStore:
        header, *lines = grid
        self.store.append([dict(zip(header, line, strict=False)) for line in lines])
        self.store._save_header(header)
        return self.store

    def human_sort(self, column: str, *, reverse: bool = False) -> None:
        """Row order has no meaning to writes (they go by hub_id): nothing to do."""

    def human_insert_top(self, cells: dict[str, str]) -> None:
        self.store.append([cells], dedupe_by_domain=False)

    def human_delete(self, hub_id: str) -> None:
        assert self.store.delete(hub_id)

    def human_edit(self, hub_id: str, column: str, text: str) -> None:
        self.store.human_edit(hub_id, column, text)

    def grid(self) -> list[list[str]]:
        header = self.store.header()
        return [header] + [[row.get(c, "") for c in header] for row in self.store.rows()]


class TestPostgresStoreContract(StoreContract):
    @pytest.fixture
    def harness(self, postgres_dsn):
        harness = PostgresHarness(postgres_dsn)
        yield harness
        harness.store.close()


@pytest.fixture
def two_stores(postgres_dsn):
    """Two stores on one database: what two hub processes on two machines hold."""
    first, second = PostgresStore(postgres_dsn), PostgresStore(postgres_dsn)
    first.ensure_schema()
    second.ensure_schema()
    yield first, second
    first.close()
    second.close()


def test_rows_imported_through_one_store_are_listed_by_the_other(two_stores):
    first, second = two_stores
    added = first.append([{"domain": "a.example"}, {"domain": "b.example", "notes": "mine"}])

    assert [r["domain"] for r in second.rows()] == ["a.example", "b.example"]
    assert second.get(added.added[1])["notes"] == "mine"
    assert "notes" in second.header()
    assert second.count_by_status() == {"pending": 2}


def test_concurrent_imports_of_one_domain_add_it_once(two_stores):
    first, _ = two_stores
    start = threading.Barrier(8)
    reports = []

    def import_through(store):
        start.wait()
        reports.append(store.append([{"domain": "same.example"}, {"domain": "www.same.example"}]))

    threads = [threading.Thread(target=import_through, args=(s,)) for s in two_stores * 4]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(len(r.added) for r in reports) == 1
    assert [r["domain"] for r in first.rows()] == ["same.example"]


def test_concurrent_writes_to_one_row_keep_every_cell(two_stores):
    first, second = two_stores
    hub_id = first.append([{"domain": "row.example"}]).added[0]
    columns = ["contact_email", "score", "draft_subject", "draft_body", "snippet", "page_title"]
    start = threading.Barrier(len(columns))

    def write(store, column):
        start.wait()
        store.update({hub_id: {column: f"{column} value"}})

    threads = [
        threading.Thread(target=write, args=(two_stores[i % 2], c)) for i, c in enumerate(columns)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    row = second.get(hub_id)
    assert {c: row.get(c) for c in columns} == {c: f"{c} value" for c in columns}


def test_select_with_a_limit_streams_and_returns_its_connection(postgres_dsn):
    store = PostgresStore(postgres_dsn, max_size=1)
    try:
        store.append([{"domain": f"s{i:05d}.example"} for i in range(2_500)])
        for _ in range(3):  # with one connection, a cursor left open would block the next call
            picked = store.select(lambda r: r["domain"].endswith("7.example"), limit=3)
            assert [r["domain"] for r in picked] == ["s00007.example", "s00017.example",
                                                     "s00027.example"]  # fmt: skip
        rows = store.rows()
        assert len(rows) == 2_500 and rows[-1]["domain"] == "s02499.example"
        first, last = rows[0], rows[-1]  # in different fetch batches
        assert list(first) == list(last)
        assert all(first[k] is last[k] for k in ("outreach_status", "created_at"))
    finally:
        store.close()


def test_schema_is_created_once_by_stores_starting_together(postgres_dsn):
    start = threading.Barrier(4)
    opened, failed = [], []

    def open_store():
        start.wait()
        try:
            opened.append(PostgresStore(postgres_dsn))
        except Exception as exc:  # a race in CREATE TABLE would surface here
            failed.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for store in opened:
        store.close()
    assert failed == [] and len(opened) == 4
    with psycopg.connect(postgres_dsn) as conn:
        tables = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname='public' ORDER BY 1"
        ).fetchall()
    assert tables == [("prospect_meta",), ("prospects",), ("prospects_alembic_version",)]


def test_an_unreachable_database_is_named_without_its_password(postgres_cluster):
    dsn = f"postgresql://hub:s3cret-pw@127.0.0.1:{postgres_cluster.port + 1}/nowhere"
    with pytest.raises(StoreError) as caught:
        PostgresStore(dsn, connect_timeout=1)
    assert f"127.0.0.1:{postgres_cluster.port + 1}/nowhere" in str(caught.value)
    assert "s3cret" not in str(caught.value)
    assert describe_dsn(dsn) == f"127.0.0.1:{postgres_cluster.port + 1}/nowhere"


def test_concurrent_edits_of_one_row_from_two_stores_keep_both(two_stores):
    first, second = two_stores
    hub_id = first.append([{"domain": "row.example"}]).added[0]
    start = threading.Barrier(2)
    reports = []

    def edit(store, cells):
        start.wait()
        reports.append(store.edit({hub_id: cells}))

    threads = [
        threading.Thread(target=edit, args=(first, {"contact_name": "Ann"})),
        threading.Thread(target=edit, args=(second, {"draft_subject": "Hello"})),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    row = second.get(hub_id)
    assert (row["contact_name"], row["draft_subject"]) == ("Ann", "Hello")
    assert all(list(r.changed) == [hub_id] for r in reports)
