"""Several threads opening one new SQLite file at once (a job and a request both reaching the
discovery task file first, say) all get a working connection."""

from __future__ import annotations

import threading

from hub.state.database import SqliteDatabase
from sheets.local import LocalStore


def _open_at_once(opener, path, *, threads: int = 4) -> list[Exception]:
    errors: list[Exception] = []
    start = threading.Barrier(threads)

    def open_one() -> None:
        start.wait()
        try:
            opener(path).close()
        except Exception as exc:  # the assertion below shows which
            errors.append(exc)

    workers = [threading.Thread(target=open_one) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return errors


def test_threads_creating_one_state_file_at_once_all_open_it(tmp_path):
    errors = [e for i in range(25) for e in _open_at_once(SqliteDatabase, tmp_path / f"{i}.db")]
    assert errors == []


def test_threads_creating_one_local_store_at_once_all_open_it(tmp_path):
    errors = [e for i in range(8) for e in _open_at_once(LocalStore, tmp_path / f"{i}.db")]
    assert errors == []
