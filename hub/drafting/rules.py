"""Rules every draft obeys, whichever drafter made it, and the hold reasons drafting owns.

The mailer refuses CR/LF in header values too (``email.policy.default``), but a subject that
would be refused at send time is caught here, while a person can still look at it.
"""

from __future__ import annotations

from hub.drafting.base import Draft, DraftRefused
from hub.errors import ProviderError

# Gmail shows ~70 characters of a subject; 200 is far past any sensible one (a model rambling).
MAX_SUBJECT_CHARS = 200
MAX_BODY_CHARS = 20_000

# Hold reasons drafting sets (and may clear once the row drafts). A REVIEW hold about the
# drafter's own output waits for a person; a blank field is re-checked every run because the
# fix is to fill the cell; HELD holds are transient and retried by the next run.
BLANK_FIELD = "REVIEW:blank_field"
GEMINI_BLOCKED = "REVIEW:gemini_blocked"
BAD_OUTPUT = "REVIEW:bad_output"
BAD_SUBJECT = "REVIEW:bad_subject"
GEMINI_QUOTA = "HELD:gemini_quota"
DRAFT_HOLDS = (BLANK_FIELD, GEMINI_BLOCKED, BAD_OUTPUT, BAD_SUBJECT, GEMINI_QUOTA)
WAITS_FOR_PERSON = (GEMINI_BLOCKED, BAD_OUTPUT, BAD_SUBJECT)
# last_error text written by drafting starts with this, so a later success can clear it
# without erasing another stage's error.
ERROR_PREFIX = "draft: "


class DrafterMisconfigured(ProviderError):
    """The drafter cannot work at all (refused key, unknown model): fail the job, name the
    setting to fix. Never carries the key itself."""

    code = "drafter_misconfigured"


def is_drafting_hold(hold_reason: str) -> bool:
    return hold_reason.startswith(DRAFT_HOLDS)


def waits_for_person(hold_reason: str) -> bool:
    return hold_reason.startswith(WAITS_FOR_PERSON)


def check_draft(draft: Draft) -> Draft | DraftRefused:
    """The last gate before a draft reaches the sheet."""
    subject, body = draft.subject, draft.body
    if any(ch in subject for ch in "\r\n\x00"):
        # RFC 5322 header injection: a CR/LF in a subject would start a new header line.
        return DraftRefused(f"{BAD_SUBJECT} contains a line break")
    if not subject.strip() or not body.strip():
        return DraftRefused(f"{BAD_OUTPUT} empty subject or body")
    if len(subject) > MAX_SUBJECT_CHARS:
        return DraftRefused(f"{BAD_SUBJECT} longer than {MAX_SUBJECT_CHARS} characters")
    if "\x00" in body or len(body) > MAX_BODY_CHARS:
        return DraftRefused(f"{BAD_OUTPUT} body is not plain text of a sensible length")
    return Draft(subject=subject.strip(), body=body.strip() + "\n")
