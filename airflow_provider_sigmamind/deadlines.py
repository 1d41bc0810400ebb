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
import threading
import weakref
from types import TracebackType

__all__ = ["within"]


class _Clock:
    """The limits of one loop's open blocks, and the one timer set for the earliest of them."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.open: dict[within, float] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf

    def add(self, block: within, at: float) -> None:
        self.open[block] = at
        if at < self._timer_at:
            self._set(at)

    def _set(self, at: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._timer_at = self.loop.call_at(at, self._fire), at

    def _fire(self) -> None:
        self._timer, self._timer_at = None, math.inf
        now = self.loop.time()
        overdue = [block for block, at in self.open.items() if at <= now]
        for block in overdue:
            del self.open[block]
            block.expire()
        if self.open:
            self._set(min(self.open.values()))


_clocks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Clock] = weakref.WeakKeyDictionary()
_clocks_lock = threading.Lock()


def _clock(loop: asyncio.AbstractEventLoop) -> _Clock:
    clock = _clocks.get(loop)
    if clock is None:
        with _clocks_lock:
            clock = _clocks.setdefault(loop, _Clock(loop))
    return clock


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
        self._clock = _clock(task.get_loop())
        self._clock.add(self, self._clock.loop.time() + self._seconds)

    def expire(self) -> None:
        self._expired = True
        self._task.cancel()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._clock.open.pop(self, None)
        if self._expired and self._task.uncancel() <= self._cancelling and exc_type is asyncio.CancelledError:
            raise TimeoutError from exc
