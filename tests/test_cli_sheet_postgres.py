"""``hub sheet import|status|export`` with ``HUB_DATABASE_URL``: rows imported from one machine
(data dir) are the rows every other machine lists; nothing lands in a SQLite file."""

from __future__ import annotations

import csv

from typer.testing import CliRunner

from hub.cli import app

runner = CliRunner()


def _hub(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["sheet", *args], env=env, catch_exceptions=False)
    return result.exit_code, " ".join(result.output.split())


def test_an_import_on_one_machine_is_what_the_other_exports(postgres_dsn, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no developer .env is read
    machines = [tmp_path / "one" / "hub-data", tmp_path / "two" / "hub-data"]
    envs = [
        {
            "HUB_DATA_DIR": str(data_dir),
            "HUB_DATABASE_URL": postgres_dsn,
            "HUB_SECRET_KEYS": "key",
            "HUB_API_KEYS": "api",
            "HUB_SHEET_ID": "",
        }
        for data_dir in machines
    ]
    source = tmp_path / "in.csv"
    with open(source, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["domain", "page_title"])
        writer.writerows([[f"gallery{i}.example", f"Gallery {i}"] for i in range(5)])

    code, out = _hub(envs[0], "import", str(source))
    assert code == 0 and "added 5 rows; skipped 0 duplicate" in out, out
    code, out = _hub(envs[1], "import", str(source))  # the other machine, the same file
    assert code == 0 and "added 0 rows; skipped 5 duplicate" in out, out

    exported = tmp_path / "out.csv"
    code, out = _hub(envs[1], "export", str(exported))
    assert code == 0 and "wrote 5 rows" in out, out
    with open(exported, newline="") as handle:
        assert sorted(r["domain"] for r in csv.DictReader(handle)) == [
            f"gallery{i}.example" for i in range(5)
        ]
    code, out = _hub(envs[0], "status")
    assert code == 0 and "pending" in out and "5" in out, out
    assert [p for m in machines if m.exists() for p in m.rglob("*.sqlite3")] == []
