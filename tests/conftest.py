"""Shared fixtures. Emulators live in tests/emulators/; nothing of our own code is mocked."""

from __future__ import annotations

import pytest

from hub.config import Settings
from sheets.local import LocalStore
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
