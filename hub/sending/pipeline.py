"""Delivering a chunk's planned messages, one after the other on one SMTP/API connection.

With no gap to wait (``HUB_SEND_GAP_SECONDS=0``), the next message overlaps the one in
flight: it is built and serialised on the event loop, and queued on the sending thread,
while the one before waits for the server's answer, so the thread starts it the moment that
answer comes, without a round trip through the loop. Each message's final checks
(suppression, limits from the ledger), its claim (``attempted_at``) and its provider call
still run in that order, in one hop, right before the call: the one before is counted by its
``attempted_at`` from the moment it was claimed, so the caps hold exactly, and what it came
to (a quota answer, a closed window or cap) stops the next one in the thread itself. Its
ledger record is written in a task while the next goes out.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from hub.mail.base import SentMessage
from hub.sending import message as msg
from hub.sending.limits import Hold
from hub.sending.outcomes import Halted, Outcome, Planned
from hub.sending.path import SendPath
from sheets.columns import Row

RunState = Any  # the send stage's run state (hub.stages.send._RunState)
STOPPING_HOLDS = ("daily_cap", "send_window")  # no later row could go either
ROW_ERROR = "row_error"  # caught by the row error boundary, which counts it itself


async def deliver_planned(
    path: SendPath,
    planned: list[Planned],
    gone: set[str],
    marks: dict[str, dict[str, str]],
    state: RunState,
    read_at: float,
) -> tuple[dict[str, dict[str, str]], list[str]]:
    """Deliver (or back out) each planned message; the rows' changes to write, and the rows
    put back because the chunk ran out of time (its sheet read at ``read_at``)."""
    results: dict[str, dict[str, str]] = {}
    put_back: list[str] = []
    delivered = 0
    # With no gap to wait, the next message is built (on this loop) and queued on the
    # sending thread while the one before waits for the server's answer; the outcome of the
    # one before that is settled then too, and its ledger record written in a task (the loop's
    # work then contends neither for the interpreter lock nor the ledger with the checks and
    # commands of the message going out).
    back_to_back = path.back_to_back()
    flight: _InFlight | None = None
    landed: list[_InFlight] = []
    recording: list[asyncio.Task[Outcome]] = []

    async def land() -> None:
        nonlocal flight
        if flight is not None:
            await flight.done()
            landed.append(flight)
            flight = None

    async def settle_landed() -> None:
        while landed:
            got = await landed.pop(0).outcome(path, state)
            if isinstance(got, asyncio.Task):
                recording.append(got)
            else:
                _settled(got, state, results)

    try:
        for item in planned:
            hub_id = item.intent.hub_id
            if hub_id in gone:
                outcome = await path.back_out(item, None, "skipped")
                state.outcomes.append(outcome)
                continue
            overdue = state.sizer.overdue(read_at, wait=path.gap_left())
            if delivered and state.halt is None and overdue:
                # Past the chunk's time: the sheet read is getting old. Put the row back; the
                # next chunk reads the sheet again and plans it anew.
                outcome = await path.back_out(item, None, "put_back")
                results[hub_id] = outcome.changes
                put_back.append(hub_id)
                continue
            delivered += 1
            if not back_to_back:
                await land()
            elif flight is not None:
                await flight.under_way()
            await settle_landed()
            row = {**item.row, **marks.get(hub_id, {})}  # as the sheet holds it now
            launched = await state.guard.run(
                row, lambda item=item, ahead=flight: _launch(path, item, state, ahead)
            )
            await land()
            got, failure = launched
            if failure is not None:
                _settled(Outcome(hub_id, 0, ROW_ERROR, failure), state, results)
            elif isinstance(got, Outcome):
                _settled(got, state, results)
            else:
                flight = got
                flight.row = row
        await land()
    finally:
        if flight is not None:  # left by an error: the call may be under way; settle it
            await land()
        await settle_landed()
        # Every record is written before the chunk's outcomes go to the sheet.
        for outcome in await asyncio.gather(*recording):
            _settled(outcome, state, results)
    return results, put_back


def _settled(outcome: Outcome, state: RunState, results: dict[str, dict[str, str]]) -> None:
    if outcome.result != ROW_ERROR:
        state.outcomes.append(outcome)
    if outcome.changes:
        results[outcome.hub_id] = outcome.changes


async def _launch(
    path: SendPath, item: Planned, state: RunState, before: _InFlight | None
) -> Outcome | _InFlight:
    """Queue the message on the sending thread (behind ``before``, the one in flight), or
    the row's outcome when it must not go."""
    if state.halt is not None:
        return await path.back_out(item, state.halt, "held")
    if not await path.wait_gap(item.intent.identity):
        state.cancelled = True
        state.halt = state.stop = ""
        return await path.back_out(item, None, "cancelled")
    ahead = before.future if before is not None else None  # queued: it has one
    one = len(path.limits.rules) == 1

    def go() -> bool:  # in the sending thread, right after ``before`` ended
        return ahead is None or not _stops(ahead, one=one)

    flight = _InFlight(item, item.row)
    try:  # builds the message (its fields were checked when planned)
        flight.future = path.submit(item, go=go, answer_awaited=flight.cue())
        return flight
    except msg.UnsafeHeader as exc:
        return await path.back_out(item, f"REVIEW:unsafe_header {exc.field}", "review")
    except msg.MissingSetup as exc:
        return await path.back_out(item, exc.hold, "review")


def _stops(done: Future, *, one: bool) -> bool:
    """Whether what the message before came to stops the run: a quota answer, a closed
    window or cap (of the only identity), or it was itself skipped for that."""
    if done.exception() is not None:
        return False  # that row's own error
    got = done.result()
    if isinstance(got, Halted) or getattr(got, "quota", False):
        return True
    return isinstance(got, Hold) and got.kind in STOPPING_HOLDS and one


@dataclass
class _InFlight:
    item: Planned
    row: Row  # as the sheet holds it, for the row error boundary's fingerprint
    future: Future | None = None
    _out: asyncio.Event = field(default_factory=asyncio.Event)

    def cue(self) -> Callable[[], None]:
        """For the sending thread: the message is out, its answer awaited."""
        loop = asyncio.get_running_loop()

        def answer_awaited() -> None:
            with contextlib.suppress(RuntimeError):  # the loop is gone: nobody to tell
                loop.call_soon_threadsafe(self._out.set)

        return answer_awaited

    async def under_way(self) -> None:
        """Until the message is out and only its answer is awaited (or it ended)."""
        assert self.future is not None
        done = asyncio.wrap_future(self.future)
        cue = asyncio.ensure_future(self._out.wait())
        await asyncio.wait({done, cue}, return_when=asyncio.FIRST_COMPLETED)
        cue.cancel()

    async def done(self) -> None:
        assert self.future is not None
        await asyncio.wait({asyncio.wrap_future(self.future)})

    async def outcome(self, path: SendPath, state: RunState) -> Outcome | asyncio.Task[Outcome]:
        """The row's outcome, or (the message went out) the task recording it in the ledger,
        so the next call need not wait for that write; the ledger counts the message by its
        ``attempted_at`` meanwhile, so the caps stay exact. A row that raises here stays
        ``sending``: the next run settles it against the ledger."""
        item = self.item
        got, failure = await state.guard.run(self.row, lambda: self._settle(path, state))
        if failure is not None:
            return Outcome(item.intent.hub_id, item.intent.step, ROW_ERROR, failure)
        if not isinstance(got, SentMessage):
            return got  # type: ignore[return-value]

        async def record() -> Outcome:
            outcome, failure = await state.guard.run(self.row, lambda: path.record(item, got))
            if failure is not None:
                return Outcome(item.intent.hub_id, item.intent.step, ROW_ERROR, failure)
            return outcome  # type: ignore[return-value]

        return asyncio.create_task(record())

    async def _settle(self, path: SendPath, state: RunState) -> Outcome | SentMessage:
        item = self.item
        assert self.future is not None
        got = await path.outcome_of(item, await asyncio.wrap_future(self.future))
        if isinstance(got, Halted):
            return await path.back_out(item, state.halt, "held")  # set by the one before
        if isinstance(got, Hold | str):
            one = len(path.limits.rules) == 1  # (one identity at its cap stops no other)
            if isinstance(got, Hold) and got.kind in STOPPING_HOLDS and one:
                state.halt = state.stop = got
            result = "suppressed" if isinstance(got, str) else "held"
            return await path.back_out(item, got, result)
        state.sizer.observe(item.call_seconds)
        if isinstance(got, Outcome) and got.result == "quota":
            state.halt = state.stop = "HELD:gmail_quota"
        return got
