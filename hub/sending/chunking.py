"""How many rows one send chunk holds: sized by TIME, not by a row count.

A chunk is what one fresh read of the sheet covers. Its rows are read (statuses for eligibility
and suppression), its sends are marked ``sending`` in ONE write, delivered, and their outcomes
written in ONE more write: on a Google Sheet that is 3 reads and 2 writes per chunk (every
``store.update`` reads the ``hub_id`` column first). The chunk also bounds two promises:

- how many rows a crash can leave in ``sending`` (the next run reconciles them, but a person
  sees them meanwhile);
- how late a person's ``skip`` is seen: the sheet is read once per chunk, so a message goes out
  at most one chunk's time after the read that allowed it.

So a chunk holds as many sends as the send gap and the provider's measured pace let go out in
about :data:`CHUNK_SECONDS`: one row with the default 30-90 s gap, a few with a gap of a few
seconds, up to ``HUB_SHEETS_CHUNK_ROWS`` (500) with gap 0. Chunks then follow each other at
most every ~12 s, so the Sheets cost stays at or below ~5 chunks x 5 requests a minute, far under
the 60 reads + 60 writes a minute quota, whatever the gap. A dry run calls no provider, so
there is nothing to protect between the read and the preview: it works in chunks of
``HUB_SHEETS_CHUNK_ROWS`` (1,000 rows cost ~6 Sheets requests).

Rows that need no provider call (held, suppressed, in review, already sent) ride along in the
chunk's writes for free, up to ``HUB_SHEETS_CHUNK_ROWS`` rows a chunk.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from hub.config.pacing import Gap

CHUNK_SECONDS = 12.0  # the sends of one chunk go out within about this long
CHUNK_DEADLINE = 15.0  # past this a chunk puts its unreached rows back (a provider slowed down)
# Provider time per send before any is measured: a Gmail send plus the messages.get that reads
# the thread id back, ~0.3-0.5 s; Gmail's 15,000 units a minute allow one send per 0.42 s.
FIRST_SEND_SECONDS = 0.5


@dataclass
class ChunkSizer:
    """Rows and sends of the next chunk; learns the provider's pace from the sends it times.

    The pace is the mean provider time per send over the last chunk that sent anything, i.e.
    the throughput the chunk really had: one send that waited a minute for Gmail's quota window
    among a hundred fast ones barely moves it, and after a chunk of one slow send the next
    chunk is sized by the next measurement alone (no slow decay through many tiny chunks, each
    of which would cost its own 5 Sheets requests).
    """

    rows_cap: int  # rows one chunk may take (its writes carry them all): HUB_SHEETS_CHUNK_ROWS
    gap_seconds: float  # the mean of HUB_SEND_GAP_SECONDS
    dry_run: bool = False
    fixed: int | None = None  # an explicit ``chunk_size`` param: that many rows, as before
    per_send: float = FIRST_SEND_SECONDS
    _seconds: float = 0.0  # provider time of this chunk's sends so far
    _count: int = 0  # this chunk's sends so far

    @classmethod
    def from_settings(cls, settings, *, dry_run: bool, fixed: object = None) -> ChunkSizer:
        gap = Gap.parse(settings.send_gap_seconds)
        return cls(
            rows_cap=max(1, int(settings.sheets_chunk_rows)),
            gap_seconds=(gap.low + gap.high) / 2,
            dry_run=dry_run,
            fixed=max(1, int(fixed)) if fixed else None,
        )

    def rows(self) -> int:
        """Rows the next chunk may take from the queue (sends or not)."""
        return self.fixed or self.rows_cap

    def sends(self) -> int:
        """Provider calls the next chunk may plan (rows marked ``sending`` in one write)."""
        if self.fixed:
            return self.fixed
        if self.dry_run:
            return self.rows_cap
        seconds = self.gap_seconds + self.per_send
        if seconds <= 0:
            return self.rows_cap
        return max(1, min(self.rows_cap, int(CHUNK_SECONDS / seconds)))

    def observe(self, seconds: float) -> None:
        """One provider call of the current chunk took ``seconds`` (the gap not included)."""
        self._seconds += max(0.0, seconds)
        self._count += 1

    def chunk_done(self) -> None:
        """The current chunk is over: its mean time per send sizes the next chunk."""
        if self._count:
            self.per_send = self._seconds / self._count
        self._seconds, self._count = 0.0, 0

    def _next_send(self) -> float:
        return self._seconds / self._count if self._count else self.per_send

    def overdue(
        self, started: float, *, wait: float = 0.0, now: Callable[[], float] | None = None
    ) -> bool:
        """Would the next send (after ``wait`` more seconds of gap) end past the deadline of a
        chunk whose sheet read was at ``started`` (``time.monotonic``)?

        Checked before each send but the chunk's first; a send already under way (waiting in
        the mailer for Gmail's quota window, say) is not interrupted."""
        if self.fixed:
            return False
        moment = (now or time.monotonic)()
        return moment - started + wait + self._next_send() > CHUNK_DEADLINE
