"""hub.redact: no password, key or token survives, whatever shape the URL or text has."""

from __future__ import annotations

import logging
import string
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.config import Settings
from hub.redact import (
    MASK,
    AccessLogFilter,
    RedactingFilter,
    describe_error,
    known_secrets,
    mask_request_target,
    redact,
    redact_url,
    url_password,
)

PASSWORD = "Db/Pw#55?21"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"postgresql://hub:{PASSWORD}@127.0.0.1:5432/hub", "postgresql://hub:**********@127.0.0.1:5432/hub"),
        ("postgresql://hub:p@ss word@db:5432/hub", "postgresql://hub:**********@db:5432/hub"),
        ("postgresql://hub:pw@[::1]:5432/hub", "postgresql://hub:**********@[::1]:5432/hub"),
        ("postgresql://hub@db/hub", "postgresql://hub@db/hub"),
        ("postgresql://db/hub?sslmode=require&password=pw1", "postgresql://db/hub?sslmode=require&password=**********"),
        ("host=db password='a b c' dbname=hub", "host=db password=********** dbname=hub"),
        ("https://api.hunter.io/v2/email-verifier?email=a@b.example&api_key=k123", "https://api.hunter.io/v2/email-verifier?email=a@b.example&api_key=**********"),
    ],
)  # fmt: skip
def test_urls_and_dsns_lose_their_password_and_keep_the_rest(url, expected):
    assert redact_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://hub:SECRETPW@[127.0.0.1:5999/hub",  # an unmatched [ (urlsplit raises)
        "postgresql://hub:SECRETPW@db host/hub",  # a space in the host
        "SECRETPW",  # not a URL at all
        "",
    ],
)
def test_what_cannot_be_taken_apart_is_masked_whole(url):
    redacted = redact_url(url)
    assert "SECRETPW" not in redacted and MASK in redacted


@given(
    password=st.text(alphabet=string.printable.strip() + " ", min_size=1, max_size=30),
    host=st.sampled_from(["db", "[::1]", "[127.0.0.1", "10.0.0.1:6543", "db.internal"]),
)
def test_no_password_shape_leaks_or_raises(password, host):
    secret = f"Zq9{password}9qZ"  # a marker nothing else in the URL contains
    for url in (f"postgresql://hub:{secret}@{host}/hub", f"postgresql://{secret}@{host}/hub"):
        redacted = redact_url(url)
        in_text = redact(f"cannot reach {url}: refused")
        if url.startswith("postgresql://hub:"):
            assert secret not in redacted and secret not in in_text


def test_url_password_finds_what_redact_url_masks():
    assert url_password(f"postgresql://hub:{PASSWORD}@db/hub") == PASSWORD
    assert url_password("postgresql://hub@db/hub") == ""
    assert url_password("host=db password='a b'") == "a b"


def test_free_text_masks_urls_key_values_bearer_tokens_and_known_secrets():
    text = (
        "GET https://x.test/v2?domain=a.test&api_key=k-123 failed; Authorization: Bearer "
        "ya29.token; token=abc password: hunter22 then the canary CANARY-0042 again"
    )
    redacted = redact(text, ["CANARY-0042"])
    for secret in ("k-123", "ya29.token", "abc", "hunter22", "CANARY-0042"):
        assert secret not in redacted
    assert "Authorization: Bearer **********" in redacted and "domain=a.test" in redacted


def test_a_chained_exception_is_described_without_its_dsn():
    dsn = "postgresql://hub:pw-in-cause@[127.0.0.1:5999/hub"
    try:
        try:
            raise ValueError(f"bad {dsn}")
        except ValueError as exc:
            raise RuntimeError("could not connect") from exc
    except RuntimeError as exc:
        caught = exc
    assert "pw-in-cause" not in describe_error(caught.__cause__)


def test_the_logging_filter_redacts_message_arguments_and_traceback(caplog):
    logger = logging.getLogger("tests.redact")
    handler = logging.StreamHandler()
    handler.addFilter(RedactingFilter(secrets=["known-secret-value"]))
    try:
        raise ConnectionError("postgresql://hub:tb-secret@db/hub refused")
    except ConnectionError:
        record = logger.makeRecord(
            "tests.redact", logging.ERROR, __file__, 1, "reaching %s with %s",
            ("postgresql://hub:arg-secret@db/hub", "known-secret-value"), sys.exc_info(),
        )  # fmt: skip
    handler.filter(record)
    line = logging.Formatter().format(record)
    for secret in ("tb-secret", "arg-secret", "known-secret-value"):
        assert secret not in line
    assert "Traceback" in line and "ConnectionError" in line


def test_libpq_quoting_a_piece_of_the_url_is_masked():
    """libpq quotes the part of a URI it could not parse: a piece of a password with a `?`."""
    record = logging.LogRecord(
        "psycopg.pool", logging.WARNING, __file__, 1, "error connecting in %r: %s",
        ("prospects", 'missing key/value separator "=" in URI query parameter: "21@db:5432/hub"'),
        None,
    )  # fmt: skip
    RedactingFilter().filter(record)
    assert "21@" not in record.getMessage() and "error connecting in 'prospects'" in record.msg


def test_the_access_log_masks_capability_tokens_and_key_values():
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "POST", "/webhooks/make/eyJhIjoidGljayJ9.z04H-sig?key=k1&x=2", "1.1", 202),
        None,
    )  # fmt: skip
    AccessLogFilter().filter(record)
    line = record.getMessage()
    assert line == '127.0.0.1:5 - "POST /webhooks/make/**********?key=**********&x=2 HTTP/1.1" 202'
    for path in ("/webhooks/dataforseo/postback/tok.en?id=1", "/u/unsub-token"):
        assert "tok" not in mask_request_target(path).replace("/**********", "")
    plain = "/api/jobs?status=failed"
    assert mask_request_target(plain) is plain  # nothing to mask: nothing copied


def test_known_secrets_are_every_secret_setting_and_the_database_password(data_dir):
    settings = Settings(
        _env_file=None,
        data_dir=data_dir,
        hunter_api_key="hunter-canary",
        api_keys=["api-canary-0123456789012"],
        secret_keys=["signing-canary"],
        database_url="postgresql://hub:p%40ss%20word@db/hub",
    )
    found = known_secrets(settings)
    for value in ("hunter-canary", "api-canary-0123456789012", "signing-canary"):
        assert value in found
    assert "p%40ss%20word" in found and "p@ss word" in found
