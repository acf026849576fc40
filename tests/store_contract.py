"""One contract for every ``ProspectStore`` backend, plus the emulated Google Sheet it runs on.

A backend's test module subclasses :class:`StoreContract` and provides a ``harness`` fixture: a
:class:`Harness` that builds the store and plays the person at the keyboard (sort, insert,
delete, edit) between the store's read and its write. For the Google Sheet the person acts on
the Sheets emulator (real gspread and google-auth talk to it); for the local store on SQLite.

:func:`google_sheet_env` is also what other tests use to get an emulated Google Sheet.
"""

from __future__ import annotations

import abc
import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hub.config import Settings
from sheets.columns import HUB_COLUMNS, MAX_CELL_CHARS, missing_columns
from sheets.google import GoogleSheetStore
from sheets.human_edits import EditRefused
from sheets.local import LocalStore
from sheets.store import ProspectStore
from tests.emulators import google_keys
from tests.emulators.fake_clock import FakeClock
from tests.emulators.google_oauth import OAuthEmulator
from tests.emulators.serve import serve_in_thread
from tests.emulators.sheets_api import SheetsEmulator

WORKSHEET = "Prospects"


# --- the emulated Google Sheet ----------------------------------------------------------------
@dataclass
class GoogleSheetEnv:
    oauth: OAuthEmulator
    sheets: SheetsEmulator
    clock: FakeClock
    oauth_url: str
    sheets_url: str
    spreadsheet_id: str
    data_dir: Path
    opened: list[GoogleSheetStore] = field(default_factory=list)

    @property
    def token_url(self) -> str:
        return self.oauth_url + "/token"

    def env(self) -> dict[str, str]:
        """Environment variables that point the hub (CLI, server) at the emulators."""
        return {
            "HUB_DATA_DIR": str(self.data_dir),
            "HUB_SHEET_ID": self.spreadsheet_id,
            "HUB_WORKSHEET": WORKSHEET,
            "GOOGLE_SERVICE_ACCOUNT_JSON": json.dumps(google_keys.service_account_info()),
            "HUB_SHEETS_API_URL": self.sheets_url,
            "HUB_GOOGLE_TOKEN_URL": self.token_url,
        }

    def settings(self, **overrides: object) -> Settings:
        values: dict[str, object] = {
            "data_dir": self.data_dir,
            "sheet_id": self.spreadsheet_id,
            "worksheet": WORKSHEET,
            "google_service_account_json": json.dumps(google_keys.service_account_info()),
            "sheets_api_url": self.sheets_url,
            "google_token_url": self.token_url,
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)  # type: ignore[arg-type]

    def store(self, **overrides: object) -> GoogleSheetStore:
        """A store on the fake clock: pacing and backoff cost no real time."""
        store = GoogleSheetStore.from_settings(
            self.settings(**overrides), clock=self.clock, sleep=self.clock.sleep
        )
        self.opened.append(store)
        return store


class Switchboard:
    """An ASGI app that forwards to whichever emulator the current test installed.

    Starting and stopping uvicorn costs ~0.3 s, so a module serves one pair of ports
    (:func:`emulator_servers`) and every test gets fresh emulators behind them.
    """

    def __init__(self) -> None:
        self.target = None

    async def __call__(self, scope, receive, send) -> None:
        if self.target is None:
            raise RuntimeError("no emulator installed behind this port")
        await self.target(scope, receive, send)


@dataclass
class EmulatorServers:
    oauth: Switchboard
    sheets: Switchboard
    oauth_url: str
    sheets_url: str


@pytest.fixture(scope="module")
def emulator_servers() -> Iterator[EmulatorServers]:
    """Import this fixture into a test module to share two served ports across its tests."""
    oauth, sheets = Switchboard(), Switchboard()
    with (
        serve_in_thread(oauth, lifespan="off") as oauth_server,
        serve_in_thread(sheets, lifespan="off") as sheets_server,
    ):
        yield EmulatorServers(oauth, sheets, oauth_server.url, sheets_server.url)


@contextlib.contextmanager
def _served(app, switch: Switchboard | None, url: str | None) -> Iterator[str]:
    if switch is None or url is None:
        with serve_in_thread(app) as server:
            yield server.url
        return
    switch.target = app
    try:
        yield url
    finally:
        switch.target = None


@contextlib.contextmanager
def google_sheet_env(
    data_dir: Path,
    grid: list[list[str]] | None = None,
    *,
    read_quota: int = 60,
    write_quota: int = 60,
    quota_window: float = 60.0,
    shared_with: set[str] | None = None,
    cols: int = 26,
    servers: EmulatorServers | None = None,
) -> Iterator[GoogleSheetEnv]:
    """OAuth + Sheets emulators serving one spreadsheet with a ``Prospects`` worksheet
    (behind ``servers`` when given, else on ports of their own)."""
    clock = FakeClock()
    oauth = OAuthEmulator(public_keys=google_keys.public_keys())
    sheets = SheetsEmulator(
        oauth=oauth,
        read_quota=read_quota,
        write_quota=write_quota,
        quota_window=quota_window,
        clock=clock,
    )
    spreadsheet_id = sheets.create_spreadsheet(
        {WORKSHEET: grid or []}, shared_with=shared_with, cols=cols
    )
    with (
        _served(oauth.app, servers and servers.oauth, servers and servers.oauth_url) as oauth_url,
        _served(sheets.app, servers and servers.sheets, servers and servers.sheets_url) as url,
    ):
        env = GoogleSheetEnv(oauth, sheets, clock, oauth_url, url, spreadsheet_id, data_dir)
        try:
            yield env
        finally:
            for store in env.opened:
                store.close()


# --- the person at the keyboard ---------------------------------------------------------------
class Harness(abc.ABC):
    """Builds a store and edits its rows the way a person would, behind the store's back."""

    name = "abstract"
    store: ProspectStore

    @abc.abstractmethod
    def seed(self, grid: list[list[str]]) -> ProspectStore:
        """A store over a sheet a person filled in (header first), schema NOT yet ensured."""

    @abc.abstractmethod
    def human_sort(self, column: str, *, reverse: bool = False) -> None: ...

    @abc.abstractmethod
    def human_insert_top(self, cells: dict[str, str]) -> None:
        """A new row typed in right below the header (with a hub_id, so the store sees it)."""

    @abc.abstractmethod
    def human_delete(self, hub_id: str) -> None: ...

    @abc.abstractmethod
    def human_edit(self, hub_id: str, column: str, text: str) -> None: ...

    @abc.abstractmethod
    def grid(self) -> list[list[str]]:
        """Header and rows as the person sees them, empty cells as ``""``, full width."""

    def all_writes_raw(self) -> bool:
        return True


class LocalHarness(Harness):
    name = "local"

    def __init__(self, data_dir: Path):
        self.path = data_dir / "prospects.sqlite3"
        self.store = LocalStore(self.path)

    def seed(self, grid: list[list[str]]) -> ProspectStore:
        # The local "sheet" a person left behind: a header in their order and rows typed in.
        header, *lines = grid
        self.store.append([dict(zip(header, line, strict=False)) for line in lines])
        self.store._save_header(header)
        return self.store

    def human_sort(self, column: str, *, reverse: bool = False) -> None:
        """Row order has no meaning to local writes (they go by hub_id): nothing to do."""

    def human_insert_top(self, cells: dict[str, str]) -> None:
        self.store.append([cells], dedupe_by_domain=False)

    def human_delete(self, hub_id: str) -> None:
        assert self.store.delete(hub_id)

    def human_edit(self, hub_id: str, column: str, text: str) -> None:
        self.store.human_edit(hub_id, column, text)

    def grid(self) -> list[list[str]]:
        header = self.store.header()
        return [header] + [[row.get(c, "") for c in header] for row in self.store.rows()]


class GoogleHarness(Harness):
    name = "google"

    def __init__(self, env: GoogleSheetEnv):
        self.env = env
        self.emu = env.sheets
        self.store = env.store()

    def seed(self, grid: list[list[str]]) -> ProspectStore:
        self.emu.insert_rows(1, grid)
        return self.store

    def human_sort(self, column: str, *, reverse: bool = False) -> None:
        self.emu.sort_rows(column, reverse=reverse)

    def human_insert_top(self, cells: dict[str, str]) -> None:
        header = self.emu.cells()[0]
        self.emu.insert_rows(2, [[cells.get(name, "") for name in header]])

    def _row(self, hub_id: str) -> int:
        row = self.emu.row_of("hub_id", hub_id)
        assert row is not None, hub_id
        return row

    def human_delete(self, hub_id: str) -> None:
        self.emu.delete_rows(self._row(hub_id))

    def human_edit(self, hub_id: str, column: str, text: str) -> None:
        self.emu.edit_cell(self._row(hub_id), column, text)

    def grid(self) -> list[list[str]]:
        cells = self.emu.cells()
        width = len(cells[0]) if cells else 0
        return [[str(c) for c in line] + [""] * (width - len(line)) for line in cells]

    def all_writes_raw(self) -> bool:
        writes = [r for r in self.emu.log if r.method.startswith("values.") and r.kind == "write"]
        inputs = {r.value_input_option for r in writes if r.method != "values.clear"}
        return bool(writes) and inputs == {"RAW"}


# --- the contract -----------------------------------------------------------------------------
def _by_domain(store: ProspectStore) -> dict[str, dict[str, str]]:
    return {row["domain"]: row for row in store.rows()}


class StoreContract:
    """Every backend must pass these. Subclasses provide the ``harness`` fixture."""

    @pytest.fixture
    def store(self, harness: Harness) -> ProspectStore:
        harness.store.ensure_schema()
        harness.store.append([{"domain": f"site{i}.example"} for i in range(6)])
        return harness.store

    def test_writes_land_on_their_rows_after_sort_insert_and_delete(self, harness, store):
        before = store.rows()
        gone = _by_domain(store)["site2.example"]["hub_id"]
        harness.human_sort("domain", reverse=True)
        harness.human_insert_top({"hub_id": "h_typed_by_hand", "domain": "typed.example"})
        harness.human_delete(gone)

        report = store.update(
            {row["hub_id"]: {"contact_email": "info@" + row["domain"]} for row in before}
        )

        assert report.missing == [gone]
        assert len(report.written) == 5
        after = _by_domain(store)
        assert "site2.example" not in after
        for domain, row in after.items():
            expected = "" if domain == "typed.example" else "info@" + domain
            assert row.get("contact_email", "") == expected
            if domain != "typed.example":
                assert row.get("updated_at")

    def test_human_owned_and_filled_cells_are_never_changed(self, harness, store):
        row = _by_domain(store)["site0.example"]
        other = _by_domain(store)["site1.example"]
        harness.human_edit(row["hub_id"], "approved", "TRUE")
        harness.human_edit(row["hub_id"], "contact_email", "editor@site0.example")
        harness.human_edit(row["hub_id"], "draft_subject", "My own subject")

        report = store.update(
            {
                row["hub_id"]: {
                    "approved": "FALSE",
                    "contact_email": "info@site0.example",
                    "draft_subject": "Hub subject",
                    "draft_body": "Hub body",
                    "notes": "the hub must not write here",
                },
                other["hub_id"]: {"contact_email": "info@site1.example"},
            }
        )

        now = _by_domain(store)
        assert now["site0.example"]["approved"] == "TRUE"
        assert now["site0.example"]["contact_email"] == "editor@site0.example"
        assert now["site0.example"]["draft_subject"] == "My own subject"
        assert now["site0.example"]["draft_body"] == "Hub body"  # was empty: the hub fills it
        assert "notes" not in now["site0.example"]
        assert now["site1.example"]["contact_email"] == "info@site1.example"
        assert set(report.protected[row["hub_id"]]) == {
            "approved",
            "contact_email",
            "draft_subject",
            "notes",
        }

    def test_a_persons_skip_status_is_kept(self, harness, store):
        row = _by_domain(store)["site3.example"]
        harness.human_edit(row["hub_id"], "outreach_status", "skip")
        store.update({row["hub_id"]: {"outreach_status": "enriched", "score": "70"}})
        now = _by_domain(store)["site3.example"]
        assert now["outreach_status"] == "skip"
        assert now["score"] == "70"

    def test_formula_looking_text_is_stored_as_text(self, harness, store):
        formula = '=IMPORTXML("http://x", "//a")'
        added = store.append([{"domain": "formula.example", "page_title": formula}])
        store.update({added.added[0]: {"snippet": "=1+1", "score_reasons": "+cmd|' /C calc'!A0"}})
        row = _by_domain(store)["formula.example"]
        assert row["page_title"] == formula
        assert row["snippet"] == "=1+1"
        assert row["score_reasons"] == "+cmd|' /C calc'!A0"
        assert harness.all_writes_raw()

    def test_text_longer_than_a_cell_holds_is_clipped_to_the_cap(self, harness, store):
        # Sheets refuses a cell over 50,000 characters (and with it the whole batch write; the
        # strict Sheets emulator does too): every store keeps the same clipped text instead.
        long = "é" * (MAX_CELL_CHARS + 5_000)
        added = store.append([{"domain": "long.example", "page_title": long}])
        store.update({added.added[0]: {"snippet": long}})
        row = _by_domain(store)["long.example"]
        assert len(row["page_title"]) == len(row["snippet"]) == MAX_CELL_CHARS
        assert row["snippet"].endswith("…") and row["snippet"][:-1] == long[: MAX_CELL_CHARS - 1]

    def test_append_dedupes_by_normalised_domain(self, harness, store):
        report = store.append(
            [
                {"domain": "https://WWW.Site1.example/contact"},
                {"page_url": "http://site4.example:8080/a?b"},
                {"domain": "fresh.example"},
                {"domain": "www.FRESH.example"},
            ]
        )
        assert len(report.added) == 1
        assert sorted(report.duplicates) == ["fresh.example", "site1.example", "site4.example"]
        assert sorted(_by_domain(store)) == sorted(
            [f"site{i}.example" for i in range(6)] + ["fresh.example"]
        )

    def test_new_rows_get_ids_status_and_timestamps(self, harness, store):
        row = _by_domain(store)["site5.example"]
        assert row["hub_id"].startswith("h_")
        assert row["outreach_status"] == "pending"
        assert row["created_at"] and row["updated_at"]
        assert store.get(row["hub_id"])["domain"] == "site5.example"
        assert store.count_by_status() == {"pending": 6}

    def test_unknown_hub_id_is_reported_missing_and_nothing_written(self, harness, store):
        before = harness.grid()
        report = store.update({"h_nobody": {"score": "99"}})
        assert report.missing == ["h_nobody"]
        assert report.written == []
        assert harness.grid() == before

    def test_partial_header_is_migrated_without_touching_cells(self, harness):
        # Every other hub column, with the person's own columns in between.
        header = list(HUB_COLUMNS[::2])
        header.insert(2, "notes")
        header.insert(6, "my column")
        assert "hub_id" in header and "contact_email" not in header
        cells = {
            "h_a": {"notes": "call Tue", "my column": "x", "page_url": "https://a.example/"},
            "h_b": {"page_url": "https://b.example/", "snippet": "=not a formula"},
        }
        grid = [header] + [
            [{"hub_id": hub_id, **row}.get(name, "") for name in header]
            for hub_id, row in cells.items()
        ]
        store = harness.seed(grid)
        old = harness.grid()

        report = store.ensure_schema()

        assert report.added_columns == missing_columns(header)
        new = harness.grid()
        assert new[0] == header + missing_columns(header)
        assert [line[: len(header)] for line in new] == [line[: len(header)] for line in old]
        assert store.ensure_schema().added_columns == []
        assert set(store.header()) >= set(HUB_COLUMNS)
        # The migrated store works at once: a write finds its columns by name.
        store.update({"h_b": {"contact_email": "hi@b.example"}})
        assert store.get("h_b")["contact_email"] == "hi@b.example"
        assert store.get("h_a")["notes"] == "call Tue"

    def test_reading_select_in_sheet_order_with_limit_get_and_counts(self, harness, store):
        order = [row["domain"] for row in store.rows()]
        ids = {row["domain"]: row["hub_id"] for row in store.rows()}
        harness.human_edit(ids["site4.example"], "outreach_status", "skip")
        harness.human_edit(ids["site1.example"], "outreach_status", "")  # blank reads as pending
        store.update({ids["site3.example"]: {"outreach_status": "enriched", "score": "80"}})

        pending = store.select(lambda r: r.get("outreach_status", "pending") == "pending")
        assert [r["domain"] for r in pending] == [
            d for d in order if d not in {"site3.example", "site4.example"}
        ]
        assert [r["domain"] for r in store.select(lambda r: True, limit=2)] == order[:2]
        assert store.select(lambda r: r["domain"] == "nowhere.example") == []
        assert store.get(ids["site3.example"])["score"] == "80"
        assert store.get("h_nobody") is None
        assert store.count_by_status() == {"pending": 4, "enriched": 1, "skip": 1}

    def test_rows_share_column_names_and_repeated_values(self, harness, store):
        # What keeps 200,000 rows small (bench/scale.py): one key string per column for every
        # row, one string per repeated status; empty cells left out (they read as missing).
        rows = store.rows()
        for row in rows[1:]:
            assert all(a is b for a, b in zip(sorted(row), sorted(rows[0]), strict=True))
            assert row["outreach_status"] is rows[0]["outreach_status"]
            assert "" not in row.values()

    def test_a_persons_edits_land_once_and_report_what_changed(self, harness, store):
        rows = _by_domain(store)
        target, other = rows["site1.example"]["hub_id"], rows["site2.example"]["hub_id"]
        long_ago = datetime(2000, 1, 1, tzinfo=UTC)

        report = store.edit(
            {target: {"approved": "yes", "contact_name": " Ann "}, "h_nobody": {"approved": "x"}}
        )
        again = store.edit({target: {"approved": True}})
        late = store.edit({other: {"draft_subject": "Mine"}}, unmodified_since=long_ago)

        assert report.changed == {target: {"approved": ("", "TRUE"), "contact_name": ("", "Ann")}}
        assert report.missing == ["h_nobody"]
        assert again.unchanged == [target] and not again.changed
        assert list(late.stale) == [other] and not late.changed
        now = _by_domain(store)
        assert (now["site1.example"]["approved"], now["site1.example"]["contact_name"]) == (
            "TRUE",
            "Ann",
        )
        assert not now["site2.example"].get("draft_subject")
        with pytest.raises(EditRefused):  # a hub-owned column: nothing written
            store.edit({other: {"score": "99", "draft_subject": "Mine"}})
        assert not _by_domain(store)["site2.example"].get("draft_subject")
