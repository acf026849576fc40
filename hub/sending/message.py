"""Build the outgoing ``EmailMessage``: identity, threading and consent headers, and the footer.

Every message carries (RFC 8058 / Gmail bulk-sender rules) a one-click unsubscribe link in
``List-Unsubscribe`` with ``List-Unsubscribe-Post: List-Unsubscribe=One-Click``, the same link
as a visible line in the body, and the sender's postal address. The Message-ID is made by the
caller *before* the provider is called, so a send with an unknown outcome can be found again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address, HeaderRegistry
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from hub.config.identities import PREVIEW_FROM
from hub.drafting.rules import BAD_SUBJECT
from hub.state.keys import secret_keys_for
from sheets.cells import BadCell, clean_text, normalize_email
from webhooks.tokens import UNSUBSCRIBE_SALT, TokenError, sign_timed

# Shown in dry-run previews when HUB_SENDER_ADDRESS is not set; a real send is refused instead.
ADDRESS_PLACEHOLDER = "[HUB_SENDER_ADDRESS is not set: a real send is refused until it is]"


class _HeaderClasses(HeaderRegistry):
    """The stdlib registry builds a new class for every header it parses (``type(...)`` in
    ``__getitem__``); the send path builds every message twice, so keep one class per name."""

    def __init__(self) -> None:
        super().__init__()
        self._made: dict[str, type] = {}

    def __getitem__(self, name: str) -> type:
        key = name.lower()
        if key not in self._made:
            self._made[key] = super().__getitem__(name)
        return self._made[key]


# CR, LF and NUL, and every other character ``str.splitlines`` breaks a line at (VT, FF, the
# file/group/record separators, NEL, U+2028/2029): the email package folds and parses headers
# with it, so any of them could start a new header line.
_FORBIDDEN_IN_HEADERS = frozenset("\r\n\0\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
# RFC 5322 allows 998 characters a line. With the default 78 the email package folds the long
# List-Unsubscribe URL into RFC 2047 encoded-words, which mail clients do not decode back into a
# URL (the one-click button would break); long body lines would also force quoted-printable.
MESSAGE_POLICY = policy.default.clone(max_line_length=998, header_factory=_HeaderClasses())
# A display name is cosmetic; a long non-ASCII one costs the email package quadratic time to
# fold into encoded-words (a 50,000-character cell took minutes), so it is cut to this.
MAX_NAME_CHARS = 100
# RFC 5322's 998-character line, less "Subject: " and room for "Re: " on follow-ups.
MAX_SUBJECT_CHARS = 980


class UnsafeHeader(ValueError):
    """A value bound for a header holds a line break or NUL (header injection); ``field``
    names it."""

    def __init__(self, field: str):
        super().__init__(f"{field} contains a line break or NUL character")
        self.field = field


class MissingSetup(ValueError):
    """A setting the message needs is missing; ``hold`` is the row's hold reason."""

    def __init__(self, hold: str, message: str):
        super().__init__(message)
        self.hold = hold


@dataclass(frozen=True)
class Content:
    """What goes into one message (first message or follow-up)."""

    to: str
    subject: str
    body: str
    to_name: str = ""


@dataclass(frozen=True)
class Threading:
    """Where a follow-up belongs: Gmail's ``threadId`` plus RFC 5322 In-Reply-To/References."""

    thread_id: str
    in_reply_to: str
    references: str = ""


def check_header_value(field: str, value: str) -> str:
    if any(ch in value for ch in _FORBIDDEN_IN_HEADERS):
        raise UnsafeHeader(field)
    return value


def sender_email(settings) -> str:
    return (settings.gmail_sender or "").strip() or PREVIEW_FROM


def new_message_id(settings, *, sender: str = "") -> str:
    """An RFC 5322 Message-ID in the sender's own domain (``<...@example.com>``); ``sender``:
    the sending identity's address, else the configured sender."""
    domain = (sender or sender_email(settings)).rsplit("@", 1)[-1] or "hub.invalid"
    return make_msgid(domain=domain)


def unsubscribe_url(settings, hub_id: str) -> str:
    """The one-click link for a row; the token carries the row id only, never the address."""
    try:
        token = sign_timed({"h": hub_id}, secret_keys_for(settings), UNSUBSCRIBE_SALT)
    except TokenError as exc:
        raise MissingSetup(
            "REVIEW:secret_keys", "set HUB_SECRET_KEYS: unsubscribe links are signed with it"
        ) from exc
    return f"{settings.base_url()}/u/{token}"


def footer(settings, link: str) -> str:
    address = (settings.sender_address or "").strip() or ADDRESS_PLACEHOLDER
    return f"\n\n--\n{address}\nDon't want to hear from us again? Unsubscribe: {link}\n"


def reply_subject(subject: str) -> str:
    text = subject.strip()
    return text if text.lower().startswith("re:") else f"Re: {text}"


def checked_fields(
    settings,
    content: Content,
    sender: tuple[str, str] | None = None,
    threading: Threading | None = None,
) -> tuple[str, str, str, str, str]:
    """(subject, to, to name, sender name, sender address) as :func:`build_message` puts them
    in the headers; raises as it does. Cheap: a send plans (and so checks) a whole chunk
    before its first call, and builds each message while the one before is in flight."""
    subject = check_header_value("subject", content.subject.strip())
    if len(subject) > MAX_SUBJECT_CHARS:  # typed by a person (drafts are checked already)
        raise MissingSetup(
            f"{BAD_SUBJECT} draft_subject: {len(subject)} characters (at most {MAX_SUBJECT_CHARS})",
            "the subject is too long",
        )
    try:
        to = normalize_email(check_header_value("contact_email", content.to), "contact_email")
    except BadCell as exc:
        raise MissingSetup(f"REVIEW:bad_email {exc}", str(exc)) from None
    name = clean_text(check_header_value("contact_name", content.to_name), MAX_NAME_CHARS)
    name_of, address_of = sender or ("", "")
    sender_name = check_header_value(
        "HUB_SENDER_NAME", (name_of or settings.sender_name or "").strip()
    )
    sender_address = check_header_value(
        "from" if address_of else "GMAIL_SENDER", address_of or sender_email(settings)
    )
    if not subject:
        raise MissingSetup("REVIEW:blank_field draft_subject", "the subject is empty")
    if threading is not None:
        check_header_value("In-Reply-To", threading.in_reply_to)
        check_header_value("References", f"{threading.references} {threading.in_reply_to}")
    return subject, to, name, sender_name, sender_address


def build_message(
    settings,
    content: Content,
    *,
    message_id: str,
    unsubscribe_link: str,
    threading: Threading | None = None,
    date: datetime | None = None,
    sender: tuple[str, str] | None = None,
) -> EmailMessage:
    """The message exactly as it goes to the provider. Raises :class:`UnsafeHeader`, and
    :class:`MissingSetup` (``REVIEW:bad_email contact_email: <why>``) for a recipient that is
    not one mailbox: nothing but one valid, normalised address ever reaches ``To``.
    ``sender``: the sending identity's (display name, address); else the settings' sender."""
    subject, to, name, sender_name, sender_address = checked_fields(settings, content, sender)
    message = EmailMessage(policy=MESSAGE_POLICY)
    message["From"] = (
        Address(display_name=sender_name, addr_spec=sender_address)
        if sender_name
        else sender_address
    )
    message["To"] = Address(display_name=name, addr_spec=to) if name else to
    message["Subject"] = subject
    message["Date"] = format_datetime(date or datetime.now(UTC))
    message["Message-ID"] = check_header_value("Message-ID", message_id)
    if threading is not None:
        message["In-Reply-To"] = check_header_value("In-Reply-To", threading.in_reply_to)
        refs = f"{threading.references} {threading.in_reply_to}".strip()
        message["References"] = check_header_value("References", refs)
    message["List-Unsubscribe"] = f"<{check_header_value('List-Unsubscribe', unsubscribe_link)}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(content.body.rstrip() + footer(settings, unsubscribe_link))
    return message
