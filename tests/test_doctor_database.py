"""``hub doctor`` on PostgreSQL: reachable, schema version, pool, and the store in it,
against a real throwaway cluster. Read-only: the doctor creates nothing."""

from __future__ import annotations

import json

import psycopg

from hub.config import Settings
from hub.doctor import run_checks
from hub.doctor.checks_database import check_database
from hub.doctor.checks_store import check_store
from hub.state.migrate import upgrade
from hub.state.migrations import CODE_VERSION
from sheets.postgres import PostgresStore


def pg_settings(data_dir, dsn: str, **more) -> Settings:
    values = {"data_dir": data_dir, "database_url": dsn, "database_pool_size": 2}
    return Settings(_env_file=None, **(values | more))


def by_level(findings) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for f in findings:
        found.setdefault(f.level, []).append(f.message)
    return found


def test_without_a_database_url_there_is_nothing_to_check(settings):
    assert check_database(settings) == []


def test_an_unreachable_database_is_one_error_naming_it_without_the_password(
    data_dir, postgres_cluster
):
    port = postgres_cluster.port + 1  # nothing listens next to the cluster
    dsn = f"postgresql://hub:s3cret-pw@127.0.0.1:{port}/hub"

    findings = check_database(pg_settings(data_dir, dsn), timeout=2)

    assert [(f.level, f.area) for f in findings] == [("error", "database")]
    assert f"127.0.0.1:{port}/hub is not reachable (connection refused)" in findings[0].message
    assert "HUB_DATABASE_URL" in findings[0].fix
    report = run_checks(pg_settings(data_dir, dsn), timeout=2, deadline=10)
    assert not report.ok and "s3cret" not in json.dumps(report.to_dict())


def test_schema_version_empty_then_current_then_newer_than_the_code(data_dir, postgres_dsn):
    settings = pg_settings(data_dir, postgres_dsn)

    fresh = by_level(check_database(settings))
    assert "error" not in fresh
    assert "the hub's tables are not created yet (schema version 0)" in fresh["warn"]
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname='public'").fetchone()[0] == 0  # fmt: skip
    upgrade(postgres_dsn)

    current = by_level(check_database(settings))
    assert current.keys() == {"ok"}
    assert f"the database schema is up to date (version {CODE_VERSION})" in current["ok"]
    assert any(m.startswith("a pool of 2 connections opened") for m in current["ok"])

    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute(  # as a newer hub's migration would leave it
            "UPDATE hub_alembic_version SET version_num=%s", (f"{CODE_VERSION + 1:04d}",)
        )
    newer = by_level(check_database(settings))
    assert [m for m in newer["error"] if f"version {CODE_VERSION + 1}, newer than" in m]


def test_a_pool_the_server_cannot_fill_is_an_error(data_dir, postgres_cluster, postgres_dsn):
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS tight")
        conn.execute("CREATE ROLE tight LOGIN CONNECTION LIMIT 3")
    try:
        dsn = postgres_dsn.replace("postgres@", "tight@")
        # One connection for the checks themselves, then a pool of 4 with 2 left for it.
        findings = check_database(pg_settings(data_dir, dsn, database_pool_size=4), timeout=2)
        assert "could open only 2 of the 4 pool connections" in " ".join(
            by_level(findings)["error"]
        )
        fits = check_database(pg_settings(data_dir, dsn, database_pool_size=2), timeout=2)
        assert "error" not in by_level(fits)
    finally:
        postgres_cluster.drop_database(postgres_dsn.rsplit("/", 1)[1])  # ends tight's sessions
        with psycopg.connect(postgres_cluster.dsn, autocommit=True) as conn:
            conn.execute("DROP ROLE tight")


def test_the_store_in_postgres_is_checked_and_never_created(data_dir, postgres_dsn):
    settings = pg_settings(data_dir, postgres_dsn)

    missing = check_store(settings)
    assert [f.level for f in missing.findings] == ["ok"]
    assert "does not exist yet" in missing.findings[0].message
    assert "PostgreSQL at 127.0.0.1" in missing.findings[0].message
    with psycopg.connect(postgres_dsn) as conn:  # still nothing created
        assert conn.execute("SELECT to_regclass('prospects')").fetchone() == (None,)

    store = PostgresStore(postgres_dsn)
    try:
        store.ensure_schema()
        store.append([{"domain": "a.example"}, {"domain": "b.example"}])
    finally:
        store.close()
    present = check_store(settings)
    assert [f.level for f in present.findings] == ["ok"]
    assert "header complete" in present.findings[0].message
    assert sorted(r["domain"] for r in present.rows) == ["a.example", "b.example"]


def test_doctor_runs_whole_on_postgres(data_dir, postgres_dsn):
    upgrade(postgres_dsn)
    report = run_checks(pg_settings(data_dir, postgres_dsn, database_pool_size=1), deadline=20)
    database = report.in_area("database")
    assert [f.level for f in database] == ["ok", "ok", "ok"]
    assert report.findings.index(database[0]) < report.findings.index(report.in_area("store")[0])


def test_the_whole_doctor_on_an_empty_database_creates_nothing(data_dir, postgres_dsn):
    report = run_checks(pg_settings(data_dir, postgres_dsn), deadline=20)

    assert "the hub's tables are not created yet (schema version 0)" in [
        f.message for f in report.in_area("database")
    ]
    with psycopg.connect(postgres_dsn) as conn:
        tables = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        assert tables.fetchall() == []
    assert list(data_dir.iterdir()) == []


def test_the_doctor_reads_rows_without_migrating_the_hub_schema(data_dir, postgres_dsn):
    store = PostgresStore(postgres_dsn)  # the prospect store exists, the hub's tables do not
    try:
        store.ensure_schema()
        store.append([{"domain": "a.example"}])
    finally:
        store.close()

    report = run_checks(pg_settings(data_dir, postgres_dsn), deadline=20)

    assert report.in_area("rows"), report.findings  # the rows were read and checked
    with psycopg.connect(postgres_dsn) as conn:
        tables = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        found = sorted(t for (t,) in tables)
    assert found == ["prospect_meta", "prospects", "prospects_alembic_version"]  # the store's


def test_a_send_job_holding_its_lease_in_postgres_is_seen(data_dir, postgres_dsn):
    from hub.doctor.checks_rows import running_send_jobs
    from hub.state.factory import open_state

    settings = pg_settings(data_dir, postgres_dsn)
    assert running_send_jobs(settings) == []  # no hub tables yet, and none created
    state = open_state(settings)
    try:
        held = state.insert_job("send")
        expired = state.insert_job("followup")
        assert state.claim_job(held, "elsewhere:1:n", 600, owner_dead=lambda owner: False)
        assert state.claim_job(expired, "elsewhere:2:n", -1, owner_dead=lambda owner: False)
        state.insert_job("send")  # pending: holds nothing
    finally:
        state.close()

    assert running_send_jobs(settings) == [held]


def test_a_pool_that_leaves_no_room_for_another_process_is_a_warning(data_dir):
    from hub.doctor.checks_database import process_footprint
    from tests.postgres_cluster import running_cluster

    with running_cluster(max_connections=20) as small:  # 17 for clients (3 are reserved)
        dsn = small.create_database("hub")
        roomy = by_level(check_database(pg_settings(data_dir, dsn, database_pool_size=2)))
        tight = by_level(check_database(pg_settings(data_dir, dsn, database_pool_size=6)))

    assert "error" not in roomy and "error" not in tight
    assert [m for m in roomy["ok"] if m.startswith("a pool of 2 connections opened")]
    assert process_footprint(6) == 17
    (warning,) = [m for m in tight["warn"] if "pool" in m]
    assert warning.startswith("a pool of 6 connections opened; the server has ")
    assert "another hub process (up to 17 connections with this pool size) would not fit" in warning
