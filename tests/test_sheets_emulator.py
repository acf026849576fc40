"""The OAuth and Sheets v4 emulators answer the real google-auth and gspread as Google does.

Answers are compared with the recorded cassettes in ``tests/fixtures/real/sheets_*.json``.
"""

from __future__ import annotations

import gspread
import httpx
import pytest
import requests
from google.auth.exceptions import RefreshError
from google.auth.transport.requests import Request as AuthRequest
from google.oauth2 import credentials as user_credentials
from google.oauth2 import service_account

from sheets.google_auth import rebased_session
from tests.emulators import google_keys
from tests.emulators.fake_clock import FakeClock
from tests.emulators.google_oauth import OAuthEmulator, RefreshGrant
from tests.emulators.sheets_api import SheetsEmulator
from tests.fixtures import load_real
from tests.store_contract import emulator_servers  # noqa: F401 - shared module fixture

SCOPES = ["https://www.googleapis.com/auth/spreadsheets"]
CLIENT_ID, CLIENT_SECRET = "cid.apps.googleusercontent.com", "s3cret"


class Google:
    def __init__(self, servers, **quotas):
        self.clock = FakeClock()
        self.oauth = OAuthEmulator(
            public_keys=google_keys.public_keys(),
            refresh_tokens={"1//rt-good": RefreshGrant(CLIENT_ID, CLIENT_SECRET)},
        )
        self.sheets = SheetsEmulator(oauth=self.oauth, clock=self.clock, **quotas)
        servers.oauth.target, servers.sheets.target = self.oauth.app, self.sheets.app
        self.token_url, self.url = servers.oauth_url + "/token", servers.sheets_url

    def credentials(self, **info_overrides):
        info = google_keys.service_account_info(token_uri=self.token_url, **info_overrides)
        return service_account.Credentials.from_service_account_info(info, scopes=SCOPES)

    def client(self, **info_overrides) -> gspread.Client:
        creds = self.credentials(**info_overrides)
        return gspread.Client(auth=creds, session=rebased_session(creds, self.url))


@pytest.fixture
def google(emulator_servers):  # noqa: F811
    return Google(emulator_servers)


def _same_shape(got: dict, recorded: dict) -> None:
    assert set(got) == set(recorded)


# --- answers in the recorded shapes --------------------------------------------------------------
def test_spreadsheets_get_has_the_recorded_metadata_shape(google):
    key = google.sheets.create_spreadsheet({"Sheet1": []})
    got = google.client().http_client.fetch_sheet_metadata(key)
    recorded = load_real("sheets_spreadsheets_get_metadata.json")["response"]["body"]
    _same_shape(got, recorded)
    assert got["sheets"][0]["properties"] == recorded["sheets"][0]["properties"]
    assert {"title", "locale", "timeZone"} <= set(got["properties"])


def test_values_update_and_get_match_the_cassette(google):
    recorded = load_real("sheets_values_update_and_get.json")
    title = "🌵 test_values_get 1"
    key = google.sheets.create_spreadsheet({title: []}, rows=10, cols=10)
    book = google.client().open_by_key(key)
    put = recorded["values_update_PUT"]
    # The cassette sent the name bare and Google took it, but Sheets' guide requires quotes
    # around a name with spaces, and the emulator holds to the guide.
    answer = book.values_update(
        f"'{title}'!A1", params={"valueInputOption": "RAW"}, body=put["request"]["body"]
    )
    expected = dict(put["response"]["body"], spreadsheetId=key)
    assert answer == expected
    got = book.values_get(f"'{title}'")
    assert got == recorded["values_get_GET"]["response"]["body"]


def test_values_append_matches_the_cassette(google):
    recorded = load_real("sheets_values_append.json")
    key = google.sheets.create_spreadsheet({"Sheet1": []})
    sheet = google.client().open_by_key(key).sheet1
    answer = sheet.append_rows(recorded["request"]["body"]["values"], value_input_option="RAW")
    body = recorded["response"]["body"]
    assert answer == {
        "spreadsheetId": key,
        "updates": dict(body["updates"], spreadsheetId=key),
    }
    again = sheet.append_rows([["next"]], value_input_option="RAW")
    assert again["tableRange"] == "Sheet1!A1:J1"
    assert again["updates"]["updatedRange"] == "Sheet1!A2:A2"


def test_values_batch_get_matches_the_cassette(google):
    recorded = load_real("sheets_values_batch_get.json")["response"]["body"]
    title = "🌵 test_values_batch_get 1"
    key = google.sheets.create_spreadsheet(
        {title: [["🍇", "🍉", "🍋"], ["🍐", "🍎", "🍓"]]}, rows=10, cols=10
    )
    book = google.client().open_by_key(key)
    quoted = f"'{title}'"  # quoted as the guide requires (see the test above)
    got = book.values_batch_get([f"{quoted}!A:A", f"{quoted}!B:B", f"{quoted}!C:C"])
    assert got == dict(recorded, spreadsheetId=key)


def test_values_batch_update_matches_the_cassette(google):
    recorded = load_real("sheets_values_batch_update.json")
    key = google.sheets.create_spreadsheet({"Sheet1": []})
    book = google.client().open_by_key(key)
    got = book.values_batch_update(recorded["request"]["body"])
    body = recorded["response"]["body"]
    responses = [dict(r, spreadsheetId=key) for r in body["responses"]]
    assert got == dict(body, spreadsheetId=key, responses=responses)
    assert google.sheets.cells()[3] == ["A4", "B4", "", "D4"]


def test_errors_match_the_cassettes(google):
    recorded = load_real("sheets_errors_gspread_cassettes.json")
    google.sheets.create_spreadsheet({"Sheet1": []}, spreadsheet_id="private", shared_with=set())
    http = google.client().http_client
    with pytest.raises(gspread.exceptions.APIError) as missing:
        http.fetch_sheet_metadata("test")
    assert missing.value.response.json() == recorded["404_NOT_FOUND"]["response"]["body"]
    with pytest.raises(gspread.exceptions.APIError) as denied:
        http.fetch_sheet_metadata("private")
    assert denied.value.response.json() == recorded["403_PERMISSION_DENIED"]["response"]["body"]


@pytest.mark.google_refuses
def test_bad_values_shape_is_the_recorded_400(google):
    key = google.sheets.create_spreadsheet({"Sheet1": []})
    book = google.client().open_by_key(key)
    with pytest.raises(gspread.exceptions.APIError) as caught:
        book.values_update("'Sheet1'!A1", params={"valueInputOption": "RAW"}, body={"values": "X"})
    assert caught.value.code == 400
    assert caught.value.error["status"] == "INVALID_ARGUMENT"
    assert "Invalid value at 'data.values'" in caught.value.error["message"]


# --- values semantics -------------------------------------------------------------------------------
def test_user_entered_makes_formulas_and_raw_keeps_text(google):
    key = google.sheets.create_spreadsheet({"Sheet1": []})
    sheet = google.client().open_by_key(key).sheet1
    sheet.update([["=1+1", "123", "TRUE"]], "A1", value_input_option="USER_ENTERED")
    sheet.update([['=IMPORTXML("http://x")', "123"]], "A2", value_input_option="RAW")

    assert google.sheets.cell(1, "A").formula == "=1+1"
    assert google.sheets.cell(2, "A").formula is None
    assert google.sheets.cell(2, "A").value == '=IMPORTXML("http://x")'
    assert sheet.get("A1:C2", value_render_option="FORMULA") == [
        ["=1+1", "123", "TRUE"],
        ['=IMPORTXML("http://x")', "123"],
    ]
    unformatted = sheet.get("A1:C2", value_render_option="UNFORMATTED_VALUE")
    assert unformatted[0][1:] == [123, True] and unformatted[1][1] == "123"
    writes = [r.value_input_option for r in google.sheets.log if r.method == "values.update"]
    assert writes == ["USER_ENTERED", "RAW"]


def test_a1_ranges_quoted_names_whole_columns_and_open_ranges(google):
    title = "It's mine"
    grid = [["h1", "h2", "h3"], ["a", "b", "c"], ["d", "", "f"]]
    key = google.sheets.create_spreadsheet({"First": [["x"]], title: grid}, rows=5, cols=4)
    book = google.client().open_by_key(key)
    quoted = "'It''s mine'"
    got = book.values_batch_get(
        [f"{quoted}!A:A", f"{quoted}!1:1", f"{quoted}!B2:C", f"{quoted}!C3", "A1"]
    )["valueRanges"]
    assert [vr["range"] for vr in got] == [
        f"{quoted}!A1:A5",
        f"{quoted}!A1:D1",
        f"{quoted}!B2:C5",
        f"{quoted}!C3:C3",
        "First!A1:A1",
    ]
    assert [vr.get("values") for vr in got] == [
        [["h1"], ["a"], ["d"]],
        [["h1", "h2", "h3"]],
        [["b", "c"], ["", "f"]],
        [["f"]],
        [["x"]],
    ]
    with pytest.raises(gspread.exceptions.APIError, match="exceeds grid limits"):
        book.values_update(
            f"{quoted}!E1", params={"valueInputOption": "RAW"}, body={"values": [["no"]]}
        )
    assert google.sheets.cells(sheet=title) == grid  # the refused write changed nothing


def test_append_insert_rows_moves_what_is_below_and_grows_the_grid(google):
    key = google.sheets.create_spreadsheet({"Sheet1": [["h"], ["1"]]}, rows=2, cols=2)
    book = google.client().open_by_key(key)
    book.values_append(
        "'Sheet1'!A1",
        params={"valueInputOption": "RAW", "insertDataOption": "INSERT_ROWS"},
        body={"values": [["2"], ["3"]]},
    )
    meta = book.fetch_sheet_metadata()
    assert meta["sheets"][0]["properties"]["gridProperties"]["rowCount"] == 4
    assert google.sheets.cells() == [["h"], ["1"], ["2"], ["3"]]


def test_clear_and_structure_requests(google):
    key = google.sheets.create_spreadsheet({"Sheet1": [["a", "b"], ["c", "d"]]})
    book = google.client().open_by_key(key)
    assert book.values_clear("'Sheet1'!B1:B2")["clearedRange"] == "Sheet1!B1:B2"
    reply = book.batch_update(
        {
            "requests": [
                {"appendDimension": {"sheetId": 0, "dimension": "COLUMNS", "length": 4}},
                {"addSheet": {"properties": {"title": "New"}}},
            ]
        }
    )
    assert reply["replies"][0] == {}
    assert reply["replies"][1]["addSheet"]["properties"]["title"] == "New"
    assert google.sheets.cells() == [["a"], ["c"]]
    assert [ws.col_count for ws in book.worksheets()] == [30, 26]


# --- auth, quotas, faults, people --------------------------------------------------------------------
def test_requests_need_a_valid_bearer_token(google):
    key = google.sheets.create_spreadsheet({"Sheet1": []})
    url = f"{google.url}/v4/spreadsheets/{key}"
    assert httpx.get(url).status_code == 401
    bad = httpx.get(url, headers={"Authorization": "Bearer ya29.forged"})
    assert bad.status_code == 401 and bad.json()["error"]["status"] == "UNAUTHENTICATED"


def test_expired_access_token_is_refreshed_by_google_auth(google):
    key = google.sheets.create_spreadsheet({"Sheet1": []})
    http = google.client().http_client
    http.fetch_sheet_metadata(key)
    google.oauth.expire_access_tokens()
    http.fetch_sheet_metadata(key)
    assert google.oauth.requests["total"] == 2
    assert google.sheets.served(401) == 1


def test_per_user_quota_answers_googles_429_and_counts_reads_and_writes_apart(
    emulator_servers,  # noqa: F811
):
    google = Google(emulator_servers, read_quota=2, write_quota=1, quota_window=60.0)
    key = google.sheets.create_spreadsheet({"Sheet1": []})
    book = google.client().open_by_key(key)  # read 1
    book.values_get("Sheet1")  # read 2
    with pytest.raises(gspread.exceptions.APIError) as caught:
        book.values_get("Sheet1")
    book.values_update("Sheet1!A1", params={"valueInputOption": "RAW"}, body={"values": [["w"]]})
    body = caught.value.response.json()["error"]
    recorded = load_real("sheets_error_429_rate_limit_exceeded_2021_reconstructed.json")["error"]
    assert caught.value.code == 429 and body["status"] == "RESOURCE_EXHAUSTED"
    assert body["details"][0]["reason"] == recorded["details"][0]["reason"]
    assert body["details"][0]["metadata"]["quota_limit"] == "ReadRequestsPerMinutePerUser"
    with pytest.raises(gspread.exceptions.APIError) as writes:
        book.values_update("Sheet1!A1", params={"valueInputOption": "RAW"}, body={"values": [[1]]})
    assert writes.value.response.json() == {"error": recorded}
    google.clock.advance(60.0)
    assert book.values_get("Sheet1")["values"] == [["w"]]
    assert google.sheets.served(429) == 2


def test_faults_hit_only_the_matching_request(google):
    key = google.sheets.create_spreadsheet({"Sheet1": [["a"]]})
    book = google.client().open_by_key(key)
    google.sheets.fail_next(503, match="values.get", retry_after=3)
    book.fetch_sheet_metadata()
    with pytest.raises(gspread.exceptions.APIError) as caught:
        book.values_get("Sheet1")
    assert caught.value.code == 503 and caught.value.response.headers["Retry-After"] == "3"
    google.sheets.delay_next(0.05, match="read")
    assert book.values_get("Sheet1")["values"] == [["a"]]
    google.sheets.drop_next(match="write", after_processing=True)
    with pytest.raises(requests.RequestException):
        book.values_update(
            "Sheet1!A1", params={"valueInputOption": "RAW"}, body={"values": [["b"]]}
        )
    assert google.sheets.cells() == [["b"]]  # it landed; only the answer was lost
    google.sheets.drop_next(after_processing=False)
    with pytest.raises(requests.RequestException):
        book.values_update(
            "Sheet1!A1", params={"valueInputOption": "RAW"}, body={"values": [["c"]]}
        )
    assert google.sheets.cells() == [["b"]]


def test_people_edit_between_any_two_requests(google):
    grid = [["name", "n"], ["b", "2"], ["a", "1"], ["c", "3"]]
    key = google.sheets.create_spreadsheet({"Sheet1": grid})
    book = google.client().open_by_key(key)
    google.sheets.before_next_request(lambda emu: emu.sort_rows("name"), match="values.get")
    assert book.values_get("Sheet1!A2:A")["values"] == [["a"], ["b"], ["c"]]
    google.sheets.insert_rows(2, [["new", "9"]])
    google.sheets.delete_rows(4)  # "b"
    google.sheets.edit_cell(1, "n", "number")
    assert book.values_get("Sheet1")["values"] == [
        ["name", "number"],
        ["new", "9"],
        ["a", "1"],
        ["c", "3"],
    ]


def test_request_log_records_methods_and_input_options(google):
    key = google.sheets.create_spreadsheet({"Sheet1": []})
    sheet = google.client().open_by_key(key).sheet1
    sheet.append_rows([["x"]], value_input_option="RAW")
    sheet.batch_update([{"range": "B1", "values": [["y"]]}])
    log = [(r.method, r.kind, r.value_input_option) for r in google.sheets.log]
    assert log[-2:] == [("values.append", "write", "RAW"), ("values.batchUpdate", "write", "RAW")]
    assert set(log[:-2]) == {("spreadsheets.get", "read", None)}  # open_by_key, .sheet1
    assert google.sheets.count("write") == 2 and google.sheets.count("read") == len(log) - 2


# --- the OAuth token endpoint -----------------------------------------------------------------------
def test_service_account_jwt_with_an_unknown_key_is_refused(google):
    creds = google.credentials(key_id="e" * 40)
    with pytest.raises(RefreshError, match="Invalid JWT Signature"):
        creds.refresh(AuthRequest())


def test_refresh_token_grant_and_revocation(google):
    def user(refresh_token="1//rt-good", secret=CLIENT_SECRET):
        return user_credentials.Credentials(
            token=None,
            refresh_token=refresh_token,
            client_id=CLIENT_ID,
            client_secret=secret,
            token_uri=google.token_url,
        )

    creds = user()
    creds.refresh(AuthRequest())
    assert google.oauth.is_valid(creds.token)
    with pytest.raises(RefreshError, match="invalid_client"):
        user(secret="wrong").refresh(AuthRequest())
    google.oauth.revoke("1//rt-good")
    form = {
        "grant_type": "refresh_token",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "refresh_token": "1//rt-good",
    }
    answer = httpx.post(google.token_url, data=form)
    assert answer.status_code == 400
    assert answer.json() == {
        "error": "invalid_grant",
        "error_description": "Token has been expired or revoked.",
    }
    with pytest.raises(RefreshError, match="invalid_grant"):
        user().refresh(AuthRequest())
    google.oauth.revoke(creds.token)
    assert not google.oauth.is_valid(creds.token)
