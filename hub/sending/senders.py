"""The sending identities of one send or follow-up job: who sends a row's message, through
which mailer, and the per-identity pause between sends.

The ledger records each message's identity by *key*: its name, or ``""`` for the implicit
identity of the single-mailbox settings (so ledgers from before identities read the same).
A key the settings no longer know falls back to the primary identity and its mailer.
"""

from __future__ import annotations

import asyncio
import time

from hub.config.identities import Identity, load_identities
from hub.mail.base import Mailer
from hub.mail.factory import Mailers
from hub.sending.ledger import Ledger
from hub.sending.limits import Hold, Limits


def key_of(identity: Identity) -> str:
    return "" if identity.implicit else identity.name


class Senders:
    def __init__(self, settings, primary: Mailer, identities: list[Identity] | None = None):
        self.identities = identities or load_identities(settings)
        self.by_key = {key_of(i): i for i in self.identities}
        self.primary = self.identities[0]
        self.mailers = Mailers(settings, self.identities, primary)
        # With an identities file even a dry run rotates and caps (the preview shows who
        # would send what); the implicit identity previews every row, as before.
        self.rotates = bool(settings.identities_file)
        # key -> when it may send next (time.monotonic): the gap runs from the end of the
        # last call, so waiting for it early (before a chunk reads the sheet) is not waited twice.
        self._next_call_at: dict[str, float] = {}

    def identity(self, key: str) -> Identity:
        return self.by_key.get(key, self.primary)

    def mailer(self, key: str) -> Mailer:
        return self.mailers.get(self.identity(key).name)

    def sender(self, key: str) -> tuple[str, str]:
        """(display name, address) for the From header."""
        identity = self.identity(key)
        return identity.display_name, identity.address

    # --- the gap, per identity -----------------------------------------------------------
    def gap_left(self, key: str | None = None) -> float:
        """Seconds before ``key`` may send again; without a key, before any identity may."""
        now = time.monotonic()
        if key is None:
            if len(self._next_call_at) < len(self.by_key):
                return 0.0  # an identity that has not sent yet may go now
            return max(0.0, min(self._next_call_at.values()) - now)
        due = self._next_call_at.get(key)
        return 0.0 if due is None else max(0.0, due - now)

    def called(self, key: str, gap: float) -> None:
        self._next_call_at[key] = time.monotonic() + gap

    def close(self) -> None:
        self.mailers.close()


async def identity_for(
    ledger: Ledger, limits: Limits, hub_id: str, pending: dict[str, int]
) -> str | Hold:
    """Who sends a row's first message: an earlier intent's identity (its Message-ID is that
    identity's), else the one with the most capacity left today; with one identity, that one
    (``Limits.hold_for`` then says whether it must wait)."""
    if len(limits.rules) == 1:
        return next(iter(limits.rules))
    existing = await asyncio.to_thread(ledger.intent, hub_id, 0)
    if existing is not None:
        return existing.identity
    return await asyncio.to_thread(limits.pick, pending)
