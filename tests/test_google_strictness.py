"""The emulators refuse what Google refuses, in Google's words plus the API description's reason.

Each request here is sent raw (httpx with a valid token) because the client libraries check
some of these things themselves (google-api-python-client refuses an unknown keyword or enum
before sending): the emulator must refuse them on the wire too, whoever sends them. Every test
that sends a bad request on purpose is marked ``google_refuses``; the last test shows that an
unmarked test which causes a refusal fails, even when the code under test swallowed the 400.
"""

from __future__ import annotations

import base64
import subprocess
import sys
import textwrap
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest

from tests.emulators.discovery_validator import REFUSALS
from tests.emulators.gemini import GeminiEmulator
from tests.emulators.gmail import gmail_world
from tests.emulators.google_oauth import OAuthEmulator
from tests.emulators.serve import serve_in_thread
from tests.emulators.sheets_api import MAX_CELL_CHARACTERS, SheetsEmulator

ROOT = Path(__file__).resolve().parent.parent
refuses = pytest.mark.google_refuses


# --- Sheets ---------------------------------------------------------------------------------------
class SheetsWire:
    """The Sheets emulator on a port, and a client holding a valid bearer token."""

    def __init__(self, url: str, emulator: SheetsEmulator, token: str):
        self.emulator = emulator
        self.key = emulator.create_spreadsheet({"Sheet1": [["h"]], "My Sheet": [["x"]]})
        self.base = f"{url}/v4/spreadsheets/{self.key}"
        self.http = httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=10)

    def values(self, range_text: str, suffix: str = "") -> str:
        return f"{self.base}/values/{httpx.URL(path=range_text).raw_path.decode()}{suffix}"


@pytest.fixture
def sheets():
    oauth = OAuthEmulator()
    emulator = SheetsEmulator(oauth=oauth)
    with serve_in_thread(emulator.app) as server:
        token = oauth._issue("robot@project.iam.gserviceaccount.com", ("spreadsheets",)).token
        wire = SheetsWire(server.url, emulator, token)
        yield wire
        wire.http.close()


def _error(answer: httpx.Response) -> dict:
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT" and error["code"] == 400
    assert error["details"][0]["@type"] == "type.googleapis.com/google.rpc.BadRequest"
    return error


@refuses
def test_sheets_refuses_an_unknown_body_field_naming_the_schema(sheets):
    mark = REFUSALS.mark()
    body = {"valueInputOption": "RAW", "data": [{"range": "Sheet1!A2", "values": [["v"]]}]}
    answer = sheets.http.post(f"{sheets.base}/values:batchUpdate", json=body | {"dryRun": True})
    error = _error(answer)
    assert 'Unknown name "dryRun": Cannot find field.' in error["message"]
    assert "sheets.v4.json: BatchUpdateValuesRequest has no field 'dryRun'" in error["message"]
    nested = {"valueInputOption": "RAW", "data": [{"range": "Sheet1!A2", "value": [["v"]]}]}
    error = _error(sheets.http.post(f"{sheets.base}/values:batchUpdate", json=nested))
    assert "Unknown name \"value\" at 'data[0]'" in error["message"]
    assert (
        "ValueRange has no field 'value' (it has majorDimension, range, values)"
        in (error["message"])
    )
    assert sheets.emulator.cells() == [["h"]]  # refused before anything was written
    (first, second) = REFUSALS.since(mark)
    assert first.method == second.method == "sheets.spreadsheets.values.batchUpdate"


@refuses
def test_sheets_refuses_bad_enums_with_the_listed_values(sheets):
    append = sheets.values("Sheet1!A1", ":append")
    params = {"valueInputOption": "RAW", "insertDataOption": "SIDEWAYS"}
    error = _error(sheets.http.post(append, params=params, json={"values": [["v"]]}))
    assert "Invalid value at 'insert_data_option' (TYPE_ENUM), \"SIDEWAYS\"" in error["message"]
    assert "'insertDataOption' is one of OVERWRITE, INSERT_ROWS" in error["message"]
    body = {"values": [["v"]], "majorDimension": "DIAGONAL"}
    error = _error(sheets.http.post(append, params={"valueInputOption": "RAW"}, json=body))
    assert "Invalid value at 'data.major_dimension' (TYPE_ENUM)" in error["message"]
    assert (
        "ValueRange.majorDimension is one of DIMENSION_UNSPECIFIED, ROWS, COLUMNS"
        in (error["message"])
    )
    error = _error(sheets.http.get(sheets.values("Sheet1!A1"), params={"majorDimension": "Z"}))
    assert "'majorDimension' is one of" in error["message"]


@refuses
def test_sheets_refuses_an_unknown_query_parameter(sheets):
    error = _error(sheets.http.get(sheets.values("Sheet1!A1"), params={"renderAs": "FORMULA"}))
    assert 'Unknown name "renderAs": Cannot bind query parameter.' in error["message"]
    assert "sheets.spreadsheets.values.get has no query parameter 'renderAs'" in error["message"]
    assert "valueRenderOption" in error["message"]  # the reason lists what it does take


@refuses
def test_sheets_refuses_an_unquoted_sheet_name_with_a_space(sheets):
    error = _error(sheets.http.get(sheets.values("My Sheet!A1")))
    assert error["message"].startswith("Unable to parse range: My Sheet!A1 [")
    assert (
        "a sheet name with spaces or special characters goes in single quotes" in (error["message"])
    )
    assert "'My Sheet'!A1" in error["message"]
    ranges = [("ranges", "Sheet1!A1"), ("ranges", "My Sheet!A1:B2")]
    error = _error(sheets.http.get(f"{sheets.base}/values:batchGet", params=ranges))
    assert error["details"][0]["fieldViolations"][0]["field"] == "ranges"
    body = {"valueInputOption": "RAW", "data": [{"range": "My Sheet!A2", "values": [["v"]]}]}
    error = _error(sheets.http.post(f"{sheets.base}/values:batchUpdate", json=body))
    assert error["details"][0]["fieldViolations"][0]["field"] == "data[0].range"
    # Quoted, and a plain name left bare, are both fine.
    assert sheets.http.get(sheets.values("'My Sheet'!A1")).json()["values"] == [["x"]]
    assert sheets.http.get(sheets.values("Sheet1!A1")).json()["values"] == [["h"]]


@refuses
def test_sheets_refuses_object_cells_and_cells_over_50000_characters(sheets):
    update = sheets.values("Sheet1!A2")
    params = {"valueInputOption": "RAW"}
    body = {"values": [["ok", {"formula": "=1"}]]}
    error = _error(sheets.http.put(update, params=params, json=body))
    assert "Invalid values[0][1]: struct_value" in error["message"]
    assert "supported value types are: bool, string, and double" in error["message"]
    too_long = "x" * (MAX_CELL_CHARACTERS + 1)
    error = _error(sheets.http.put(update, params=params, json={"values": [[too_long]]}))
    assert "more than the maximum of 50000 characters in a single cell" in error["message"]
    assert sheets.emulator.cells() == [["h"]]
    full = "y" * MAX_CELL_CHARACTERS
    assert sheets.http.put(update, params=params, json={"values": [[full]]}).status_code == 200


def test_sheets_honour_fields_with_a_partial_answer(sheets):
    got = sheets.http.get(sheets.base, params={"fields": "sheets.properties.title"}).json()
    assert got == {
        "sheets": [{"properties": {"title": "Sheet1"}}, {"properties": {"title": "My Sheet"}}]
    }
    got = sheets.http.get(
        sheets.base, params={"fields": "spreadsheetId,sheets(properties(sheetId,index))"}
    ).json()
    assert got["spreadsheetId"] == sheets.key
    assert got["sheets"][1] == {"properties": {"sheetId": 1, "index": 1}}
    append = sheets.values("Sheet1!A1", ":append")
    params = {"valueInputOption": "RAW", "fields": "updates/updatedRange"}
    got = sheets.http.post(append, params=params, json={"values": [["v"]]}).json()
    assert got == {"updates": {"updatedRange": "Sheet1!A2:A2"}}


@refuses
def test_sheets_refuse_fields_the_answer_does_not_have_and_change_nothing(sheets):
    append = sheets.values("Sheet1!A1", ":append")
    params = {"valueInputOption": "RAW", "fields": "updates/updatedRnage"}
    error = _error(sheets.http.post(append, params=params, json={"values": [["v"]]}))
    assert "Invalid field selection updates.updatedRnage" in error["message"]
    assert "UpdateValuesResponse has no field 'updatedRnage'" in error["message"]
    assert sheets.emulator.cells() == [["h"]]  # a bad selection stops the write as well


# --- Gmail ----------------------------------------------------------------------------------------
@pytest.fixture
def gmail(settings):
    with gmail_world(settings) as world:
        token = world.oauth._issue("me@artist.example", ("gmail",)).token
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=world.gmail_url + "gmail/v1/users/me/", headers=headers) as c:
            c.world = world
            yield c


def _raw(subject: str = "Hello") -> str:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "me@artist.example", "ed@gallery.example", subject
    msg["Message-ID"] = "<strict.1@hub.example>"
    msg.set_content("Would you like to see my paintings?")
    return base64.urlsafe_b64encode(msg.as_bytes()).decode("ascii")


def _gmail_error(answer: httpx.Response) -> dict:
    error = _error(answer)
    assert error["errors"][0]["reason"] == "invalidArgument"  # Gmail's older errors[] list too
    return error


@refuses
def test_gmail_refuses_an_unknown_body_field_and_sends_nothing(gmail):
    body = {"raw": _raw(), "threadId": None, "labelIds": ["SENT"], "priority": "high"}
    error = _gmail_error(gmail.post("messages/send", json=body))
    assert 'Unknown name "priority": Cannot find field.' in error["message"]
    assert "gmail.v1.json: Message has no field 'priority'" in error["message"]
    error = _gmail_error(gmail.post("messages/send", json={"threadId": "x"}))
    assert "Message.raw is required by gmail.users.messages.send" in error["message"]
    assert gmail.world.gmail.sent() == []


@refuses
@pytest.mark.parametrize(
    ("path", "params", "words"),
    [
        ("messages/1", {"format": "METADATA"}, "'format' is one of minimal, full, raw, metadata"),
        ("threads/1", {"format": "raw"}, "'format' is one of full, metadata, minimal"),
        (
            "history",
            {"startHistoryId": "1", "historyTypes": "messageArrived"},
            "'historyTypes' is one of messageAdded, messageDeleted, labelAdded, labelRemoved",
        ),
        (
            "messages",
            {"maxResults": "501"},
            "'maxResults': \"The maximum allowed value for this field is 500.\"",
        ),
        ("history", {"startHistoryId": "12ab"}, "'startHistoryId' is an integer (uint64)"),
        ("messages", {"query": "in:sent"}, "gmail.users.messages.list has no query parameter"),
    ],
)
def test_gmail_refuses_bad_parameters_with_the_discovery_reason(gmail, path, params, words):
    error = _gmail_error(gmail.get(path, params=params))
    assert words in error["message"]
    assert gmail.world.gmail.units_by_method == {}  # a refused call spends no quota


def test_gmail_takes_the_largest_page_and_honours_fields(gmail):
    assert gmail.get("messages", params={"maxResults": "500"}).status_code == 200
    sent = gmail.post("messages/send", json={"raw": _raw()}).json()
    got = gmail.get(f"messages/{sent['id']}", params={"format": "minimal", "fields": "id,threadId"})
    assert got.json() == {"id": sent["id"], "threadId": sent["threadId"]}
    profile = gmail.get("profile", params={"fields": "emailAddress"}).json()
    assert profile == {"emailAddress": "me@artist.example"}


# --- Gemini ---------------------------------------------------------------------------------------
@pytest.fixture
def gemini():
    emulator = GeminiEmulator()
    with serve_in_thread(emulator.app) as server:
        emulator.url = f"{server.url}/v1beta/models/gemini-2.5-flash:generateContent"
        yield emulator


def _generate(gemini, body: dict) -> httpx.Response:
    return httpx.post(gemini.url, headers={"x-goog-api-key": "test-gemini-key"}, json=body)


@refuses
def test_gemini_refuses_an_unknown_field_and_a_bad_enum_by_the_v1beta_types(gemini):
    contents = [{"role": "user", "parts": [{"text": "hello"}]}]
    error = _error(
        _generate(gemini, {"contents": contents, "generation_config": {"tempreature": 1}})
    )
    assert "Unknown name \"tempreature\" at 'generation_config'" in error["message"]
    assert "google.ai.generativelanguage.v1beta types" in error["message"]
    schema = {"type": "DICT", "properties": {"subject": {"type": "STRING"}}}
    config = {"responseMimeType": "application/json", "responseSchema": schema}
    error = _error(_generate(gemini, {"contents": contents, "generationConfig": config}))
    assert (
        "Invalid value at 'generation_config.response_schema.type' (TYPE_ENUM)"
        in (error["message"])
    )
    assert "Schema.type is one of TYPE_UNSPECIFIED, STRING" in error["message"]
    assert gemini.requests == []
    # The same request, right, is answered (snake_case names are Google's too).
    schema["type"] = "OBJECT"
    good = _generate(gemini, {"contents": contents, "generation_config": config})
    assert good.status_code == 200 and gemini.request_count == 1


# --- an unmarked test that causes a refusal fails --------------------------------------------------
_PROBE = """
import httpx
import pytest

from tests.emulators.gemini import GeminiEmulator
from tests.emulators.serve import serve_in_thread


def _post_bad_request():
    emulator = GeminiEmulator()
    with serve_in_thread(emulator.app) as server:
        url = f"{server.url}/v1beta/models/gemini-2.5-flash:generateContent"
        headers = {"x-goog-api-key": "test-gemini-key"}
        return httpx.post(url, headers=headers, json={"contents": [], "stream": True})


def test_code_that_swallows_the_400():
    assert _post_bad_request().status_code == 400  # "handled": the test body passes


@pytest.mark.google_refuses
def test_that_means_to_send_it():
    assert _post_bad_request().status_code == 400
"""


def test_a_test_whose_code_sends_what_google_refuses_fails_with_the_reason(tmp_path):
    probe = tmp_path / "test_probe.py"
    probe.write_text(textwrap.dedent(_PROBE))
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "tests.conftest",
            "-c",
            "pyproject.toml",
            "--rootdir",
            str(ROOT),
            "-p",
            "no:cacheprovider",
            str(probe),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = run.stdout
    assert run.returncode == 1, out + run.stderr
    assert "1 failed, 1 passed" in out
    assert "FAILED" in out and "test_code_that_swallows_the_400" in out
    assert "1 request(s) Google would refuse" in out
    assert 'Unknown name "stream": Cannot find field.' in out
    assert "GenerateContentRequestBody has no field 'stream'" in out
