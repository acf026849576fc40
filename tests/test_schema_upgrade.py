"""Databases made by the release before the one schema upgrade in place, every row kept.

Each is built exactly as that release built it, from its DDL frozen in tests/legacy_schema.py
(a SQLite data dir: state.sqlite3, discovery.sqlite3, prospects.sqlite3; a PostgreSQL database
numbered in hub_schema_migrations), filled with rows, then opened by this code the way a hub
opens it. Afterwards its schema, read back by SQLAlchemy's inspector, equals that of a database
this code creates fresh, and its rows are the ones put in.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from hub.cli import app
from hub.sending.ledger import Ledger
from hub.state.database import SqliteDatabase
from hub.state.migrate import database_version, upgrade
from hub.state.migrations import CODE_VERSION, HEAD_REVISION, VERSION_TABLE, SchemaTooNew
from hub.state.postgres import PostgresState
from hub.state.sqlite import State
from sheets.local import LocalStore
from sheets.postgres import PostgresStore
from sheets.schema_upgrade import postgres_engine
from sheets.schema_version import STORE_VERSION, StoreSchemaTooNew
from tests import legacy_schema as legacy
from tests.schema_shape import schema_shape

# Rows as the hub writes them, one or two per table (seq given, so a deleted one can be too).
HUB_ROWS: dict[str, list[dict]] = {
    "jobs": [
        {"seq": 1, "id": "j1", "job_type": "discover", "status": "completed",
         "params": '{"q": "art"}', "source": "api", "created_at": "2026-01-01T00:00:00Z",
         "result": '{"found": 3}', "attempts": 1},
        {"seq": 2, "id": "j2", "job_type": "send", "status": "running", "waiting": 1,
         "created_at": "2026-01-02T00:00:00Z", "lease_owner": "host:1:n", "lease_expires": 17e8},
    ],
    "inbox": [
        {"seq": 1, "dedupe_key": "make:e1", "source": "make", "action": "import_rows",
         "payload": "{}", "job_id": "j1", "received_at": 1.5, "expires_at": 2.5,
         "processed_at": 2.0},
    ],
    "deliveries": [
        {"seq": 1, "at": "2026-01-01T00:00:00Z", "route": "/webhooks/make", "action": "x",
         "verdict": "accepted", "status": 202, "reason": "", "job_id": "j1"},
    ],
    "outbox": [
        {"seq": 1, "id": "msg_1", "event_type": "job.completed", "body": '{"a": 1}',
         "created_at": 3.25, "status": "delivered", "attempts": 2, "next_attempt_at": 4.0,
         "delivered_at": 5.0},
    ],
    "outbox_attempts": [
        {"seq": 1, "event_id": "msg_1", "at": 4.5, "status_code": 500, "error": "boom",
         "duration_ms": 12},
    ],
    "send_intents": [
        {"hub_id": "h1", "step": 0, "message_id": "<m1@x>", "recipient": "a@b.example",
         "recipient_domain": "b.example", "subject": "Hi", "body": "text", "created_at": 6.0,
         "attempted_at": 6.5, "owner": "1@host", "lease_until": 7.0, "identity": "ada"},
    ],
    "sends": [
        {"hub_id": "h1", "step": 0, "message_id": "<m1@x>", "recipient": "a@b.example",
         "recipient_domain": "b.example", "subject": "Hi", "provider_id": "p1",
         "thread_id": "t1", "sent_at": 6.75, "how": "sent", "identity": "ada"},
    ],
    "suppressed": [{"email": "no@b.example", "reason": "unsubscribed", "added_at": 8.0}],
    "mailbox_cursor": [{"mailbox": "INBOX", "cursor": "42", "updated_at": "2026-01-03Z"}],
    "row_changes": [
        {"seq": 1, "hub_id": "h1", "at": 9.0, "actor": "cli", "column_name": "notes",
         "before": "", "after": "call back"},
    ],
    "discovery_jobs": [
        {"job_id": "j1", "params": '{"keywords": ["art"]}', "created_at": 1.0, "finished": 1},
    ],
    "discovery_tasks": [
        {"task_id": "t1", "job_id": "j1", "keyword": "art", "location": "Paris",
         "status": "done", "posted_at": 1.0, "done_at": 2.0, "found": 3, "added": 2,
         "duplicates": 1},
    ],
}  # fmt: skip
# Only PostgreSQL had these before the one schema (several machines).
PG_ONLY_ROWS: dict[str, list[dict]] = {
    "periodic_runs": [{"name": "tick", "ran_at": 10.0}],
    "dry_run_previews": [
        {"hub_id": "h1", "step": 0, "machine": "m:/out", "owner": "o", "file": "h1-0.eml",
         "written": 1, "lease_until": 11.0},
    ],
}  # fmt: skip
DISCOVERY_TABLES = ("discovery_jobs", "discovery_tasks")
HEADER = '["hub_id", "domain", "outreach_status", "notes"]'
PROSPECTS = [
    {"pos": 1, "hub_id": "p1", "domain": "a.example", "outreach_status": "sent",
     "data": '{"hub_id": "p1", "domain": "a.example", "outreach_status": "sent"}'},
    {"pos": 3, "hub_id": "p3", "domain": "c.example", "outreach_status": "",
     "data": '{"hub_id": "p3", "domain": "c.example", "notes": "mine"}'},
]  # fmt: skip


def insert(execute, table: str, rows: list[dict], mark: str = "?") -> None:
    for row in rows:
        columns = ", ".join(row)
        execute(
            f"INSERT INTO {table} ({columns}) VALUES ({', '.join([mark] * len(row))})",
            tuple(row.values()),
        )


def read(conn: sa.Connection, table: str, columns) -> list[dict]:
    names = ", ".join(columns)
    found = conn.exec_driver_sql(f"SELECT {names} FROM {table} ORDER BY 1, 2")
    return [dict(row._mapping) for row in found]


def assert_rows_kept(conn: sa.Connection, tables: dict[str, list[dict]]) -> None:
    """Every row, each column it was given with its value (the others hold their defaults)."""
    for table, rows in tables.items():
        found = read(conn, table, ["*"])
        assert [{k: f[k] for k in row} for f, row in zip(found, rows, strict=True)] == rows, table


def sqlite_conn(path: Path) -> sa.Engine:
    return sa.create_engine(f"sqlite:///{path}")


# --- SQLite: a data dir made by today's release -----------------------------------------------
def make_todays_data_dir(data_dir: Path) -> None:
    data_dir.mkdir(parents=True)
    with sqlite3.connect(data_dir / "state.sqlite3") as db:
        for script in (
            legacy.SQLITE_STATE,
            legacy.SQLITE_LEDGER,
            legacy.SQLITE_LEDGER_INDEXES,
            legacy.SQLITE_SUPPRESSION,
            legacy.SQLITE_ROW_HISTORY,
            legacy.SQLITE_MAILBOX_CURSOR,
        ):
            db.executescript(script)
        db.execute(f"PRAGMA user_version={legacy.SQLITE_STATE_USER_VERSION}")
        for table, rows in HUB_ROWS.items():
            if table not in DISCOVERY_TABLES:
                insert(db.execute, table, rows)
        # A job deleted after it was made: its seq (3) must never come back.
        insert(db.execute, "jobs", [{"seq": 3, "id": "j3", "job_type": "tick",
                                     "status": "completed", "created_at": "x"}])  # fmt: skip
        db.execute("DELETE FROM jobs WHERE seq=3")
    with sqlite3.connect(data_dir / "discovery.sqlite3") as db:
        db.executescript(legacy.SQLITE_DISCOVERY)
        for table in DISCOVERY_TABLES:
            insert(db.execute, table, HUB_ROWS[table])
    with sqlite3.connect(data_dir / "prospects.sqlite3") as db:
        db.executescript(legacy.SQLITE_STORE)
        db.execute("INSERT INTO meta(key, value) VALUES('header', ?)", (HEADER,))
        insert(db.execute, "prospects", [*PROSPECTS[:1], {**PROSPECTS[0], "pos": 2,
                                                          "hub_id": "p2"}, PROSPECTS[1]])  # fmt: skip
        db.execute("DELETE FROM prospects WHERE hub_id='p2'")


def open_data_dir(data_dir: Path) -> None:
    """Open every file as a hub does: the state, the DataForSEO records, the local store."""
    State(data_dir / "state.sqlite3").close()
    SqliteDatabase(data_dir / "discovery.sqlite3").close()
    LocalStore(data_dir / "prospects.sqlite3").close()


def test_a_sqlite_data_dir_made_by_todays_release_upgrades_in_place(tmp_path):
    old, fresh = tmp_path / "old" / "hub-data", tmp_path / "fresh" / "hub-data"
    make_todays_data_dir(old)
    open_data_dir(old)
    fresh.mkdir(parents=True)
    open_data_dir(fresh)

    for name in ("state.sqlite3", "discovery.sqlite3", "prospects.sqlite3"):
        upgraded, created = sqlite_conn(old / name), sqlite_conn(fresh / name)
        with upgraded.connect() as a, created.connect() as b:
            assert schema_shape(a) == schema_shape(b), name
        upgraded.dispose()
        created.dispose()

    state = sqlite_conn(old / "state.sqlite3")
    with state.connect() as conn:
        assert_rows_kept(conn, {t: r for t, r in HUB_ROWS.items() if t not in DISCOVERY_TABLES})
        assert conn.exec_driver_sql(f"SELECT * FROM {VERSION_TABLE}").scalar() == HEAD_REVISION
    state.dispose()
    discovery = sqlite_conn(old / "discovery.sqlite3")
    with discovery.connect() as conn:
        assert_rows_kept(conn, {t: HUB_ROWS[t] for t in DISCOVERY_TABLES})
    discovery.dispose()

    # The hub goes on with it: new ids after the deleted ones, the store's rows and header.
    hub_state = State(old / "state.sqlite3")
    job = hub_state.insert_job("tick", {})
    assert hub_state.query("SELECT seq FROM jobs WHERE id=?", (job,))[0][0] == 4
    hub_state.close()
    store = LocalStore(old / "prospects.sqlite3")
    assert [r["hub_id"] for r in store.rows()] == ["p1", "p3"]
    assert store.header() == ["hub_id", "domain", "outreach_status", "notes"]
    assert store.get("p3")["notes"] == "mine"
    added = store.append([{"domain": "d.example"}]).added
    store.close()
    with sqlite3.connect(old / "prospects.sqlite3") as db:
        assert db.execute("SELECT pos FROM prospects WHERE hub_id=?", added).fetchone()[0] == 4


def test_a_ledger_file_from_today_keeps_its_sends_and_gains_the_other_tables(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(legacy.SQLITE_LEDGER + legacy.SQLITE_LEDGER_INDEXES)
        insert(db.execute, "sends", HUB_ROWS["sends"])
    ledger = Ledger(path)
    assert ledger.sent("h1", 0).identity == "ada"
    assert ledger.count() == 1
    ledger.close()


def test_processes_opening_todays_state_file_together_upgrade_it_once(tmp_path):
    data_dir = tmp_path / "hub-data"
    make_todays_data_dir(data_dir)
    start, failed = threading.Barrier(4), []

    def open_state() -> None:
        start.wait()
        try:  # each its own connections, as separate processes would have
            State(data_dir / "state.sqlite3").close()
        except Exception as exc:
            failed.append(exc)

    threads = [threading.Thread(target=open_state) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failed == []
    with sqlite_conn(data_dir / "state.sqlite3").connect() as conn:
        assert read(conn, "jobs", ["seq", "id"]) == [{"seq": 1, "id": "j1"}, {"seq": 2, "id": "j2"}]


def test_a_hub_refuses_to_start_on_a_state_file_a_newer_hub_migrated(tmp_path, monkeypatch):
    data_dir = tmp_path / "hub-data"
    State(data_dir / "state.sqlite3").close()
    with sqlite3.connect(data_dir / "state.sqlite3") as db:
        db.execute(f"UPDATE {VERSION_TABLE} SET version_num=?", (f"{CODE_VERSION + 1:04d}",))
    monkeypatch.setenv("HUB_DATA_DIR", str(data_dir))
    refused = CliRunner().invoke(app, ["serve"])  # before serving anything, saying what to do
    assert refused.exit_code == 2, refused.output
    assert "refusing to start" in refused.output
    said = " ".join(refused.output.split())  # the console wraps long lines
    assert f"version {CODE_VERSION + 1}, newer than this hub" in said


def test_a_sqlite_store_from_a_newer_hub_is_refused(tmp_path):
    path = tmp_path / "prospects.sqlite3"
    LocalStore(path).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE prospects_alembic_version SET version_num=?", (f"{STORE_VERSION + 1:04d}",))  # fmt: skip
    with pytest.raises(StoreSchemaTooNew, match=f"version {STORE_VERSION + 1}, newer than this"):
        LocalStore(path)


# --- PostgreSQL: a database made by today's release -------------------------------------------
def make_todays_database(dsn: str, versions: int = 5) -> None:
    """As today's ``hub.state.migrate.upgrade`` did it: each migration, then its line."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(legacy.PG_MIGRATIONS_TABLE)
        for version, name, sql in legacy.PG_MIGRATIONS[:versions]:
            with conn.transaction():
                conn.execute(sql)
                conn.execute(
                    "INSERT INTO hub_schema_migrations(version, name) VALUES(%s, %s)",
                    (version, name),
                )
        if versions < 5:
            return
        conn.execute(legacy.PG_STORE)
        for table, rows in {**HUB_ROWS, **PG_ONLY_ROWS}.items():
            insert(conn.execute, table, rows, "%s")
        conn.execute("INSERT INTO prospect_meta(key, value) VALUES('header', %s)", (HEADER,))
        insert(conn.execute, "prospects", [{k: v for k, v in p.items() if k != "pos"}
                                           for p in PROSPECTS], "%s")  # fmt: skip


def pg_shape(dsn: str) -> dict:
    engine = postgres_engine(dsn)
    with engine.connect() as conn:
        shape = schema_shape(conn)
    engine.dispose()
    return shape


def test_a_postgres_database_made_by_todays_release_upgrades_in_place(postgres_cluster):
    old, fresh = postgres_cluster.create_database(), postgres_cluster.create_database()
    make_todays_database(old)
    for dsn in (old, fresh):
        PostgresState(dsn, listen=False).close()
        PostgresStore(dsn).close()
    assert pg_shape(old) == pg_shape(fresh)

    engine = postgres_engine(old)
    with engine.connect() as conn:
        assert_rows_kept(conn, {**HUB_ROWS, **PG_ONLY_ROWS})
        assert read(conn, "prospects", ["hub_id", "domain", "data"]) == [
            {k: p[k] for k in ("hub_id", "domain", "data")} for p in PROSPECTS
        ]
        # The numbered history is carried over as it was; Alembic's record continues it.
        history = conn.exec_driver_sql("SELECT version, name FROM hub_schema_migrations")
        assert sorted(history) == [(v, n) for v, n, _ in legacy.PG_MIGRATIONS]
        assert conn.exec_driver_sql(f"SELECT * FROM {VERSION_TABLE}").scalar() == HEAD_REVISION
    engine.dispose()
    store = PostgresStore(old)
    assert store.header() == ["hub_id", "domain", "outreach_status", "notes"]
    assert [r["hub_id"] for r in store.rows()] == ["p1", "p3"]
    store.close()


def test_a_postgres_database_from_an_older_release_goes_on_from_its_version(postgres_cluster):
    old, fresh = postgres_cluster.create_database(), postgres_cluster.create_database()
    make_todays_database(old, versions=3)
    with psycopg.connect(old, autocommit=True) as conn:
        assert database_version(conn) == 3
    assert upgrade(old) == list(range(4, CODE_VERSION + 1))
    upgrade(fresh)
    assert pg_shape(old) == pg_shape(fresh)


def test_hubs_starting_together_on_todays_database_carry_it_over_once(postgres_cluster):
    dsn = postgres_cluster.create_database()
    make_todays_database(dsn)
    start, failed, applied = threading.Barrier(4), [], []

    def start_hub() -> None:
        start.wait()
        try:
            applied.append(upgrade(dsn))
        except Exception as exc:
            failed.append(exc)

    threads = [threading.Thread(target=start_hub) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failed == []
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert database_version(conn) == CODE_VERSION
        assert conn.execute("SELECT count(*) FROM jobs").fetchone()[0] == len(HUB_ROWS["jobs"])


def test_without_auto_upgrade_todays_database_runs_and_hub_db_upgrade_records_it(
    postgres_cluster, monkeypatch
):
    dsn = postgres_cluster.create_database()
    make_todays_database(dsn)
    state = PostgresState(dsn, auto_upgrade=False, listen=False)
    assert state.schema_version == CODE_VERSION  # the same tables: nothing to refuse
    state.close()
    monkeypatch.setenv("HUB_DATABASE_URL", dsn)
    monkeypatch.setenv("HUB_SECRET_KEYS", "s" * 40)
    monkeypatch.setenv("HUB_API_KEYS", "a" * 40)
    done = CliRunner().invoke(app, ["db", "upgrade"])
    assert done.exit_code == 0, done.output
    status = CliRunner().invoke(app, ["db", "status"])
    assert status.exit_code == 0 and f"database schema: {CODE_VERSION}" in status.output
    with psycopg.connect(dsn, autocommit=True) as conn:
        found = conn.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchone()
    assert found == (HEAD_REVISION,)


def test_a_database_with_hub_tables_but_no_history_is_refused(postgres_cluster):
    dsn = postgres_cluster.create_database()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(legacy.PG_MIGRATION_1)  # tables without their record: not the hub's doing
    with pytest.raises(SchemaTooNew, match="no record of their migrations"):
        upgrade(dsn)
