"""Tests for the retry policy: Retry-After parsing, backoff, and the attempt/deadline bookkeeping.

Time is always injected (a fake clock, a fixed ``now``): nothing here sleeps.
"""

from __future__ import annotations

import json
import math
import random
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_sigmamind.defaults import DEFAULT_MAX_RETRIES
from airflow_provider_sigmamind.exceptions import (
    SigmaMindAuthError,
    SigmaMindError,
    SigmaMindInvalidInputError,
    SigmaMindNotFoundError,
    SigmaMindRateLimitError,
    SigmaMindRejectedError,
    SigmaMindResponseError,
    SigmaMindServerError,
    SigmaMindTLSError,
    SigmaMindTransportError,
)
from airflow_provider_sigmamind.retry import Attempts, RetryPolicy, parse_retry_after

NOW = datetime(2026, 1, 1, 0, 0, 0, tzinfo=UTC).timestamp()


def fixed_now() -> float:
    return NOW


class FakeClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def policy(**overrides: object) -> RetryPolicy:
    settings_: dict[str, object] = {
        "max_retries": 3,
        "backoff_initial": 1.0,
        "backoff_max": 30.0,
        "retry_after_max": 60.0,
        "deadline": 1000.0,
        "jitter": lambda: 1.0,
    }
    settings_.update(overrides)
    return RetryPolicy(**settings_)  # type: ignore[arg-type]


def server_error(retry_after: float | None = None) -> SigmaMindServerError:
    return SigmaMindServerError(
        "SigmaMind server error for campaign 'c' (HTTP 503 on GET /v1/campaigns/c)", retry_after=retry_after
    )


# -- parse_retry_after ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        ("0", 0.0),
        (" 7 ", 7.0),
        ("1.5", 1.5),
        ("0.25", 0.25),
        ("-5", 0.0),
        ("-0.5", 0.0),
        # HTTP-dates, relative to the injected now (2026-01-01T00:00:00Z)
        ("Thu, 01 Jan 2026 00:02:00 GMT", 120.0),
        ("Thu, 01 Jan 2026 00:00:30 GMT", 30.0),
        ("Thu, 01 Jan 2026 00:00:00 GMT", 0.0),
        ("Wed, 31 Dec 2025 23:59:00 GMT", 0.0),
        ("Mon, 01 Jan 2024 00:00:00 GMT", 0.0),
        ("Thu, 01 Jan 2026 01:00:00 +0100", 0.0),
        ("Thu, 01 Jan 2026 00:01:00 -0000", 60.0),
        # unreadable
        ("", None),
        ("soon", None),
        ("in a minute", None),
        ("Thu, 99 Foo 2026 00:00:00 GMT", None),
        ("nan", None),
        (None, None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    result = parse_retry_after(value, now=fixed_now)
    if expected is None:
        assert result is None
    else:
        assert result == pytest.approx(expected)
        assert result is not None
        assert result >= 0


def test_parse_retry_after_uses_the_injected_clock() -> None:
    header = "Thu, 01 Jan 2026 00:02:00 GMT"
    assert parse_retry_after(header, now=lambda: NOW + 60) == pytest.approx(60.0)
    assert parse_retry_after(header, now=lambda: NOW + 600) == 0.0


@settings(max_examples=50, deadline=None, database=None, derandomize=True)
@given(st.text(max_size=40))
def test_parse_retry_after_never_raises_and_is_never_negative(value: str) -> None:
    result = parse_retry_after(value, now=fixed_now)
    assert result is None or (result >= 0 and not math.isnan(result))


# -- RetryPolicy validation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_retries", -1),
        ("max_retries", 1.5),
        ("max_retries", 2.0),
        ("max_retries", True),
        ("max_retries", "3"),
        ("backoff_initial", -0.1),
        ("backoff_initial", math.nan),
        ("backoff_initial", "1"),
        ("backoff_max", -1),
        ("backoff_max", None),
        ("retry_after_max", math.nan),
        ("retry_after_max", -5),
        ("deadline", -1),
        ("deadline", "300"),
    ],
)
def test_policy_rejects_bad_values(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=f"RetryPolicy.{field}") as excinfo:
        RetryPolicy(**{field: value})  # type: ignore[arg-type]
    assert repr(value) in str(excinfo.value)


def test_policy_accepts_zeroes() -> None:
    p = RetryPolicy(max_retries=0, backoff_initial=0, backoff_max=0, retry_after_max=0, deadline=0)
    assert p.max_retries == 0
    assert p.backoff(1) == 0


def test_policy_defaults_are_sane() -> None:
    p = RetryPolicy()
    assert p.max_retries is None  # the connection's count, else DEFAULT_MAX_RETRIES
    assert p.start().max_retries == DEFAULT_MAX_RETRIES >= 1
    assert 0 < p.backoff_initial <= p.backoff_max
    assert p.retry_after_max > 0
    assert p.deadline > p.backoff_max


# -- as a trigger's kwargs -------------------------------------------------------------------------


def test_to_kwargs_is_json_primitives_without_the_jitter() -> None:
    p = RetryPolicy(max_retries=2, backoff_initial=0.5, backoff_max=4, retry_after_max=9, deadline=60, jitter=lambda: 0)
    kwargs = p.to_kwargs()
    assert kwargs == {"max_retries": 2, "backoff_initial": 0.5, "backoff_max": 4, "retry_after_max": 9, "deadline": 60}
    assert json.loads(json.dumps(kwargs)) == kwargs
    rebuilt = RetryPolicy.from_kwargs(kwargs)
    assert rebuilt == p
    assert rebuilt.jitter is random.random


def test_from_kwargs_keeps_a_count_left_to_the_connection() -> None:
    assert RetryPolicy.from_kwargs(RetryPolicy().to_kwargs()).max_retries is None


def test_from_kwargs_fills_in_defaults_and_ignores_unknown_keys() -> None:
    assert RetryPolicy.from_kwargs({"deadline": 5, "added_in_a_later_release": 1}) == RetryPolicy(deadline=5)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"deadline": -1}, "RetryPolicy.deadline"),
        ({"max_retries": "3"}, "RetryPolicy.max_retries"),
        ({"jitter": 0.5, "backoff_max": None}, "RetryPolicy.backoff_max"),
        ([("deadline", 5)], "expected a mapping"),
    ],
)
def test_from_kwargs_checks_what_it_is_given(kwargs: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        RetryPolicy.from_kwargs(kwargs)  # type: ignore[arg-type]


# -- backoff -------------------------------------------------------------------------------------


def test_backoff_ceiling_doubles_and_caps() -> None:
    p = policy(backoff_initial=1.0, backoff_max=10.0, jitter=lambda: 1.0)
    assert [p.backoff(n) for n in range(1, 8)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0]


def test_backoff_with_zero_jitter_is_zero() -> None:
    p = policy(backoff_initial=1.0, backoff_max=10.0, jitter=lambda: 0.0)
    assert [p.backoff(n) for n in range(1, 8)] == [0.0] * 7


def test_backoff_scales_jitter_by_the_ceiling() -> None:
    p = policy(backoff_initial=2.0, backoff_max=100.0, jitter=lambda: 0.5)
    assert p.backoff(1) == 1.0
    assert p.backoff(3) == 4.0


@pytest.mark.parametrize("retry_number", [1, 2, 5, 10, 30, 60, 200])
def test_backoff_with_real_jitter_stays_in_bounds(retry_number: int) -> None:
    p = RetryPolicy(backoff_initial=0.5, backoff_max=30.0)
    ceiling = min(30.0, 0.5 * 2 ** (retry_number - 1))
    for _ in range(50):
        assert 0.0 <= p.backoff(retry_number) <= ceiling


def test_backoff_never_overflows_for_many_retries() -> None:
    p = policy(backoff_initial=0.0, backoff_max=0.0, jitter=lambda: 1.0)
    assert p.backoff(1100) == 0.0


def test_policy_equality_ignores_jitter() -> None:
    assert policy(jitter=lambda: 0.0) == policy(jitter=lambda: 1.0)
    assert "jitter" not in repr(policy())


# -- Attempts.next_delay -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        SigmaMindAuthError("bad key", status_code=401),
        SigmaMindNotFoundError("gone", status_code=404),
        SigmaMindRejectedError("nope", status_code=422),
        SigmaMindResponseError("html", status_code=200),
        SigmaMindTLSError("tls"),
        SigmaMindInvalidInputError("bad id"),
        SigmaMindError("base"),
        # a permanent error with a Retry-After is still permanent
        SigmaMindRejectedError("nope", status_code=400, retry_after=1.0),
    ],
)
def test_permanent_errors_are_reraised_unchanged(error: SigmaMindError) -> None:
    attempts = policy().start(clock=FakeClock())
    attempts.begin()
    message_before = str(error)
    with pytest.raises(SigmaMindError) as excinfo:
        attempts.next_delay(error)
    assert excinfo.value is error
    assert str(error) == message_before
    assert error.attempts is None


def run_until_given_up(
    attempts: Attempts, error: SigmaMindError, clock: FakeClock, *, request_time: float | None = 0.0
) -> tuple[list[float], SigmaMindError]:
    """Drive the hook's retry loop with a fake clock; return the delays and the error finally raised.

    :param request_time: how long each request takes; ``None`` means it hangs for its whole budget.
    """
    delays: list[float] = []
    for _ in range(10_000):
        attempts.begin()
        budget = attempts.budget(10.0)
        assert 0.0 <= budget <= 10.0
        clock.advance(budget if request_time is None else request_time)
        try:
            delay = attempts.next_delay(error)
        except SigmaMindError as exc:
            return delays, exc
        assert 0.0 <= delay < attempts.remaining()
        delays.append(delay)
        clock.advance(delay)
    raise AssertionError("never gave up")


@pytest.mark.parametrize(
    "make_error",
    [
        lambda: SigmaMindServerError("503", status_code=503),
        lambda: SigmaMindRateLimitError("429", status_code=429),
        lambda: SigmaMindTransportError("connection refused"),
    ],
)
@pytest.mark.parametrize("max_retries", [0, 1, 3, 5])
def test_retryable_errors_retry_until_max_retries_then_give_up(make_error, max_retries: int) -> None:
    clock = FakeClock()
    attempts = policy(max_retries=max_retries, backoff_initial=1.0, backoff_max=30.0).start(clock=clock)
    error = make_error()
    delays, raised = run_until_given_up(attempts, error, clock)
    total = max_retries + 1
    assert raised is error
    assert delays == [min(30.0, 2.0**i) for i in range(max_retries)]
    assert error.attempts == total
    assert attempts.count == total
    noun = "attempt" if total == 1 else "attempts"
    assert f"gave up after {total} {noun} in " in str(error)
    assert str(error).startswith(make_error().message)


def test_once_allows_one_attempt_within_the_same_deadline() -> None:
    clock = FakeClock()
    attempts = policy(max_retries=5, deadline=7.0).start(clock=clock, once=True)
    assert (attempts.max_retries, attempts.remaining()) == (0, 7.0)
    attempts.begin()
    with pytest.raises(SigmaMindServerError, match="gave up after 1 attempt in "):
        attempts.next_delay(server_error())


def test_gave_up_message_reports_elapsed_time() -> None:
    clock = FakeClock()
    attempts = policy(max_retries=1).start(clock=clock)
    error = server_error()
    attempts.begin()
    clock.advance(0.5)
    clock.advance(attempts.next_delay(error))  # 1.0
    attempts.begin()
    clock.advance(2.25)
    with pytest.raises(SigmaMindServerError, match=r"gave up after 2 attempts in 3\.8s"):
        attempts.next_delay(error)


@pytest.mark.parametrize(
    ("retry_after", "retry_after_max", "expected"),
    [
        (7.0, 60.0, 7.0),
        (0.0, 60.0, 0.0),
        (0.5, 60.0, 0.5),
        (500.0, 60.0, 60.0),
        (60.0, 60.0, 60.0),
        (3600.0, 5.0, 5.0),
        (math.inf, 10.0, 10.0),
    ],
)
def test_retry_after_replaces_backoff_and_is_capped(
    retry_after: float, retry_after_max: float, expected: float
) -> None:
    attempts = policy(retry_after_max=retry_after_max, backoff_initial=13.0, deadline=1000.0).start(clock=FakeClock())
    attempts.begin()
    error = SigmaMindRateLimitError("429", status_code=429, retry_after=retry_after)
    assert attempts.next_delay(error) == expected


def test_backoff_used_when_no_retry_after() -> None:
    attempts = policy(backoff_initial=13.0, backoff_max=100.0).start(clock=FakeClock())
    attempts.begin()
    assert attempts.next_delay(server_error()) == 13.0
    attempts.begin()
    assert attempts.next_delay(server_error()) == 26.0


def test_delay_past_the_deadline_gives_up() -> None:
    clock = FakeClock()
    attempts = policy(deadline=10.0, backoff_initial=4.0, backoff_max=4.0, max_retries=100).start(clock=clock)
    attempts.begin()
    clock.advance(5.0)
    assert attempts.next_delay(server_error()) == 4.0  # 4 < 5 remaining
    clock.advance(4.0)
    attempts.begin()
    error = server_error()
    with pytest.raises(SigmaMindServerError) as excinfo:
        attempts.next_delay(error)  # 4 >= 1 remaining
    assert excinfo.value is error
    assert error.attempts == 2
    assert "gave up after 2 attempts in 9.0s" in str(error)


def test_delay_exactly_reaching_the_deadline_gives_up() -> None:
    clock = FakeClock()
    attempts = policy(deadline=10.0, backoff_initial=4.0, backoff_max=4.0).start(clock=clock)
    attempts.begin()
    clock.advance(6.0)
    with pytest.raises(SigmaMindServerError, match=r"gave up after 1 attempt in 6\.0s"):
        attempts.next_delay(server_error())


def test_capped_retry_after_past_the_deadline_gives_up() -> None:
    clock = FakeClock()
    attempts = policy(deadline=30.0, retry_after_max=60.0).start(clock=clock)
    attempts.begin()
    clock.advance(1.0)
    with pytest.raises(SigmaMindRateLimitError, match="gave up after 1 attempt"):
        attempts.next_delay(SigmaMindRateLimitError("429", retry_after=45.0))


def test_already_past_the_deadline_gives_up_even_with_zero_delay() -> None:
    clock = FakeClock()
    attempts = policy(deadline=5.0).start(clock=clock)
    attempts.begin()
    clock.advance(6.0)
    with pytest.raises(SigmaMindRateLimitError, match="gave up"):
        attempts.next_delay(SigmaMindRateLimitError("429", retry_after=0.0))


def test_the_deadline_covers_requests_and_waits() -> None:
    """Run the loop the hook runs, with every request hanging until its budget is spent."""
    clock = FakeClock()
    deadline = 60.0
    attempts = policy(deadline=deadline, max_retries=1000, backoff_initial=1.0, backoff_max=8.0).start(clock=clock)
    error = SigmaMindTransportError("read timed out")
    delays, raised = run_until_given_up(attempts, error, clock, request_time=None)
    assert raised is error
    assert "gave up" in str(error)
    assert attempts.elapsed <= deadline
    assert error.attempts == attempts.count
    assert 1 < attempts.count < 20
    assert sum(delays) > 0


# -- budget / remaining --------------------------------------------------------------------------


def test_budget_never_exceeds_remaining_time() -> None:
    clock = FakeClock()
    attempts = policy(deadline=10.0).start(clock=clock)
    assert attempts.remaining() == 10.0
    assert attempts.budget(30.0) == 10.0
    assert attempts.budget(2.0) == 2.0
    clock.advance(7.0)
    assert attempts.elapsed == 7.0
    assert attempts.remaining() == 3.0
    assert attempts.budget(30.0) == 3.0
    assert attempts.budget(1.0) == 1.0
    clock.advance(5.0)
    assert attempts.remaining() == 0.0
    assert attempts.budget(30.0) == 0.0


@settings(max_examples=50, deadline=None, database=None, derandomize=True)
@given(
    deadline=st.floats(min_value=0, max_value=1e6),
    elapsed=st.floats(min_value=0, max_value=2e6),
    per_request=st.floats(min_value=0, max_value=1e6),
)
def test_budget_property(deadline: float, elapsed: float, per_request: float) -> None:
    clock = FakeClock(0.0)
    attempts = policy(deadline=deadline).start(clock=clock)
    clock.advance(elapsed)
    budget = attempts.budget(per_request)
    assert 0.0 <= budget <= per_request
    assert budget <= attempts.remaining()
    assert attempts.remaining() <= deadline


def test_start_reads_the_clock_once_at_start() -> None:
    clock = FakeClock(50.0)
    attempts = policy().start(clock=clock)
    assert isinstance(attempts, Attempts)
    assert attempts.count == 0
    assert attempts.elapsed == 0.0
    clock.advance(2.5)
    assert attempts.elapsed == 2.5


def test_begin_counts_attempts() -> None:
    attempts = policy().start(clock=FakeClock())
    for expected in range(1, 4):
        attempts.begin()
        assert attempts.count == expected
