"""A second opinion from Mailman's bounce detectors (flufl.bounce): they know dozens of MTA and
provider layouts and return the addresses that failed, split into permanent and temporary."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from email.message import Message

from flufl.bounce import all_failures

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MailmanVerdict:
    permanent: frozenset[str] = field(default_factory=frozenset)
    temporary: frozenset[str] = field(default_factory=frozenset)
    crashed: bool = False

    @property
    def found(self) -> bool:
        return bool(self.permanent or self.temporary)


def _addresses(found) -> frozenset[str]:
    out = set()
    for item in found or ():
        text = item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item)
        text = text.strip().strip("<>").lower()
        if "@" in text:
            out.add(text)
    return frozenset(out)


def ask_mailman(mime: Message | None) -> MailmanVerdict:
    if mime is None:
        return MailmanVerdict()
    try:
        temporary, permanent = all_failures(mime)
    except Exception as exc:  # a detector tripping on odd input: only a hint is lost
        log.debug("flufl.bounce failed on a message: %s", type(exc).__name__)
        return MailmanVerdict(crashed=True)
    return MailmanVerdict(permanent=_addresses(permanent), temporary=_addresses(temporary))
