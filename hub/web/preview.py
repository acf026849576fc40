"""The row page's preview: the first message exactly as the sender would build it now.

Built by :func:`hub.sending.message.build_message` (the code the send path uses) with the
row's cells, the configured sender and footer, and a real signed unsubscribe link; only the
``Date`` and the ``Message-ID`` are made again at send time. A row the sender would refuse
(no address, an empty subject, a line break in a header) shows the sender's own reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hub.mail.outbox import message_bytes
from hub.sending import message as msg

SHOWN_HEADERS = (
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
)


@dataclass
class Preview:
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: str = ""
    source: str = ""  # the RFC 5322 text as it goes to the provider
    problem: str = ""  # why the sender would not send it as it stands


def first_message(settings: Any, row: dict[str, str]) -> Preview | None:
    """None when the row has no draft yet."""
    subject, body = row.get("draft_subject", ""), row.get("draft_body", "")
    if not (subject.strip() or body.strip()):
        return None
    content = msg.Content(row.get("contact_email", ""), subject, body, row.get("contact_name", ""))
    try:
        built = msg.build_message(
            settings,
            content,
            message_id=msg.new_message_id(settings),
            unsubscribe_link=msg.unsubscribe_url(settings, row["hub_id"]),
        )
    except msg.UnsafeHeader as exc:
        return Preview(problem=f"REVIEW:unsafe_header {exc.field}: {exc}")
    except msg.MissingSetup as exc:
        return Preview(problem=f"{exc.hold}: {exc}")
    problem = "" if body.strip() else "REVIEW:blank_field draft_body: the body is empty"
    return Preview(
        headers=[(name, str(built[name])) for name in SHOWN_HEADERS if built[name] is not None],
        body=built.get_content(),
        source=message_bytes(built).decode("utf-8", "replace"),
        problem=problem,
    )
