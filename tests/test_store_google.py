"""The store contract against a Google Sheet (real gspread + google-auth, Sheets emulator),
and what only a shared, remote sheet can do to us: hand-typed rows, faults, access errors."""

from __future__ import annotations

import json

import pytest

from sheets.store import StoreError
from tests.emulators import google_keys
from tests.store_contract import (
    GoogleHarness,
    StoreContract,
    emulator_servers,  # noqa: F401 - a fixture, shared by the tests of this module
    google_sheet_env,
)


@pytest.fixture
def sheet_env(data_dir, emulator_servers):  # noqa: F811
    with google_sheet_env(data_dir, servers=emulator_servers) as running:
        yield running


class TestGoogleSheetStoreContract(StoreContract):
    @pytest.fixture
    def harness(self, sheet_env):
        return GoogleHarness(sheet_env)


# --- only a shared, remote sheet does this ------------------------------------------------------
def _seeded(sheet_env, domains=("a.example", "b.example", "c.example")):
    store = sheet_env.store()
    store.ensure_schema()
    store.append([{"domain": d} for d in domains])
    sheet_env.sheets.reset_log()
    return store


def _by_domain(store):
    return {row["domain"]: row for row in store.rows()}


def test_hand_typed_rows_get_a_hub_id_and_nothing_else_changes(sheet_env):
    store = _seeded(sheet_env)
    header = sheet_env.sheets.cells()[0]
    typed = ["" for _ in header]
    typed[header.index("domain")] = "typed.example"
    typed[header.index("page_title")] = "Typed by a person"
    sheet_env.sheets.insert_rows(3, [typed])
    sheet_env.sheets.insert_rows(4, [[]])  # an empty row in between is not a prospect
    before = sheet_env.sheets.cells()

    report = store.ensure_schema()

    assert report.ids_assigned == 1
    assert report.added_columns == []
    after = sheet_env.sheets.cells()
    row = sheet_env.sheets.row_of("domain", "typed.example")
    hub_id = after[row - 1][header.index("hub_id")]
    assert hub_id.startswith("h_")
    before[row - 1][header.index("hub_id")] = hub_id
    assert after == before
    assert sheet_env.sheets.count("values.batchUpdate") == 1
    assert store.get(hub_id)["page_title"] == "Typed by a person"


def test_empty_sheet_gets_the_full_header_and_a_wider_grid(sheet_env):
    store = sheet_env.store()
    report = store.ensure_schema()
    meta = store._http.fetch_sheet_metadata(sheet_env.spreadsheet_id)
    columns = meta["sheets"][0]["properties"]["gridProperties"]["columnCount"]
    assert sheet_env.sheets.cells()[0] == report.added_columns
    assert columns >= len(report.added_columns) > 26


def test_missing_worksheet_is_created_by_ensure_schema(sheet_env):
    store = sheet_env.store(worksheet="Outreach 2025 'Q1'")
    store.ensure_schema()
    assert store.append([{"domain": "q1.example"}]).added
    assert [r["domain"] for r in store.rows()] == ["q1.example"]


def test_throttling_and_server_errors_are_retried_and_nothing_is_lost(sheet_env):
    store = _seeded(sheet_env)
    rows = store.rows()
    sheet_env.sheets.fail_next(429, match="values.batchUpdate", times=2)
    sheet_env.sheets.fail_next(503, match="values.batchGet")
    sheet_env.sheets.fail_next(500, match="values.append")

    report = store.update({r["hub_id"]: {"email_status": "valid"} for r in rows})
    added = store.append([{"domain": "late.example"}])

    assert len(report.written) == 3
    assert all(r["email_status"] == "valid" for r in store.rows() if r["domain"] != "late.example")
    assert [r["domain"] for r in store.rows()].count("late.example") == 1
    assert added.added
    assert sheet_env.sheets.served(429) == 2 and sheet_env.sheets.served(503) == 1
    assert sheet_env.sheets.served(500) == 1
    assert len(sheet_env.clock.sleeps) == 4  # one backoff per failure


def test_retry_after_is_honoured(sheet_env):
    store = _seeded(sheet_env)
    sheet_env.sheets.fail_next(429, match="values.batchGet", retry_after=7)
    store.update({store.rows()[0]["hub_id"]: {"score": "5"}})
    assert 7.0 in sheet_env.clock.sleeps


def test_dropped_connection_after_the_append_landed_adds_no_duplicate(sheet_env):
    store = _seeded(sheet_env)
    sheet_env.sheets.drop_next(match="values.append", after_processing=True)
    report = store.append([{"domain": "once.example"}, {"domain": "twice.example"}])
    domains = [r["domain"] for r in store.rows()]
    assert domains.count("once.example") == 1 and domains.count("twice.example") == 1
    assert len(report.added) == 2
    assert sheet_env.sheets.count("values.append") == 1  # the landed append was not sent again


def test_dropped_connection_before_the_write_is_retried(sheet_env):
    store = _seeded(sheet_env)
    sheet_env.sheets.drop_next(match="values.batchUpdate", after_processing=False)
    rows = store.rows()
    store.update({r["hub_id"]: {"score": "42"} for r in rows})
    assert {r["score"] for r in store.rows()} == {"42"}
    assert sheet_env.sheets.count("values.batchUpdate") == 2


def test_a_sort_during_backoff_does_not_misplace_the_retried_write(sheet_env):
    store = _seeded(sheet_env)
    rows = store.rows()

    def person_sorts_after_the_failure(emu):
        emu.before_next_request(lambda e: e.sort_rows("domain", reverse=True), match="read")

    sheet_env.sheets.before_next_request(person_sorts_after_the_failure, match="values.batchUpdate")
    sheet_env.sheets.fail_next(503, match="values.batchUpdate")
    store.update({r["hub_id"]: {"contact_email": "hi@" + r["domain"]} for r in rows})

    assert [r["domain"] for r in store.rows()] == ["c.example", "b.example", "a.example"]
    for domain, row in _by_domain(store).items():
        assert row["contact_email"] == "hi@" + domain


def test_columns_moved_by_a_person_are_found_again_by_name(sheet_env):
    store = _seeded(sheet_env)
    rows = store.rows()
    # The person drags "notes" in front of everything: every hub column shifts right by one.
    for number, line in enumerate(sheet_env.sheets.cells(), start=1):
        for col in range(len(line), 0, -1):
            sheet_env.sheets.edit_cell(number, col, str(line[col - 1]))
        sheet_env.sheets.edit_cell(number, 0, "notes" if number == 1 else "")
    store.update({r["hub_id"]: {"score": "9"} for r in rows})
    assert {r["score"] for r in store.rows()} == {"9"}
    assert all(line[0] in ("notes", "") for line in sheet_env.sheets.cells())


def test_a_deleted_hub_column_is_put_back_before_writing(sheet_env):
    store = _seeded(sheet_env)
    header = sheet_env.sheets.cells()[0]
    sheet_env.sheets.edit_cell(1, header.index("score"), "")  # the person clears the header cell
    store.update({store.rows()[0]["hub_id"]: {"score": "77"}})
    assert sheet_env.sheets.cells()[0][-1] == "score"
    assert [r.get("score") for r in store.rows()].count("77") == 1


def test_persistent_failure_becomes_a_store_error(sheet_env):
    store = _seeded(sheet_env)
    sheet_env.sheets.fail_next(503, times=20)
    with pytest.raises(StoreError, match="Google Sheets answered 503"):
        store.rows()
    assert sheet_env.sheets.count() == store.retry.attempts


def test_sheet_not_shared_with_the_service_account(data_dir, emulator_servers):  # noqa: F811
    with (
        google_sheet_env(
            data_dir, shared_with={"someone@else.example"}, servers=emulator_servers
        ) as sheet_env,
        pytest.raises(StoreError) as caught,
    ):
        sheet_env.store().ensure_schema()
    message = str(caught.value)
    assert google_keys.CLIENT_EMAIL in message and "HUB_SHEET_ID" in message
    assert "PRIVATE KEY" not in message


def test_unknown_spreadsheet_names_hub_sheet_id(sheet_env):
    with pytest.raises(StoreError, match=r"not found.*HUB_SHEET_ID"):
        sheet_env.store(sheet_id="1NoSuchSheet").rows()


def test_unknown_worksheet_names_hub_worksheet(sheet_env):
    with pytest.raises(StoreError, match="HUB_WORKSHEET"):
        sheet_env.store(worksheet="Nope").rows()


def test_key_the_token_endpoint_rejects_is_a_clear_error(sheet_env):
    info = google_keys.service_account_info(key_id="f" * 40)  # a key Google does not know
    store = sheet_env.store(google_service_account_json=json.dumps(info))
    with pytest.raises(StoreError, match=r"no access token.*GOOGLE_SERVICE_ACCOUNT") as caught:
        store.rows()
    assert "BEGIN PRIVATE KEY" not in str(caught.value)
    assert sheet_env.sheets.count() == 0


def test_service_account_file_and_token_uri_override(sheet_env, tmp_path):
    path = google_keys.write_service_account_file(tmp_path / "sa.json")  # Google's token_uri
    store = sheet_env.store(google_service_account_json="", google_service_account_file=str(path))
    store.ensure_schema()
    assert sheet_env.oauth.requests["urn:ietf:params:oauth:grant-type:jwt-bearer"] == 1
    assert store.account_email == google_keys.CLIENT_EMAIL


def test_unreadable_service_account_settings(sheet_env, tmp_path):
    bad = tmp_path / "sa.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(StoreError, match=r"GOOGLE_SERVICE_ACCOUNT_FILE .* not valid JSON"):
        sheet_env.store(google_service_account_json="", google_service_account_file=str(bad))
    with pytest.raises(StoreError, match="GOOGLE_SERVICE_ACCOUNT_JSON is not a service-account"):
        sheet_env.store(google_service_account_json='{"type": "authorized_user"}')


# --- reading a big sheet as it arrives ----------------------------------------------------------
def test_each_read_is_one_request_and_counting_reads_two_columns(sheet_env):
    store = _seeded(sheet_env)
    hub_id = store.rows()[1]["hub_id"]
    assert sheet_env.sheets.count("values.get") == 1
    assert sheet_env.sheets.log[-1].query.get("prettyPrint") == ["false"]  # no indented JSON
    assert store.get(hub_id)["domain"] == "b.example"
    assert [r["domain"] for r in store.select(lambda r: r["domain"] != "a.example", limit=1)] == [
        "b.example"
    ]
    assert sheet_env.sheets.count("values.get") == 3
    assert store.count_by_status() == {"pending": 3}
    assert sheet_env.sheets.count("values.batchGet") == 1
    assert sheet_env.sheets.count() == 4


class CutFirstRead:
    """Breaks the connection of the first ``values.get`` after ``keep`` bytes of its answer."""

    def __init__(self, app, keep: int):
        self.app, self.keep, self.cut = app, keep, False

    async def __call__(self, scope, receive, send) -> None:
        if self.cut or scope["type"] != "http" or "/values/" not in scope["path"]:
            await self.app(scope, receive, send)
            return
        self.cut = True

        async def send_part(message) -> None:
            if message["type"] == "http.response.body":
                part = message.get("body", b"")[: self.keep]
                await send({"type": "http.response.body", "body": part, "more_body": True})
                raise ConnectionAbortedError("emulated connection lost mid-answer")
            await send(message)

        await self.app(scope, receive, send_part)


def test_a_read_cut_off_midway_is_read_again_with_nothing_kept_twice(
    data_dir,
    emulator_servers,  # noqa: F811
):
    header = ["hub_id", "domain", "snippet", "outreach_status"]
    grid = [header] + [[f"h_{i:04d}", f"s{i}.example", "x" * 400, "pending"] for i in range(2000)]
    with google_sheet_env(data_dir, grid=grid, servers=emulator_servers) as sheet_env:
        cutter = CutFirstRead(sheet_env.sheets.app, keep=600_000)  # ~1,300 rows, past a few chunks
        emulator_servers.sheets.target = cutter
        store = sheet_env.store()

        rows = store.rows()

        assert cutter.cut
        assert [r["hub_id"] for r in rows] == [f"h_{i:04d}" for i in range(2000)]
        assert sheet_env.sheets.count("values.get") == 2
        assert len(sheet_env.clock.sleeps) == 1  # one backoff, then the whole answer
