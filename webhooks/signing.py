"""Body signatures: pure functions over raw bytes, headers, a list of secrets and ``now``.

Two schemes are understood, both HMAC-SHA256 over the raw body:

* **Standard Webhooks** (standardwebhooks.com): ``webhook-id``, ``webhook-timestamp`` (integer
  seconds), ``webhook-signature`` = space-separated ``v1,<base64>`` entries; the signed content
  is ``"{id}.{timestamp}.{body}"``. A secret written ``whsec_<base64>`` is used as its decoded
  bytes (the spec's format); any other secret is used as its UTF-8 text, which is what Make's
  ``sha256(text; "base64"; key)`` does with the derived key from
  ``webhooks.tokens.body_signing_keys``. The hub's outbound events are signed this way.
* **GitHub style**: ``X-Hub-Signature-256: sha256=<hex>`` over the raw body. GitHub's scheme has
  no timestamp, so replay protection would rest on de-duplication alone; we add an optional
  ``X-Hub-Timestamp: <integer seconds>`` header: when present, the signed content is
  ``"{timestamp}.{body}"`` and the timestamp must be within the tolerance.

Every secret in the list is tried (oldest to newest, as ``HUB_SECRET_KEYS`` is written), so keys
rotate without breaking senders. Comparisons are constant-time. Every failure, including a
malformed header (``garbage``, ``v1,not-base64!!``, a non-numeric timestamp), is one
:class:`VerificationError` whose message says which check failed and never contains a secret or
the received signature. (The reference standard-webhooks library lets ``ValueError`` and
``binascii.Error`` escape on a malformed header, which a server turns into a 500; Stripe wraps
them, and so do we.)
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

DEFAULT_TOLERANCE = 300  # seconds either side of now, as Stripe and standard-webhooks use

STANDARD_ID = "webhook-id"
STANDARD_TIMESTAMP = "webhook-timestamp"
STANDARD_SIGNATURE = "webhook-signature"
HUB_SIGNATURE = "x-hub-signature-256"
HUB_TIMESTAMP = "x-hub-timestamp"

SECRET_PREFIX = "whsec_"

_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_HEX_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
# A webhook-id goes into our dedupe key and the delivery log: printable ASCII, bounded.
MESSAGE_ID = re.compile(r"[\x21-\x7e]{1,255}")


class VerificationError(Exception):
    """The body's signature could not be verified; the message says which check failed."""


@dataclass(frozen=True)
class Verified:
    scheme: str  # "standard" | "hub"
    message_id: str | None  # webhook-id (Standard Webhooks); None for GitHub style
    timestamp: int | None  # the signed timestamp, when the scheme carried one


# --- signing (for senders: Make scenarios, tests, the hub's outbound events) --------------------


def sign_standard(secret: str, msg_id: str, ts: int | datetime, body: bytes | str) -> str:
    """The ``webhook-signature`` value (``v1,<base64>``) for one secret."""
    content = f"{msg_id}.{_seconds(ts)}.".encode() + _bytes(body)
    mac = hmac.new(_standard_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def sign_hub(key: str, body: bytes | str, ts: int | datetime | None = None) -> str:
    """The ``X-Hub-Signature-256`` value; with ``ts``, also send ``X-Hub-Timestamp: ts``."""
    content = _bytes(body) if ts is None else f"{_seconds(ts)}.".encode() + _bytes(body)
    return "sha256=" + hmac.new(key.encode(), content, hashlib.sha256).hexdigest()


# --- verifying ---------------------------------------------------------------------------------


def signature_scheme(headers: Mapping[str, str]) -> str | None:
    """Which scheme the request claims ("standard" | "hub"), or None when it carries none."""
    lowered = _lower(headers)
    if STANDARD_SIGNATURE in lowered:
        return "standard"
    if HUB_SIGNATURE in lowered:
        return "hub"
    return None


def verify_signature(
    body: bytes,
    headers: Mapping[str, str],
    secrets: Sequence[str],
    now: datetime,
    tolerance: int = DEFAULT_TOLERANCE,
) -> Verified | None:
    """Verify whichever scheme the headers use; None when the request is not signed at all.

    Whether an unsigned request is acceptable is the caller's decision (``require_signature``).
    """
    lowered = _lower(headers)  # once per request (it was three times: ~5% of a webhook's CPU)
    if STANDARD_SIGNATURE in lowered:
        return _verify_standard(body, lowered, secrets, now, tolerance)
    if HUB_SIGNATURE in lowered:
        return _verify_hub(body, lowered, secrets, now, tolerance)
    return None


def verify_standard(
    body: bytes,
    headers: Mapping[str, str],
    secrets: Sequence[str],
    now: datetime,
    tolerance: int = DEFAULT_TOLERANCE,
) -> Verified:
    return _verify_standard(body, _lower(headers), secrets, now, tolerance)


def verify_hub(
    body: bytes,
    headers: Mapping[str, str],
    secrets: Sequence[str],
    now: datetime,
    tolerance: int = DEFAULT_TOLERANCE,
) -> Verified:
    return _verify_hub(body, _lower(headers), secrets, now, tolerance)


def _verify_standard(
    body: bytes, lowered: dict[str, str], secrets: Sequence[str], now: datetime, tolerance: int
) -> Verified:
    msg_id = lowered.get(STANDARD_ID, "").strip()
    if not msg_id:
        raise VerificationError(f"the {STANDARD_ID} header is missing")
    if not MESSAGE_ID.fullmatch(msg_id):
        raise VerificationError(
            f"the {STANDARD_ID} header must be 1-255 printable characters without spaces"
        )
    ts = _check_timestamp(lowered.get(STANDARD_TIMESTAMP), STANDARD_TIMESTAMP, now, tolerance)
    received = _parse_standard_signatures(lowered.get(STANDARD_SIGNATURE, ""))
    content = f"{msg_id}.{ts}.".encode() + body
    for key in _standard_keys(tuple(secrets)):
        expected = hmac.new(key, content, hashlib.sha256).digest()
        # Compare against every entry without stopping early on a match position.
        if any(hmac.compare_digest(expected, candidate) for candidate in received):
            return Verified("standard", msg_id, ts)
    raise VerificationError(
        f"no {STANDARD_SIGNATURE} entry matches the body for any configured key "
        "(wrong key, or the body was changed after signing)"
    )


def _verify_hub(
    body: bytes, lowered: dict[str, str], secrets: Sequence[str], now: datetime, tolerance: int
) -> Verified:
    value = lowered.get(HUB_SIGNATURE, "").strip()
    if not value:
        raise VerificationError("the X-Hub-Signature-256 header is missing")
    algorithm, _, hex_digest = value.partition("=")
    if algorithm != "sha256" or not _HEX_SHA256.fullmatch(hex_digest):
        raise VerificationError(
            "the X-Hub-Signature-256 header is malformed; expected 'sha256=' and 64 hex digits"
        )
    received = bytes.fromhex(hex_digest)
    ts: int | None = None
    content = body
    if HUB_TIMESTAMP in lowered:
        ts = _check_timestamp(lowered[HUB_TIMESTAMP], "X-Hub-Timestamp", now, tolerance)
        content = f"{ts}.".encode() + body
    for key in _hub_keys(tuple(secrets)):
        expected = hmac.new(key, content, hashlib.sha256).digest()
        if hmac.compare_digest(expected, received):
            return Verified("hub", None, ts)
    signed_over = "'{X-Hub-Timestamp}.{body}'" if ts is not None else "the raw body"
    raise VerificationError(
        f"X-Hub-Signature-256 does not match {signed_over} for any configured key "
        "(wrong key, or the body was changed after signing)"
    )


# --- helpers -----------------------------------------------------------------------------------


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {key.lower(): value for key, value in headers.items()}


def _bytes(body: bytes | str) -> bytes:
    return body.encode() if isinstance(body, str) else body


def _seconds(ts: int | datetime) -> int:
    return int(ts.timestamp()) if isinstance(ts, datetime) else int(ts)


def _check_timestamp(raw: str | None, header: str, now: datetime, tolerance: int) -> int:
    if raw is None or not raw.strip():
        raise VerificationError(f"the {header} header is missing")
    if not _TIMESTAMP.fullmatch(raw.strip()):
        raise VerificationError(f"the {header} header must be an integer number of Unix seconds")
    ts = int(raw.strip())
    skew = ts - int(now.timestamp())
    if skew < -tolerance:
        raise VerificationError(
            f"the {header} is too old ({-skew} s; at most {tolerance} s allowed): "
            "sign each request when it is sent"
        )
    if skew > tolerance:
        raise VerificationError(
            f"the {header} is in the future ({skew} s; at most {tolerance} s allowed): "
            "check the sender's clock"
        )
    return ts


def _parse_standard_signatures(value: str) -> list[bytes]:
    """The decoded ``v1`` signatures; entries of other versions are ignored, as the spec says."""
    if not value.strip():
        raise VerificationError(f"the {STANDARD_SIGNATURE} header is missing")
    signatures: list[bytes] = []
    malformed = False
    for entry in value.split():
        version, sep, encoded = entry.partition(",")
        if not sep:
            malformed = True
            continue
        if version != "v1":
            continue
        try:
            decoded = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            malformed = True
            continue
        if len(decoded) != hashlib.sha256().digest_size:
            malformed = True
            continue
        signatures.append(decoded)
    if signatures:
        return signatures
    if malformed:
        raise VerificationError(
            f"the {STANDARD_SIGNATURE} header is malformed; expected space-separated "
            "'v1,<base64 HMAC-SHA256>' entries"
        )
    raise VerificationError(f"the {STANDARD_SIGNATURE} header has no 'v1' signature")


def _standard_key(secret: str) -> bytes:
    if secret.startswith(SECRET_PREFIX):
        return base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    return secret.encode()


def _standard_key_or_none(secret: str) -> bytes | None:
    try:
        return _standard_key(secret)
    except (binascii.Error, ValueError):
        return None  # a mistyped whsec_ secret can match nothing; the others still may


def _usable_keys(secrets: Sequence[str], decode) -> tuple[bytes, ...]:
    keys = tuple(key for key in (decode(s) for s in secrets if s) if key)
    if not keys:
        raise VerificationError("no body-signing key is configured (HUB_SECRET_KEYS)")
    return keys


# Decoded once per key list, not per request (a hub has a handful of keys; lru_cache keeps no
# exceptions, so "no key configured" is raised every time).
@functools.lru_cache(maxsize=16)
def _standard_keys(secrets: tuple[str, ...]) -> tuple[bytes, ...]:
    return _usable_keys(secrets, _standard_key_or_none)


@functools.lru_cache(maxsize=16)
def _hub_keys(secrets: tuple[str, ...]) -> tuple[bytes, ...]:
    return _usable_keys(secrets, str.encode)
