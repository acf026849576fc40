"""webhooks.signing: known-answer vectors, rotation, tolerance, and one error for every bad input."""

from __future__ import annotations

import random
import string
from datetime import UTC, datetime, timedelta

import pytest

from tests.helpers_signing import hub_headers, standard_headers
from webhooks.signing import (
    VerificationError,
    sign_hub,
    sign_standard,
    signature_scheme,
    verify_hub,
    verify_signature,
    verify_standard,
)
from webhooks.tokens import body_signing_key, body_signing_keys

# Standard Webhooks' own known-answer vector (API_NOTES.md).
SW_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SW_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SW_TS = 1614265330
SW_BODY = b'{"test": 2432232314}'
SW_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
SW_NOW = datetime.fromtimestamp(SW_TS, UTC)

# GitHub's documented vector.
GH_SECRET = "It's a Secret to Everybody"
GH_BODY = b"Hello, World!"
GH_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
KEY = "derived-body-key"


def sw_headers(**overrides):
    headers = {
        "webhook-id": SW_ID,
        "webhook-timestamp": str(SW_TS),
        "webhook-signature": SW_SIGNATURE,
    }
    headers.update(overrides)
    return {k: v for k, v in headers.items() if v is not None}


def test_sign_standard_known_answer():
    assert sign_standard(SW_SECRET, SW_ID, SW_TS, SW_BODY) == SW_SIGNATURE
    assert sign_standard(SW_SECRET, SW_ID, SW_NOW, SW_BODY.decode()) == SW_SIGNATURE


def test_verify_standard_known_answer():
    verified = verify_standard(SW_BODY, sw_headers(), [SW_SECRET], SW_NOW)
    assert (verified.scheme, verified.message_id, verified.timestamp) == ("standard", SW_ID, SW_TS)


def test_sign_hub_known_answer():
    assert sign_hub(GH_SECRET, GH_BODY) == GH_SIGNATURE
    verified = verify_hub(GH_BODY, {"X-Hub-Signature-256": GH_SIGNATURE}, [GH_SECRET], NOW)
    assert (verified.scheme, verified.timestamp) == ("hub", None)


def test_headers_are_case_insensitive():
    upper = {k.upper(): v for k, v in sw_headers().items()}
    assert verify_signature(SW_BODY, upper, [SW_SECRET], SW_NOW).message_id == SW_ID


def test_any_of_several_signatures_and_secrets_matches():
    """Rotation on both sides: the sender may send several v1 entries, we hold several keys."""
    other = sign_standard("whsec_" + "QUJD" * 8, SW_ID, SW_TS, SW_BODY)
    headers = sw_headers(**{"webhook-signature": f"v2,ignored {other} {SW_SIGNATURE}"})
    assert verify_standard(SW_BODY, headers, ["another-key", SW_SECRET], SW_NOW)
    assert verify_hub(GH_BODY, {"x-hub-signature-256": GH_SIGNATURE}, ["old", GH_SECRET], NOW)


def test_plain_text_secret_is_used_as_utf8_as_make_does():
    headers = standard_headers(b"{}", secret=KEY, now=NOW)
    assert verify_standard(b"{}", headers, [KEY], NOW)
    with pytest.raises(VerificationError, match="no webhook-signature entry matches"):
        verify_standard(b"{}", headers, ["whsec_" + "QUJD" * 8], NOW)


def test_mistyped_whsec_secret_is_skipped_not_a_crash():
    headers = standard_headers(b"{}", secret=KEY, now=NOW)
    assert verify_standard(b"{}", headers, ["whsec_not*base64", KEY], NOW)
    with pytest.raises(VerificationError, match="no body-signing key"):
        verify_standard(b"{}", headers, ["whsec_not*base64"], NOW)


def test_no_secret_configured_is_a_verification_error():
    with pytest.raises(VerificationError, match="HUB_SECRET_KEYS"):
        verify_hub(GH_BODY, {"x-hub-signature-256": GH_SIGNATURE}, [], NOW)


@pytest.mark.parametrize("skew", [-300, 0, 300])
def test_timestamp_within_tolerance(skew):
    ts = int(NOW.timestamp()) + skew
    assert verify_standard(b"x", standard_headers(b"x", secret=KEY, timestamp=ts), [KEY], NOW)
    assert verify_hub(b"x", hub_headers(b"x", key=KEY, timestamp=ts), [KEY], NOW)


@pytest.mark.parametrize(("skew", "words"), [(-301, "too old"), (301, "in the future")])
def test_timestamp_outside_tolerance(skew, words):
    ts = int(NOW.timestamp()) + skew
    with pytest.raises(VerificationError, match=words):
        verify_standard(b"x", standard_headers(b"x", secret=KEY, timestamp=ts), [KEY], NOW)
    with pytest.raises(VerificationError, match=words):
        verify_hub(b"x", hub_headers(b"x", key=KEY, timestamp=ts), [KEY], NOW)
    # A wider tolerance accepts it.
    assert verify_standard(
        b"x", standard_headers(b"x", secret=KEY, timestamp=ts), [KEY], NOW, tolerance=302
    )


def test_hub_timestamp_is_covered_by_the_signature():
    headers = hub_headers(b"x", key=KEY, timestamp=int(NOW.timestamp()))
    headers["x-hub-timestamp"] = str(int(NOW.timestamp()) + 10)  # replay with a fresher stamp
    with pytest.raises(VerificationError, match="X-Hub-Timestamp"):
        verify_hub(b"x", headers, [KEY], NOW)


def test_changed_body_or_id_fails():
    with pytest.raises(VerificationError, match=r"does not match|no webhook-signature"):
        verify_standard(SW_BODY + b" ", sw_headers(), [SW_SECRET], SW_NOW)
    with pytest.raises(VerificationError):
        verify_standard(SW_BODY, sw_headers(**{"webhook-id": "msg_other"}), [SW_SECRET], SW_NOW)
    with pytest.raises(VerificationError, match="does not match"):
        verify_hub(b"Hello, World?", {"x-hub-signature-256": GH_SIGNATURE}, [GH_SECRET], NOW)


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"webhook-signature": "garbage"}, "malformed"),
        ({"webhook-signature": "v1,not-base64!!"}, "malformed"),
        ({"webhook-signature": "v1,"}, "malformed"),
        ({"webhook-signature": "v1,AAAA"}, "malformed"),  # valid base64, not 32 bytes
        ({"webhook-signature": ","}, "no 'v1'"),
        ({"webhook-signature": "v1a,abc"}, "no 'v1'"),
        ({"webhook-signature": "   "}, "missing"),
        ({"webhook-timestamp": "abc"}, "integer"),
        ({"webhook-timestamp": "1e9"}, "integer"),
        ({"webhook-timestamp": "-1614265330"}, "integer"),
        ({"webhook-timestamp": "١٦١٤٢٦٥٣٣٠"}, "integer"),  # Arabic-Indic digits: int() accepts
        ({"webhook-timestamp": "9" * 40}, "integer"),
        ({"webhook-timestamp": None}, "webhook-timestamp header is missing"),
        ({"webhook-id": None}, "webhook-id header is missing"),
        ({"webhook-id": "x" * 256}, "1-255"),
        ({"webhook-id": "ünïcode"}, "printable"),
    ],
)
def test_malformed_standard_headers_raise_one_error(overrides, words):
    with pytest.raises(VerificationError, match=words):
        verify_standard(SW_BODY, sw_headers(**overrides), [SW_SECRET], SW_NOW)


@pytest.mark.parametrize(
    ("headers", "words"),
    [
        ({"x-hub-signature-256": "garbage"}, "malformed"),
        ({"x-hub-signature-256": "sha256="}, "malformed"),
        ({"x-hub-signature-256": "sha256=" + "g" * 64}, "malformed"),
        ({"x-hub-signature-256": "sha1=" + "0" * 40}, "malformed"),
        ({"x-hub-signature-256": "sha256=" + "0" * 63}, "malformed"),
        ({"x-hub-signature-256": ""}, "missing"),
        ({"x-hub-signature-256": GH_SIGNATURE, "x-hub-timestamp": "now"}, "integer"),
        ({"x-hub-signature-256": GH_SIGNATURE, "x-hub-timestamp": ""}, "missing"),
    ],
)
def test_malformed_hub_headers_raise_one_error(headers, words):
    with pytest.raises(VerificationError, match=words):
        verify_hub(GH_BODY, headers, [GH_SECRET], NOW)


def test_random_header_values_never_raise_anything_else():
    """Fuzz: whatever the headers hold, the only exception is VerificationError, and noise is
    never taken for a valid signature: a request is refused, or (no signature header at all)
    found unsigned."""
    rng = random.Random(20260302)
    refused = unsigned = 0
    alphabet = string.printable + "äß€\x00,=v1"
    pieces = ["v1,", "sha256=", "whsec_", " ", ",", "=", "1614265330", SW_SIGNATURE[:10]]
    for _ in range(2000):

        def noise():
            parts = [
                rng.choice(pieces) if rng.random() < 0.4 else rng.choice(alphabet)
                for _ in range(rng.randint(0, 30))
            ]
            return "".join(parts)

        headers = {
            name: noise()
            for name in (
                "webhook-id",
                "webhook-timestamp",
                "webhook-signature",
                "x-hub-signature-256",
                "x-hub-timestamp",
            )
            if rng.random() < 0.8
        }
        try:
            verified = verify_signature(SW_BODY, headers, [SW_SECRET, "whsec_!!"], SW_NOW)
        except VerificationError:
            refused += 1
        else:
            assert verified is None, headers  # nothing verified: it had no signature header
            assert not {"webhook-signature", "x-hub-signature-256"} & set(headers), headers
            unsigned += 1
    assert refused + unsigned == 2000
    assert refused > 1500  # most draws carry a signature header, and every one is refused


def test_unsigned_request_is_none_and_scheme_detection():
    assert verify_signature(b"{}", {"content-type": "application/json"}, [KEY], NOW) is None
    assert signature_scheme({"Webhook-Signature": "x"}) == "standard"
    assert signature_scheme({"X-Hub-Signature-256": "x"}) == "hub"
    assert signature_scheme({}) is None


def test_error_messages_never_contain_the_secret_or_the_signature():
    secret = "super-secret-key-value"
    signature = sign_hub(secret, b"a")
    for headers in ({"x-hub-signature-256": signature}, {"x-hub-signature-256": "sha256=zz"}):
        with pytest.raises(VerificationError) as info:
            verify_hub(b"b", headers, [secret], NOW)
        assert secret not in str(info.value) and signature[7:] not in str(info.value)


def test_body_signing_keys_are_derived_per_secret_key():
    keys = body_signing_keys(["k-old", "k-new"])
    assert keys == [body_signing_key("k-old"), body_signing_key("k-new")]
    assert len(set(keys)) == 2 and "k-new" not in keys[1]
    signed_with_old = hub_headers(b"{}", key=keys[0], now=NOW + timedelta(seconds=5))
    assert verify_hub(b"{}", signed_with_old, keys, NOW).scheme == "hub"
