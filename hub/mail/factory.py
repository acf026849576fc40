"""Pick the mailers from settings: real ones only when ``HUB_MAILER`` is ``gmail`` or ``smtp``.

This is the one gate that keeps a fresh install from ever sending: without the explicit
setting, every "send" is a preview file under ``HUB_DATA_DIR/outbox``, whichever identity it
comes from. With a real ``HUB_MAILER`` each identity sends through its own ``mailer``.
"""

from __future__ import annotations

from hub.config import Settings
from hub.config.identities import Identity, load_identities
from hub.mail.base import Mailer


def build_mailer(settings: Settings) -> Mailer:
    """The primary identity's mailer (the only one without ``HUB_IDENTITIES_FILE``)."""
    if settings.mailer == "outbox":
        from hub.mail.outbox import OutboxMailer

        return OutboxMailer.from_settings(settings)
    return mailer_for(settings, load_identities(settings)[0])


def mailer_for(settings: Settings, identity: Identity) -> Mailer:
    if settings.mailer == "outbox":
        from hub.mail.outbox import OutboxMailer

        return OutboxMailer.from_settings(settings)
    if identity.mailer == "smtp":
        from hub.mail.smtp import SmtpMailer

        return SmtpMailer.from_identity(identity, settings)
    from hub.mail.gmail import GmailMailer

    return GmailMailer.for_identity(identity, settings)


class Mailers:
    """The mailer of each identity, built on first use. ``primary`` (``services.mailer``)
    serves the first identity, and every identity when the outbox is the mailer; a name the
    settings no longer know (a ledger entry from before the identities file) gets it too."""

    def __init__(self, settings: Settings, identities: list[Identity], primary: Mailer):
        self.settings = settings
        self.identities = {identity.name: identity for identity in identities}
        self.primary = primary
        self._first = identities[0].name
        self._built: dict[str, Mailer] = {}

    def get(self, name: str) -> Mailer:
        if self.primary.dry_run or name == self._first or name not in self.identities:
            return self.primary
        if name not in self._built:
            self._built[name] = mailer_for(self.settings, self.identities[name])
        return self._built[name]

    def each(self) -> list[tuple[Identity, Mailer]]:
        """Every identity with its mailer; one entry per mailer (the outbox is shared)."""
        seen: set[int] = set()
        pairs: list[tuple[Identity, Mailer]] = []
        for identity in self.identities.values():
            mailer = self.get(identity.name)
            if id(mailer) not in seen:
                seen.add(id(mailer))
                pairs.append((identity, mailer))
        return pairs

    def close(self) -> None:
        """Close the mailers built here (the primary belongs to ``services``)."""
        for mailer in self._built.values():
            mailer.close()
        self._built.clear()
