"""Pick the mailer from settings: Gmail only when ``HUB_MAILER=gmail``, else the outbox folder.

This is the one gate that keeps a fresh install from ever reaching Gmail: without the explicit
setting, every "send" is a preview file under ``HUB_DATA_DIR/outbox``.
"""

from __future__ import annotations

from hub.config import Settings
from hub.mail.base import Mailer


def build_mailer(settings: Settings) -> Mailer:
    if settings.uses_gmail:
        from hub.mail.gmail import GmailMailer

        return GmailMailer.from_settings(settings)
    from hub.mail.outbox import OutboxMailer

    return OutboxMailer.from_settings(settings)
