"""The retry policy, shared by the sync and async request paths. Pure: no I/O.

What is retried is decided by the error class (:attr:`SigmaMindError.retryable`): connection
failures, timeouts, HTTP 408, 429 and 5xx. Waits are full-jitter exponential backoff, capped; a
server's ``Retry-After`` (seconds or an HTTP-date) replaces the backoff, capped at
``retry_after_max``. Attempts are bounded in number and by a total deadline that covers waiting
and requests alike.
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime

from airflow_provider_sigmamind.defaults import DEFAULT_MAX_RETRIES
from airflow_provider_sigmamind.exceptions import SigmaMindError

__all__ = ["Attempts", "RetryPolicy", "parse_retry_after"]


def parse_retry_after(value: str | None, *, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from a ``Retry-After`` header, or ``None`` when absent or unreadable.

    Accepts delta-seconds (``"120"``, also a decimal) and HTTP-dates; a date in the past is 0.
    """
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.fromtimestamp(now(), UTC)).total_seconds()
    if math.isnan(seconds):
        return None
    return max(0.0, seconds)


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try.

    :param max_retries: retries after the first attempt (0 = a single attempt); ``None`` (the
        default) leaves the count to the connection's ``max_retries`` extra, else 5.
    :param backoff_initial: the first backoff ceiling, in seconds; it doubles per retry.
    :param backoff_max: the ceiling the doubling stops at.
    :param retry_after_max: the longest ``Retry-After`` honoured; longer asks are capped to this.
    :param deadline: seconds one call may take in all, requests and waits together.
    """

    max_retries: int | None = None
    backoff_initial: float = 1.0
    backoff_max: float = 30.0
    retry_after_max: float = 60.0
    deadline: float = 300.0
    jitter: Callable[[], float] = field(default=random.random, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("backoff_initial", "backoff_max", "retry_after_max", "deadline"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or value < 0 or math.isnan(value):
                raise ValueError(f"RetryPolicy.{name} must be a number >= 0, got {value!r}")
        if self.max_retries is None:
            return
        if not isinstance(self.max_retries, int) or isinstance(self.max_retries, bool) or self.max_retries < 0:
            raise ValueError(f"RetryPolicy.max_retries must be a whole number >= 0, got {self.max_retries!r}")

    def to_kwargs(self) -> dict[str, float | int | None]:
        """The policy as JSON primitives, for a trigger's kwargs; :meth:`from_kwargs` reads them back.

        ``jitter`` is not included: a rebuilt policy jitters with :func:`random.random`.
        """
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "jitter"}

    @classmethod
    def from_kwargs(cls, kwargs: Mapping[str, object]) -> RetryPolicy:
        """A policy from :meth:`to_kwargs` output, checked as the constructor checks it.

        Keys this release does not know are ignored (a newer worker may have written them); keys left
        out take their defaults.

        :raises ValueError: for a value the constructor refuses, or when ``kwargs`` is not a mapping.
        """
        if not isinstance(kwargs, Mapping):
            raise ValueError(f"retry_policy: expected a mapping of RetryPolicy fields, got {kwargs!r}")
        known = {f.name for f in fields(cls)} - {"jitter"}
        return cls(**{name: value for name, value in kwargs.items() if name in known})  # type: ignore[arg-type]

    def backoff(self, retry_number: int) -> float:
        """Full-jitter wait before retry ``retry_number`` (1-based)."""
        ceiling = min(self.backoff_max, self.backoff_initial * 2.0 ** min(retry_number - 1, 60))
        return self.jitter() * ceiling

    def start(self, clock: Callable[[], float] = time.monotonic, *, once: bool = False) -> Attempts:
        """Begin one call's attempts; ``once``: a single attempt, within the same deadline (a create)."""
        return Attempts(replace(self, max_retries=0) if once else self, clock)


class Attempts:
    """The attempts of one call: counts them and decides whether, and after how long, to retry.

    Both request paths run the same loop around it::

        attempts = policy.start()
        while True:
            attempts.begin()
            try:
                return send(timeout=attempts.budget(per_request_timeout))
            except SigmaMindError as err:
                delay = attempts.next_delay(err)  # raises err once retrying is over
                sleep(delay)
    """

    def __init__(self, policy: RetryPolicy, clock: Callable[[], float]) -> None:
        self.policy = policy
        self._clock = clock
        self._started = clock()
        self.count = 0

    @property
    def max_retries(self) -> int:
        """Retries allowed after the first attempt."""
        return DEFAULT_MAX_RETRIES if self.policy.max_retries is None else self.policy.max_retries

    def begin(self) -> None:
        """Count an attempt that is about to be sent."""
        self.count += 1

    @property
    def elapsed(self) -> float:
        return self._clock() - self._started

    def remaining(self) -> float:
        """Seconds left before the deadline (never below zero)."""
        return max(0.0, self.policy.deadline - (self._clock() - self._started))  # elapsed, one call less per poll

    def budget(self, per_request: float) -> float:
        """Time allowed for the next request: its own timeout, but never past the deadline."""
        return min(per_request, self.remaining())

    def next_delay(self, error: SigmaMindError) -> float:
        """Seconds to wait before retrying after ``error``.

        :raises SigmaMindError: ``error`` itself when it is permanent, and ``error`` marked with the
            number of attempts when the retries, or the deadline, are spent.
        """
        if not error.retryable:
            raise error
        if self.count > self.max_retries:
            raise error.gave_up(self.count, self.elapsed)
        if error.retry_after is not None:
            delay = min(error.retry_after, self.policy.retry_after_max)
        else:
            delay = self.policy.backoff(self.count)
        if delay >= self.remaining():
            raise error.gave_up(self.count, self.elapsed)
        return delay
