"""The streamed ``values.get`` parser: the same rows as ``json.loads``, however the body is cut."""

from __future__ import annotations

import json

import pytest

from sheets.google_stream import TruncatedAnswer, iter_array
from tests.fixtures import load_real

ROWS = [
    ["hub_id", "domain", "page_title", "draft_body"],
    ["h_1", "café.example", 'Say "hi" \\ bye', "Line one\nline two\t— ✉️ 🎨"],
    [],
    ["h_3", "", "", "\u00e9\u0000 end"],
    ["h_4", "a.example"],
]
ANSWER = {"range": "'Prospects'!A1:AI5", "majorDimension": "ROWS", "values": ROWS}


def _cut(body: bytes, size: int) -> list[bytes]:
    return [body[i : i + size] for i in range(0, len(body), size)]


@pytest.mark.parametrize("indent", [None, 2], ids=["compact", "pretty-printed"])
@pytest.mark.parametrize("ascii_only", [False, True], ids=["utf8", "escaped"])
def test_every_cut_of_the_body_gives_the_same_rows(indent, ascii_only):
    body = json.dumps(ANSWER, indent=indent, ensure_ascii=ascii_only).encode()
    # Every chunk size up to the whole body: cuts fall inside strings, escapes, multi-byte
    # characters, between rows and inside the members around the array.
    for size in range(1, len(body) + 1):
        assert list(iter_array(_cut(body, size))) == ROWS, size


def test_the_recorded_values_get_answer_pretty_printed_as_google_sends_it():
    answer = load_real("sheets_values_update_and_get.json")["values_get_GET"]["response"]["body"]
    assert answer["values"]  # emoji cells: four UTF-8 bytes each, cut anywhere below
    body = json.dumps(answer, indent=2, ensure_ascii=False).encode()
    for size in (1, 2, 3, 5, 7):
        assert list(iter_array(_cut(body, size))) == answer["values"]


def test_members_in_any_order_and_numbers_cut_at_a_chunk_end():
    body = b'{"values": [["a"], ["b", "c"]], "total": 123456, "range": "S!A1:B2"}'
    cut_in_number = body.index(b"3456")
    chunks = [body[:cut_in_number], body[cut_in_number:]]
    assert list(iter_array(chunks)) == [["a"], ["b", "c"]]


@pytest.mark.parametrize(
    "body",
    [b'{"range": "S!A1:Z1000", "majorDimension": "ROWS"}', b'{"values": []}', b"{}", b" {\n}\n"],
)
def test_an_empty_range_yields_nothing(body):
    assert list(iter_array([body])) == []


@pytest.mark.parametrize(
    "body",
    [
        b'{"range": "S!A1", "values": [["a"], ["b"',
        b'{"range": "S!A1", "values": [["a"]',
        b'{"range": "S!A1", "values": [["a"]]',
        b'{"range": "S!A1"',
        b"",
        b'[["a"]]',
        b'{"values": [["a"] ["b"]]}',
    ],
)
def test_a_cut_off_or_malformed_answer_raises(body):
    with pytest.raises(TruncatedAnswer):
        list(iter_array(_cut(body, 5)))


def test_rows_arrive_before_the_body_has_ended():
    sent: list[int] = []

    def chunks():
        for number in range(1000):
            sent.append(number)
            yield (b'{"values": [' if number == 0 else b",") + json.dumps([str(number)]).encode()
        yield b"]}"

    rows = iter_array(chunks())
    assert next(rows) == ["0"]
    assert next(rows) == ["1"]
    assert len(sent) <= 3  # read a row or so ahead, not the whole answer
