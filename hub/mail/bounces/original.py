"""The Message-ID of the message we sent, as a bounce or a complaint hands it back: in its
``text/rfc822-headers`` / ``message/rfc822`` part, in the copy that plain-text bounces append
(qmail, Exim, Gmail), or in an ARF report's fields. A bounce often arrives in a thread of its
own, so this, not the thread, is what ties it to the row."""

from __future__ import annotations

import re

from hub.mail.base import MailboxMessage

_MESSAGE_ID = re.compile(
    r"^[ \t>]*Message-ID:[ \t]*\n?[ \t]*<?([^\s<>]+@[^\s<>]+?)>?[ \t]*$", re.I | re.M
)


def quoted_message_ids(message: MailboxMessage) -> list[str]:
    """Message-IDs quoted from the original, most trustworthy first, without angle brackets.
    The report's own Message-ID is a header of the report, never in these texts."""
    found: list[str] = []
    for text in (message.original_headers, message.body_text):
        for value in _MESSAGE_ID.findall(text or ""):
            if value not in found:
                found.append(value)
    return found
