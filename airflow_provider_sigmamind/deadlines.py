"""Time limits for the blocks of one event loop, kept on one timer: ``with within(seconds):``.

``asyncio.timeout()`` and aiohttp's ``total`` timeout each schedule a timer per block and cancel it
when the block ends early, as a request almost always does. A cancelled timer stays in the loop's
heap, with its context and arguments, until its time comes (the whole timeout later) or until
cancelled timers are half the heap; in a triggerer whose thousands of waits each keep a sleep's
timer there, that is three tracked objects per request living long enough to reach the collector's
oldest generation, which is what makes full collections, and their stalls of the whole loop,
frequent (docs/performance.md). Here the blocks of a loop share one timer, set for the earliest
limit; a block that ends in time only leaves a table.

A block that runs out is cancelled and raises :class:`TimeoutError`, as ``asyncio.timeout()``
does, and a cancellation from outside passes through unchanged.
"""

from __future__ import annotations

import asyncio
import math
import weakref
from types import TracebackType

__all__ = ["within"]


class _Clock:
    """The limits of one loop's open blocks, and the one timer set for the earliest of them.

    It holds no reference to its loop (it is a weak dictionary's value, keyed by the loop): its
    timer is given the loop as an argument, and is not kept. So a timer set for a later limit than
    one that came after it is not cancelled but left to find, when it fires, that it no longer
    counts; that is rare, since blocks that share one timeout end in the order they began.
    """

    def __init__(self) -> None:
        self.open: dict[within, float] = {}
        self._timer_at = math.inf

    def add(self, loop: asyncio.AbstractEventLoop, block: within, at: float) -> None:
        self.open[block] = at
        if at < self._timer_at:
            self._set(loop, at)

    def _set(self, loop: asyncio.AbstractEventLoop, at: float) -> None:
        self._timer_at = at
        loop.call_at(at, self._fire, loop, at)

    def _fire(self, loop: asyncio.AbstractEventLoop, at: float) -> None:
        if at != self._timer_at:  # an earlier limit came after this timer was set: its timer counts
            return
        self._timer_at = math.inf
        now = loop.time()
        overdue = [block for block, limit in self.open.items() if limit <= now]
        for block in overdue:
            del self.open[block]
            block.expire()
        if self.open:
            self._set(loop, min(self.open.values()))


_clocks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Clock] = weakref.WeakKeyDictionary()


class within:
    """Bound the enclosed block of the current task to ``seconds``; :class:`TimeoutError` when they run out.

    A plain (not ``async``) context manager: entering and leaving await nothing.
    """

    __slots__ = ("_cancelling", "_clock", "_expired", "_seconds", "_task")

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._expired = False

    def __enter__(self) -> None:
        try:
            task = asyncio.current_task()
        except RuntimeError:  # no running loop
            task = None
        if task is None:
            raise RuntimeError("within() must be used inside a task of a running event loop")
        self._task = task
        self._cancelling = task.cancelling()
        loop = task.get_loop()
        clock = _clocks.get(loop)
        if clock is None:  # only the loop's own thread asks for its clock, so no lock is needed
            clock = _clocks[loop] = _Clock()
        self._clock = clock
        clock.add(loop, self, loop.time() + self._seconds)

    def expire(self) -> None:
        self._expired = True
        self._task.cancel()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._clock.open.pop(self, None)
        if self._expired and self._task.uncancel() <= self._cancelling and exc_type is asyncio.CancelledError:
            raise TimeoutError from exc
