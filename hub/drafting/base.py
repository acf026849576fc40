"""The drafter contract.

A drafter turns a row (plus the sender's profile from settings) into a subject and body.
It never invents facts: only the row's page title, snippet, contact name, keyword and the
like are given to it. When it cannot draft safely it says why with a hold reason instead of
producing "Dear ,".
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

from sheets.columns import Row


@dataclass(frozen=True)
class Draft:
    subject: str
    body: str


@dataclass(frozen=True)
class DraftRefused:
    """The row goes on hold: ``hold_reason`` like ``REVIEW:blank_field contact_name``."""

    hold_reason: str


class Drafter(abc.ABC):
    provider_name: str = "abstract"

    @abc.abstractmethod
    async def draft(self, row: Row, *, step: int = 0) -> Draft | DraftRefused:
        """``step`` 0 is the first message; 1, 2, ... are follow-ups."""

    def close(self) -> None:  # noqa: B027 - optional hook
        pass
