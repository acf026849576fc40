"""The throwaway PostgreSQL cluster the PostgreSQL tests and benches run on."""

from __future__ import annotations

import os

import psycopg
import pytest

from tests.postgres_cluster import running_cluster, skip_reason


def test_each_test_gets_its_own_empty_database(postgres_cluster, postgres_dsn):
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE marker (x int)")
        tables = conn.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
        ).fetchone()
        name = conn.execute("SELECT current_database()").fetchone()[0]
        addr = conn.execute("SELECT inet_server_addr()::text").fetchone()[0]
    assert tables == (1,)
    assert name != "postgres" and postgres_dsn.endswith("/" + name)
    assert addr.startswith("127.0.0.1")
    other = postgres_cluster.create_database()
    try:
        with psycopg.connect(other) as conn:
            assert conn.execute("SELECT to_regclass('marker')").fetchone() == (None,)
    finally:
        postgres_cluster.drop_database(other.rsplit("/", 1)[1])


@pytest.mark.skipif(skip_reason() is not None, reason=str(skip_reason()))
def test_a_cluster_is_stopped_and_removed_when_left():
    with running_cluster() as cluster:
        dsn, base = cluster.dsn, cluster.base_dir
        with psycopg.connect(dsn) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        assert (base / "data" / "PG_VERSION").exists()
    assert not os.path.exists(base)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(dsn, connect_timeout=2)


def test_without_debians_postgresql_the_reason_names_the_package(monkeypatch, tmp_path):
    import tests.postgres_cluster as cluster_module

    monkeypatch.setattr(cluster_module, "_PG_ROOT", tmp_path)
    assert cluster_module.find_pg_bin() is None
    assert "initdb" in skip_reason() and "postgresql" in skip_reason()
    (tmp_path / "13" / "bin").mkdir(parents=True)
    (tmp_path / "13" / "bin" / "initdb").touch()
    (tmp_path / "9.6" / "bin").mkdir(parents=True)
    (tmp_path / "9.6" / "bin" / "initdb").touch()
    assert cluster_module.find_pg_bin() == tmp_path / "13" / "bin"  # the newest
