"""Settings present and consistent: :meth:`Settings.check` plus what start-up does not refuse
but a user would regret (sends held for a missing postal address, /api closed, a daily cap above
what Gmail allows, files named by a setting that are not there). No network, no writes.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from hub.config import Settings
from hub.doctor.report import Finding, error, ok, warn
from hub.errors import ConfigError, HubError
from hub.state.keys import api_key_path

AREA = "settings"
# Consumer Gmail allows about 500 recipients a day, Workspace 2,000 (API_NOTES.md).
GMAIL_CONSUMER_DAILY = 500
MIN_API_KEY_CHARS = 20
_NEEDS = re.compile(r"needs (\w+)")


def check_settings(settings: Settings) -> list[Finding]:
    findings = _consistency(settings)
    findings += _sending(settings)
    findings += _edge(settings)
    files = _files(settings)
    findings += files
    if not files:  # a missing template folder or prompt file is already named above
        findings += _drafting(settings)
    if not any(f.level != "ok" for f in findings):
        findings.append(ok(AREA, "settings are present and consistent"))
    return findings


def _consistency(settings: Settings) -> list[Finding]:
    """What ``hub serve`` refuses to start without; one finding per problem."""
    try:
        settings.check()
    except ConfigError as exc:
        return [_problem(text) for text in str(exc).split("; ") if text]
    return []


def _problem(text: str) -> Finding:
    needed = _NEEDS.search(text)
    if needed:
        return error(AREA, text, f"set {needed.group(1)} (environment or .env)")
    if ": " in text:
        cause, fix = text.rsplit(": ", 1)
        return error(AREA, cause, fix)
    return error(AREA, text, "set the variable it names (environment or .env)")


def _sending(settings: Settings) -> list[Finding]:
    found: list[Finding] = []
    for name, parse in _sending_parsers():
        try:
            parse(settings)
        except ValueError as exc:  # LimitsConfigError is a ValueError naming the variable
            found.append(error(AREA, str(exc), f"correct {name}"))
    if settings.mailer == "outbox":
        return found
    if not settings.sender_address.strip():
        found.append(
            warn(
                AREA,
                f"HUB_MAILER={settings.mailer} but HUB_SENDER_ADDRESS is empty: real sends are held "
                "(REVIEW:sender_address)",
                "set HUB_SENDER_ADDRESS to the postal address every message's footer must show",
            )
        )
    if settings.uses_gmail and settings.daily_cap > GMAIL_CONSUMER_DAILY:
        found.append(
            warn(
                AREA,
                f"HUB_DAILY_CAP={settings.daily_cap} is above what a consumer Gmail account may "
                f"send a day (about {GMAIL_CONSUMER_DAILY}; Workspace: 2,000)",
                "lower HUB_DAILY_CAP unless the account is Google Workspace",
            )
        )
    if settings.auto_send and not settings.require_approval:
        found.append(
            warn(
                AREA,
                "HUB_AUTO_SEND is on and HUB_REQUIRE_APPROVAL off: drafts go out through Gmail "
                "without anyone reading them",
                "set HUB_REQUIRE_APPROVAL=true and tick `approved` in the sheet",
            )
        )
    return found


def _sending_parsers():
    from hub.config.pacing import Gap, SendWindow
    from hub.sending.reconcile import followup_offsets

    return (
        ("HUB_SEND_GAP_SECONDS", lambda s: Gap.parse(s.send_gap_seconds)),
        ("HUB_SEND_WINDOW", lambda s: SendWindow.parse(s.send_window)),
        ("HUB_FOLLOWUP_DAYS", followup_offsets),
    )


def _edge(settings: Settings) -> list[Finding]:
    found: list[Finding] = []
    keys = [k for k in settings.api_keys if k]
    if not keys:
        # `hub serve` then keeps a private random key in HUB_DATA_DIR/api_key (state_keys).
        path = api_key_path(settings)
        state = "holds" if path.exists() else "will hold (created by the first `hub serve`)"
        found.append(
            ok(
                AREA,
                f"HUB_API_KEYS is not set: /api and the status page open with the private key "
                f"{path} {state}",
                "set HUB_API_KEYS to share keys with Make.com or scripts (several allow rotation)",
            )
        )
    elif any(len(k) < MIN_API_KEY_CHARS for k in keys):
        short = sum(1 for k in keys if len(k) < MIN_API_KEY_CHARS)
        found.append(
            warn(
                AREA,
                f"{short} of the {len(keys)} HUB_API_KEYS is shorter than "
                f"{MIN_API_KEY_CHARS} characters: easy to guess",
                "replace it with a long random key (keep the old one listed while clients move)",
            )
        )
    if settings.events_url and not _is_https_or_loopback(settings.events_url):
        found.append(
            warn(
                AREA,
                "HUB_EVENTS_URL is not https: events (with row data) travel in clear text",
                "use the https:// URL of the Make.com custom webhook",
            )
        )
    return found


def _is_https_or_loopback(url: str) -> bool:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.scheme == "https" or (parts.hostname or "") in ("127.0.0.1", "localhost", "::1")


def _files(settings: Settings) -> list[Finding]:
    found: list[Finding] = []
    named = (
        ("GOOGLE_SERVICE_ACCOUNT_FILE", settings.google_service_account_file, "file"),
        ("HUB_SCORE_WEIGHTS_FILE", settings.score_weights_file, "file"),
        ("HUB_PROMPT_TEMPLATE_FILE", settings.prompt_template_file, "file"),
        ("HUB_TEMPLATES_DIR", settings.templates_dir, "folder"),
    )
    inline_key = bool(settings.google_service_account_json.get_secret_value())
    for name, value, kind in named:
        if not value or (name == "GOOGLE_SERVICE_ACCOUNT_FILE" and inline_key):
            continue  # unset, or the inline JSON wins over the file
        path = Path(value).expanduser()
        exists = path.is_dir() if kind == "folder" else path.is_file()
        if not exists:
            found.append(error(AREA, f"{name} names a {kind} that does not exist: {path}",
                               f"correct {name} or create the {kind}"))  # fmt: skip
    data_dir = settings.data_dir
    if data_dir.exists() and not os.access(data_dir, os.W_OK):
        found.append(
            error(
                AREA,
                f"HUB_DATA_DIR {data_dir} is not writable: jobs, the send ledger and the "
                "secret key live there",
                "give the hub's user write access, or point HUB_DATA_DIR elsewhere",
            )
        )
    if settings.score_weights_file and Path(settings.score_weights_file).is_file():
        from hub.scoring import load_weights

        try:
            load_weights(settings.score_weights_file)
        except HubError as exc:
            found.append(error(AREA, str(exc), "fix the TOML in HUB_SCORE_WEIGHTS_FILE"))
    return found


def _drafting(settings: Settings) -> list[Finding]:
    """Templates and the prompt are loaded the way start-up loads them (no network)."""
    from hub.drafting.factory import build_drafter

    try:
        drafter = build_drafter(settings)
    except (ConfigError, OSError, ValueError) as exc:
        return [error(AREA, f"the drafter cannot start: {exc}", "fix the file the message names")]
    closer = getattr(drafter, "close", None)
    if callable(closer):
        closer()
    return []
