"""The rate budget of one API key at one base URL, shared by every request of the process.

All the triggers of a triggerer, and all the sync pokes of a worker process, that use the same key
against the same base URL draw from one :class:`RateBudget`, found in :data:`budgets` by a hash of
the key (the registry never holds the key itself). A budget is two things:

- the connection's ``max_requests_per_second`` (unset: no limit), a token bucket whose burst is
  at most one second's worth of requests;
- an adaptive rate that starts at the first HTTP 429, even with no budget set, modelled on
  botocore's *adaptive* retry mode: the rate drops to ``BETA`` times the rate that was being sent,
  nobody sends before the server's ``Retry-After`` has passed, and then the rate grows back along
  a CUBIC curve towards the rate that was throttled, and past it, up to the budget. A throttle
  empties the bucket: the senders it held leave at the new rate, not in a burst.

Reservation-style, so that both request paths share it: :meth:`RateBudget.reserve` takes a token
and says how long to sleep before sending (``time.sleep`` or ``asyncio.sleep``); a token whose
wait would not fit in the time a call has left is not taken. Thread-safe; no I/O, no event loop.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Callable

__all__ = ["BETA", "MIN_RATE", "RateBudget", "RateBudgets", "budgets"]

#: The share of the sending rate kept after a 429 (botocore's ``BETA``).
BETA = 0.7
#: CUBIC's scaling constant (botocore's ``SCALE_CONSTANT``): how fast the rate grows back.
SCALE = 0.4
#: The adaptive rate never drops below this many requests per second.
MIN_RATE = 0.5
#: Seconds over which the sending rate is measured (smoothed as botocore does).
_MEASURE_BUCKET = 0.5
_SMOOTHING = 0.8
#: 429s less than this many seconds after the last one cut the rate only once.
_COOLDOWN = 1.0


class RateBudget:
    """One key's budget at one base URL: a token bucket, paced by 429s.

    :param max_per_second: the configured budget; ``None`` for no limit (until a 429).
    :param clock: monotonic seconds (a test's own clock).
    """

    def __init__(self, max_per_second: float | None = None, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.configured: float | None = None
        self._tat = 0.0  # the bucket's "theoretical arrival time" (GCRA): when the next token is due
        self._blocked_until = 0.0  # Retry-After: nobody sends before this
        # Adaptive (CUBIC) state, off until the first throttle.
        self.adaptive = False
        self._adaptive_rate = math.inf
        self._w_max = 0.0
        self._last_throttle = 0.0
        # The measured sending rate.
        self._measured = 0.0
        self._bucket_start = clock()
        self._bucket_count = 0
        self.throttles = 0
        self.limited = False
        self.set_limit(max_per_second)

    def set_limit(self, max_per_second: float | None) -> None:
        """Set (or lift, with ``None``) the configured budget; the latest connection read wins.

        A new budget starts from a full bucket: the tokens paced at the old one do not hold up the
        requests of the new one.
        """
        with self._lock:
            if max_per_second != self.configured:
                self._tat = min(self._tat, self._clock())
            self.configured = max_per_second
            self._refresh()

    @property
    def rate(self) -> float:
        """Requests per second allowed now (``inf`` for no limit)."""
        return min(self.configured or math.inf, self._adaptive_rate if self.adaptive else math.inf)

    def _refresh(self) -> None:
        self.limited = self.rate < math.inf or self._blocked_until > 0

    def reserve(self, limit: float = math.inf) -> float | None:
        """Take a token; the seconds to wait before sending, or ``None`` (no token taken) when the
        wait would be ``limit`` seconds or more.

        :param limit: the seconds the call has left (:meth:`Attempts.remaining`).
        """
        if not self.limited:  # the common case: no budget, not throttled; measured only, no lock
            self._bucket_count += 1
            now = self._clock()
            if now - self._bucket_start >= _MEASURE_BUCKET:
                self._measure(now)
            return 0.0
        with self._lock:
            now = self._clock()
            self._measure(now)
            if self._blocked_until and now >= self._blocked_until:
                self._blocked_until = 0.0
            if self.adaptive:
                self._grow(now)
            self._refresh()
            start = max(now, self._blocked_until)
            rate = self.rate
            if rate < math.inf:
                interval = 1.0 / rate
                start = max(start, self._tat - _depth(rate))
            delay = start - now
            if delay >= limit and delay > 0:
                return None
            if rate < math.inf:
                self._tat = max(self._tat, start) + interval
            self._bucket_count += 1
            return delay

    def throttled(self, retry_after: float | None = None) -> None:
        """A request of this budget got HTTP 429: slow every sender down, and hold them all until
        ``retry_after`` seconds from now when the server said so.

        :param retry_after: the server's ``Retry-After``, already capped by the caller's policy.
        """
        with self._lock:
            now = self._clock()
            if retry_after:
                self._blocked_until = max(self._blocked_until, now + retry_after)
            # A burst of 429s (every request in flight when the server pushed back) is one throttle.
            if self.adaptive and now - self._last_throttle < _COOLDOWN:
                self._empty(now)
                return
            self._measure(now)
            sending = self._adaptive_rate if self.adaptive else self._measured
            sending = min(sending, self.configured or math.inf)
            if not math.isfinite(sending) or sending <= 0:
                elapsed = now - self._bucket_start
                recent = self._bucket_count / elapsed if elapsed > 0 else 0.0
                sending = max(self._measured, recent) or MIN_RATE / BETA
            self._w_max = max(sending, MIN_RATE)
            self._adaptive_rate = max(MIN_RATE, BETA * self._w_max)
            self._last_throttle = now
            self.adaptive = True
            self.throttles += 1
            self._empty(now)

    def _empty(self, now: float) -> None:
        """Empty the bucket after a throttle: the tokens already promised were sent, or will be,
        and the senders held by Retry-After leave at the new rate from its end, not all at once."""
        self._tat = max(self._tat, max(now, self._blocked_until) + _depth(self.rate))
        self._refresh()

    def _grow(self, now: float) -> None:
        """Let the adaptive rate grow back along the CUBIC curve since the last throttle."""
        k = ((self._w_max * (1 - BETA)) / SCALE) ** (1 / 3)
        cubic = SCALE * (now - self._last_throttle - k) ** 3 + self._w_max
        # Never more than twice what is actually being sent (botocore's cap), never below the floor.
        self._adaptive_rate = max(MIN_RATE, min(cubic, 2 * max(self._measured, self._w_max)))
        if self.configured is not None and cubic >= self.configured:
            self.adaptive = False  # recovered: the configured budget alone again
            self._adaptive_rate = math.inf
        elif self.configured is None and cubic >= 4 * self._w_max:
            self.adaptive = False  # recovered well past the throttled rate: no limit again
            self._adaptive_rate = math.inf

    def _measure(self, now: float) -> None:
        """The smoothed rate of reservations, per ``_MEASURE_BUCKET`` seconds (botocore's way)."""
        elapsed = now - self._bucket_start
        if elapsed >= _MEASURE_BUCKET:
            current = self._bucket_count / elapsed
            self._measured = current * _SMOOTHING + self._measured * (1 - _SMOOTHING)
            self._bucket_start, self._bucket_count = now, 0


def _depth(rate: float) -> float:
    """The bucket's depth at ``rate``, in seconds: how far the next token may be due ahead of now
    and still be sent at once, i.e. a burst of at most one second's worth (at least one request)."""
    return (max(1.0, math.floor(rate)) - 1.0) / rate


def budget_key(api_key: str, base_url: str) -> str:
    """What a budget is filed under: a hash of the key and base URL (never the key itself)."""
    return hashlib.sha256(f"{base_url}\0{api_key}".encode()).hexdigest()


class RateBudgets:
    """Every budget of the process, one per key and base URL."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_key: dict[str, RateBudget] = {}

    def get(self, api_key: str, base_url: str, max_per_second: float | None) -> RateBudget:
        """The budget of ``api_key`` at ``base_url``, created on first use; its limit set to
        ``max_per_second`` (the latest connection read wins)."""
        key = budget_key(api_key, base_url)
        with self._lock:
            budget = self._by_key.get(key)
            if budget is None:
                budget = self._by_key[key] = RateBudget(max_per_second)
                return budget
        if budget.configured != max_per_second:
            budget.set_limit(max_per_second)
        return budget

    def clear(self) -> None:
        """Forget every budget (for tests)."""
        with self._lock:
            self._by_key.clear()


budgets = RateBudgets()
