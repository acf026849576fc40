"""Builders for the inbound mail a prospect's side produces: replies, out-of-office auto-replies,
bounces (RFC 3464 delivery status notifications) and "please unsubscribe me" replies.

They return ``EmailMessage`` objects shaped like what Gmail actually receives, so the same
messages feed the Gmail emulator (``GmailEmulator.deliver``) and the pure classifier tests.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

_counter = itertools.count(1)


def _thread_headers(reply: EmailMessage, original: EmailMessage) -> None:
    """RFC 5322 §3.6.4: In-Reply-To = parent's Message-ID; References = parent's References
    followed by the parent's Message-ID."""
    parent_id = str(original.get("Message-ID", "")).strip()
    references = " ".join(
        part for part in (str(original.get("References", "")).strip(), parent_id) if part
    )
    if parent_id:
        reply["In-Reply-To"] = parent_id
    if references:
        reply["References"] = references


def _re(subject: str) -> str:
    return subject if subject.lower().startswith("re:") else f"Re: {subject}"


def _base(from_addr: str, to_addr: str, subject: str, when: datetime | None) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = from_addr
    msg["To"] = to_addr
    msg["Subject"] = subject
    msg["Date"] = format_datetime(when or datetime.now(UTC))
    msg["Message-ID"] = make_msgid(idstring=f"in{next(_counter)}", domain="mail.example")
    return msg


def reply(
    original: EmailMessage,
    *,
    from_addr: str,
    body: str = "Thanks for reaching out! We'd love to see more of your work.",
    when: datetime | None = None,
) -> EmailMessage:
    """A person's answer in the thread of ``original``."""
    msg = _base(from_addr, str(original["From"]), _re(str(original["Subject"])), when)
    _thread_headers(msg, original)
    msg.set_content(body + "\n\n> " + original.get_content().strip().replace("\n", "\n> "))
    return msg


def auto_reply(
    original: EmailMessage,
    *,
    from_addr: str,
    body: str = "I am out of the office with limited access to email.",
    subject: str = "Automatic reply: {subject}",
    when: datetime | None = None,
) -> EmailMessage:
    """An out-of-office answer: RFC 3834 ``Auto-Submitted: auto-replied`` plus the
    ``X-Autoreply`` header many servers add, and one of the typical subjects."""
    msg = _base(from_addr, str(original["From"]), subject.format(subject=original["Subject"]), when)
    _thread_headers(msg, original)
    msg["Auto-Submitted"] = "auto-replied"
    msg["X-Autoreply"] = "yes"
    msg["Precedence"] = "auto_reply"
    msg.set_content(body)
    return msg


def bounce(
    original: EmailMessage,
    *,
    hard: bool = True,
    reporting_mta: str = "googlemail.com",
    when: datetime | None = None,
) -> EmailMessage:
    """A delivery status notification from the mailer daemon (RFC 3464):
    ``multipart/report; report-type=delivery-status`` with a human part, a
    ``message/delivery-status`` part (``Status: 5.1.1`` hard, ``4.2.2`` soft) and the
    original headers."""
    recipient = str(original["To"])
    status, action, diagnostic, title = (
        (
            "5.1.1",
            "failed",
            "smtp; 550-5.1.1 The email account that you tried to reach does not exist.",
            "Failure",
        )
        if hard
        else (
            "4.2.2",
            "delayed",
            "smtp; 452-4.2.2 The email account that you tried to reach is over quota.",
            "Delay",
        )
    )
    msg = _base(
        "Mail Delivery Subsystem <mailer-daemon@googlemail.com>",
        str(original["From"]),
        f"Delivery Status Notification ({title})",
        when,
    )
    _thread_headers(msg, original)
    msg["Auto-Submitted"] = "auto-replied"
    human = (
        f"Address not found\n\nYour message wasn't delivered to {recipient} because the "
        "address couldn't be found, or is unable to receive mail."
        if hard
        else f"Delivery incomplete\n\nThere was a temporary problem delivering your message to "
        f"{recipient}. Gmail will retry for 47 more hours."
    )
    msg.set_content(human)
    msg.make_mixed()
    msg.set_type("multipart/report")
    msg.set_param("report-type", "delivery-status")
    per_message = EmailMessage()
    per_message["Reporting-MTA"] = f"dns; {reporting_mta}"
    per_recipient = EmailMessage()
    per_recipient["Final-Recipient"] = f"rfc822; {recipient}"
    per_recipient["Action"] = action
    per_recipient["Status"] = status
    per_recipient["Diagnostic-Code"] = diagnostic
    status_part = EmailMessage()
    status_part.set_type("message/delivery-status")
    status_part.set_payload([per_message, per_recipient])
    msg.attach(status_part)
    headers_part = EmailMessage()
    headers_part.set_content(
        "".join(f"{k}: {v}\n" for k, v in original.items()), subtype="rfc822-headers"
    )
    del headers_part["Content-Type"]
    headers_part["Content-Type"] = "text/rfc822-headers"
    msg.attach(headers_part)
    return msg


def unsubscribe_request(
    original: EmailMessage,
    *,
    from_addr: str,
    body: str = "Please remove me from your mailing list. I don't want these emails.",
    when: datetime | None = None,
) -> EmailMessage:
    """A person asking, in words, not to be written to again."""
    return reply(original, from_addr=from_addr, body=body, when=when)


# --- a mailbox of first messages already sent ---------------------------------------------------
def outgoing(n: int, *, sender: str = "me@artist.example") -> EmailMessage:
    """Our first message to prospect ``n`` (``editor@site<n>.example``)."""
    msg = EmailMessage()
    msg["From"] = f"Artist <{sender}>"
    msg["To"] = f"editor@site{n}.example"
    msg["Subject"] = f"Paintings for site {n}"
    msg["Message-ID"] = f"<row{n}.0@hub.example>"
    msg.set_content("Hello, would you like to see my paintings?")
    return msg


def sent_threads(
    gmail, n: int, *, sender: str = "me@artist.example", last_sent: str = "2025-06-01T10:00:00Z"
) -> tuple[dict[int, EmailMessage], list[dict[str, str]]]:
    """``n`` first messages placed in the emulator's Sent box (no quota spent), and the
    ``sent`` rows that point at their threads, ready for ``store.append``."""
    from datetime import timedelta

    due = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    originals: dict[int, EmailMessage] = {}
    rows: list[dict[str, str]] = []
    for i in range(n):
        msg = outgoing(i, sender=sender)
        stored = gmail.place_sent(msg)
        originals[i] = msg
        rows.append(
            {
                "domain": f"site{i}.example",
                "contact_email": f"editor@site{i}.example",
                "outreach_status": "sent",
                "message_id": msg["Message-ID"],
                "gmail_thread_id": stored.thread_id,
                "last_sent": last_sent,
                "followups_sent": "0",
                "next_followup_at": due.isoformat().replace("+00:00", "Z"),
            }
        )
    return originals, rows
