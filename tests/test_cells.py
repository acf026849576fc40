"""sheets.cells: addresses, host names, numbers, dates and text as people type them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sheets.cells import (
    BadCell,
    clean_body,
    clean_text,
    domain_from_cell,
    normalize_domain,
    normalize_email,
    parse_count,
    parse_number,
    parse_time,
)
from tests.hostile import BAD_DOMAINS, BAD_EMAILS


def test_bad_cell_names_its_column():
    exc = BadCell("contact_email", "not one address")
    assert (exc.column, exc.why, str(exc)) == ("contact_email", "not one address", exc.args[0])
    assert str(exc) == "contact_email: not one address" and isinstance(exc, ValueError)


@pytest.mark.parametrize("value", BAD_EMAILS)
def test_what_is_not_one_mailbox_is_refused_with_a_reason(value):
    with pytest.raises(BadCell) as caught:
        normalize_email(value)
    assert caught.value.column == "contact_email" and caught.value.why
    assert "\r" not in str(caught.value) and "\u202e" not in str(caught.value)


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("foo@", "There must be something after the @-sign"),
        ("a@b", "It should have a period"),
        ("<x@y.example>", "one address only"),
        ("Bob <bob@y.example>", "one address only"),
        ("mailto:me@y.example", "without 'mailto:'"),
        ("\u202ex@y.example", "RIGHT-TO-LEFT OVERRIDE"),
        ("x@y.example, z@w.example", "one address only"),
        ("x@y.example;z@w.example", "one address only"),
        ("two words@y.example", "contains SPACE"),
        ("x@[127.0.0.1]", "bracketed IP address"),
    ],
)
def test_the_issues_addresses_say_what_is_wrong(value, why):
    with pytest.raises(BadCell, match=why):
        normalize_email(value, "email")


@pytest.mark.parametrize(
    ("typed", "normal"),
    [
        ("Editor@Gallery.TEST", "Editor@gallery.test"),
        ("  hello@art.example  ", "hello@art.example"),
        ("pitch@bücher.de", "pitch@xn--bcher-kva.de"),
        ("first.last+tag@sub.art.example", "first.last+tag@sub.art.example"),
    ],
)
def test_good_addresses_come_back_normalised(typed, normal):
    assert normalize_email(typed) == normal


@pytest.mark.parametrize("value", BAD_DOMAINS)
def test_what_is_not_a_host_name_is_refused(value):
    with pytest.raises(BadCell) as caught:
        domain_from_cell(value)
    assert caught.value.column == "domain"


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("[::1]", "is an IP address"),
        ("[64:ff9b::7f00:1]", "is an IP address"),
        ("127.0.0.1", "is an IP address"),
        ("ex ample.com", "contains SPACE"),
        ("..", "not a host name"),
        ("http://", "without a scheme"),
        ("gallery.test:8080", "no port"),
        ("localhost", "at least two labels"),
    ],
)
def test_the_issues_domains_say_what_is_wrong(value, why):
    with pytest.raises(BadCell, match=why):
        normalize_domain(value)


@pytest.mark.parametrize(
    ("typed", "host"),
    [
        ("WWW.Gallery.TEST.", "gallery.test"),
        ("bücher.de", "xn--bcher-kva.de"),
        ("xn--bcher-kva.de", "xn--bcher-kva.de"),
        ("sub.art-blog.example", "sub.art-blog.example"),
    ],
)
def test_host_names_come_back_in_idna_form(typed, host):
    assert normalize_domain(typed) == host


def test_a_pasted_web_address_gives_its_host_but_not_a_user():
    assert domain_from_cell("https://www.Gallery.test/about?x=1") == "gallery.test"
    assert domain_from_cell("https://gallery.test:8443/") == "gallery.test"
    with pytest.raises(BadCell, match="not a web address"):
        domain_from_cell("https://gallery.test:99999/")
    with pytest.raises(BadCell, match="user name"):
        domain_from_cell("https://me@gallery.test/")
    with pytest.raises(BadCell, match="IP address"):
        domain_from_cell("http://[::1]/")
    with pytest.raises(BadCell, match="not a web address"):
        domain_from_cell("http://[::1")


def test_numbers_and_dates_are_values_or_reasons():
    assert parse_count("", "followups_sent") == 0 and parse_count(" 2 ", "followups_sent") == 2
    for bad in ("two", "-1", "1e9", "²", "1" * 12):
        with pytest.raises(BadCell, match=r"followups_sent: .* is not a whole number"):
            parse_count(bad, "followups_sent")
    assert parse_number("12.5", "da_est") == 12.5 and parse_number("", "da_est") is None
    for bad in ("1e400", "NaN", "-inf", "twelve"):
        with pytest.raises(BadCell, match="da_est"):
            parse_number(bad, "da_est")
    assert parse_time("2026-12-04T09:00:00Z", "x") == datetime(2026, 12, 4, 9, tzinfo=UTC)
    assert parse_time("2026-12-04 09:00", "x") == datetime(2026, 12, 4, 9, tzinfo=UTC)
    for bad in ("tomorrow", "2026-13-45", "9" * 50, "２０２６-01-01"):
        with pytest.raises(BadCell, match=r"next_followup_at: .* is not a date"):
            parse_time(bad, "next_followup_at")


def test_text_loses_controls_and_stays_within_its_limit():
    assert clean_text("a\r\nBcc: x\x00\u202e y", 100) == "a Bcc: x y"
    assert len(clean_text("é" * 50_000, 200)) == 200
    body = clean_body("line one\r\nline\x00 two\t\u202bעברית\u202c", 1000)
    assert body == "line one\nline two\t\u202bעברית\u202c"
    assert (
        clean_text("{{ 7*7 }} {contact_name} =SUM(A1)", 100) == "{{ 7*7 }} {contact_name} =SUM(A1)"
    )
