"""Webhook tokens verify with the current keys: one Make token per action, a DataForSEO
callback token and an unsubscribe link are minted and verified the way the routes verify them;
how many keys are in force and where they come from (``HUB_SECRET_KEYS`` or the embedded key
file). The key file is read, never created: the doctor leaves the data folder as it found it.
"""

from __future__ import annotations

import stat
from pathlib import Path

from hub.config import Settings
from hub.doctor.checks_settings import weak_key_findings
from hub.doctor.report import Finding, error, ok, warn
from hub.state.keys import secret_key_path
from webhooks.tokens import (
    DATAFORSEO_SALT,
    MAKE_ACTIONS,
    UNSUBSCRIBE_SALT,
    TokenError,
    make_action_token,
    sign,
    sign_timed,
    verify,
    verify_make_token,
    verify_timed,
)

AREA = "webhooks"
PROBE_JOB = "hub-doctor"  # the job id a probe token names; no such job is ever created


def current_keys(settings: Settings) -> tuple[list[str], str]:
    """The keys in force (oldest first) and where they come from; ``([], "")`` if none yet."""
    keys = [k for k in settings.secret_keys if k]
    if keys:
        return keys, "HUB_SECRET_KEYS"
    path = secret_key_path(settings)
    try:
        key = path.read_text().strip()
    except OSError:
        return [], ""
    return ([key], f"the embedded key file {path}") if key else ([], "")


def probe_token(keys: list[str]) -> str:
    """A DataForSEO callback token for no real job: lets a check ask a running hub whether it
    accepts tokens made with these keys, without queueing anything."""
    return sign({"j": PROBE_JOB}, keys, DATAFORSEO_SALT)


def check_webhooks(settings: Settings) -> list[Finding]:
    keys, source = current_keys(settings)
    if not keys:
        return [
            warn(
                AREA,
                "no secret key yet: HUB_SECRET_KEYS is unset and the embedded key file "
                f"{secret_key_path(settings)} does not exist, so no webhook URL can be made",
                "start `hub serve` once (it creates the key) or set HUB_SECRET_KEYS, then copy "
                "the URLs with `hub webhook-url <action>`",
            )
        ]
    failed = _round_trips(keys)
    if failed:
        return [
            error(
                AREA,
                f"tokens made with the keys from {source} do not verify: {', '.join(failed)}",
                "check HUB_SECRET_KEYS (comma-separated, oldest first, no stray spaces)",
            )
        ]
    found = [
        ok(
            AREA,
            f"{len(keys)} key(s) from {source}: Make tokens for all {len(MAKE_ACTIONS)} actions, "
            "DataForSEO callbacks and unsubscribe links sign and verify",
        )
    ]
    if len(keys) > 1:
        found.append(ok(AREA, "URLs made with the oldest key still verify (rotation works)"))
    found += _key_hygiene(settings, keys, source)
    if settings.require_signature:
        found.append(
            ok(
                AREA,
                "HUB_REQUIRE_SIGNATURE is on: Make calls must sign their body",
                "render the blueprints with `hub scenarios render --sign`",
            )
        )
    return found


def _round_trips(keys: list[str]) -> list[str]:
    """What failed to verify, by name (empty when everything round-trips)."""
    failed: list[str] = []
    for action in MAKE_ACTIONS:
        try:
            if verify_make_token(make_action_token(action, keys), keys) != action:
                failed.append(f"make:{action}")
        except TokenError:
            failed.append(f"make:{action}")
    checks = (
        ("dataforseo callback", lambda: verify(probe_token(keys), keys, DATAFORSEO_SALT)),
        (
            "unsubscribe link",
            lambda: verify_timed(
                sign_timed({"h": PROBE_JOB}, keys, UNSUBSCRIBE_SALT), keys, UNSUBSCRIBE_SALT, 60
            ),
        ),
    )
    if len(keys) > 1:  # a URL pasted into Make before the newest key was added
        checks += (
            ("rotation", lambda: verify_make_token(make_action_token("tick", keys[:1]), keys)),
        )
    for name, round_trip in checks:
        try:
            round_trip()
        except TokenError:
            failed.append(name)
    return failed


def _key_hygiene(settings: Settings, keys: list[str], source: str) -> list[Finding]:
    found = weak_key_findings(settings, "HUB_SECRET_KEYS")  # what stops `hub serve`
    if source != "HUB_SECRET_KEYS":
        path = Path(secret_key_path(settings))
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            found.append(
                warn(
                    AREA,
                    f"the embedded key file {path} can be read by other users "
                    f"(mode {stat.S_IMODE(mode):o})",
                    f"chmod 600 {path}",
                )
            )
    return found
