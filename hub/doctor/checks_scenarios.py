"""The shipped Make.com blueprints, rendered as ``hub scenarios render`` would render them for
this hub (its URL, its keys, signed when ``HUB_REQUIRE_SIGNATURE`` is on), lint clean.
CPU only; the caller runs it in a thread.
"""

from __future__ import annotations

import secrets

from hub.config import Settings
from hub.doctor.report import Finding, error, ok, warn
from scenarios.lint import lint_document
from scenarios.lint_context import LintOptions
from scenarios.render import RenderError, RenderOptions, catalogue, render

AREA = "scenarios"
SHOWN = 3  # lint findings quoted per blueprint
# Only fills the placeholder of the notify blueprint so it can be linted; never sent anywhere.
LINT_EMAIL = "doctor@example.invalid"


def check_scenarios(settings: Settings, keys: list[str]) -> list[Finding]:
    # Without a key yet, lint with a throwaway one: the tokens' shape is what is linted.
    options = RenderOptions(
        hub_url=settings.base_url(),
        secret_keys=keys or [secrets.token_urlsafe(48)],
        sign=settings.require_signature,
        notify_email=settings.sender_address if "@" in settings.sender_address else LINT_EMAIL,
    )
    lint_options = LintOptions(require_signature=settings.require_signature)
    shipped = catalogue()
    found: list[Finding] = []
    for blueprint in shipped:
        try:
            rendered = render(blueprint.load(), options)
        except RenderError as exc:
            found.append(error(AREA, f"{blueprint.name} does not render: {exc}",
                               "fix what the message names (HUB_PUBLIC_URL, keys)"))  # fmt: skip
            continue
        findings = lint_document(rendered, lint_options)
        errors = [f for f in findings if f.severity == "error"]
        shown = "; ".join(f.describe() for f in (errors or findings)[:SHOWN])
        if errors:
            found.append(error(AREA, f"{blueprint.name}: {len(errors)} lint error(s): {shown}",
                               "report it: a shipped blueprint must lint clean"))  # fmt: skip
        elif findings:
            found.append(warn(AREA, f"{blueprint.name}: {len(findings)} lint warning(s): {shown}",
                              "check the named modules after importing into Make"))  # fmt: skip
    if not found:
        signed = ", signed" if settings.require_signature else ""
        found.append(
            ok(AREA, f"all {len(shipped)} shipped blueprints render{signed} and lint clean")
        )
    return found
