"""A campaign's schedule: local date, time and IANA zone, to and from UTC, and its checks (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_sigmamind.schedule import (
    SCHEDULE_FIELDS,
    date_problem,
    local_schedule,
    missing_part_problem,
    schedule_instant,
    schedule_problems,
    time_problem,
    timezone_problem,
    when_problem,
)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("date", "time", "zone", "utc"),
    [
        ("2026-07-01", "09:00:00", "America/Los_Angeles", "2026-07-01T16:00:00+00:00"),  # PDT, UTC-7
        ("2026-12-01", "09:00:00", "America/Los_Angeles", "2026-12-01T17:00:00+00:00"),  # PST, UTC-8
        ("2026-07-01", "09:00:00", "Asia/Kolkata", "2026-07-01T03:30:00+00:00"),  # UTC+5:30
        ("2026-07-01", "00:30:00", "Pacific/Auckland", "2026-06-30T12:30:00+00:00"),  # the day before in UTC
        ("2026-07-01", "09:00:00", "UTC", "2026-07-01T09:00:00+00:00"),
    ],
)
def test_a_local_schedule_is_the_right_utc_instant(date, time, zone, utc):
    assert schedule_instant(date, time, zone).isoformat() == utc
    assert schedule_problems(date, time, zone, now=NOW) == []


@pytest.mark.parametrize(
    ("date", "time", "zone", "problem"),
    [
        (
            "2026-05-31",
            "23:00:00",
            "UTC",
            "the schedule 2026-05-31 23:00:00 in UTC (2026-05-31T23:00:00Z) is in the past",
        ),
        # 12:00 UTC is 05:00 in Los Angeles: 04:59:59 there has passed, 05:00:00 has not.
        ("2026-06-01", "04:59:59", "America/Los_Angeles", "(2026-06-01T11:59:59Z) is in the past"),
        ("2026-03-08", "02:30:00", "America/New_York", "does not exist: the clocks skip that time"),
        ("2026-11-01", "01:30:00", "America/New_York", "is ambiguous: that time happens twice"),
        ("2026-06-01", "24:00:00", "UTC", "scheduled_time '24:00:00' is not a 24-hour time"),
        ("2026-6-1", "10:00:00", "UTC", "scheduled_date '2026-6-1' is not a date in YYYY-MM-DD form"),
        ("2026-02-30", "10:00:00", "UTC", "scheduled_date '2026-02-30' is not a date in YYYY-MM-DD form"),
        ("2026-07-01", "10:00:00", "america/los_angeles", "scheduled_timezone 'america/los_angeles' is not an IANA"),
        ("2026-07-01", "10:00:00", " UTC", "scheduled_timezone ' UTC' is not an IANA time zone"),
        ("2026-07-01", "10:00:00", "../../etc/passwd", "is not an IANA time zone"),
        ("2026-07-01", "10:00:00", 5, "scheduled_timezone 5 is not an IANA time zone"),
        (
            "2026-07-01",
            None,
            "UTC",
            "a scheduled campaign needs scheduled_date, scheduled_time and scheduled_timezone; missing scheduled_time",
        ),
    ],
)
def test_bad_schedules(date, time, zone, problem):
    problems = schedule_problems(date, time, zone, now=NOW)
    assert len(problems) == 1
    assert problem in problems[0]


def test_every_part_is_reported_and_the_instant_only_when_the_parts_are_good():
    assert schedule_problems("2020-01-01", "9:00", "Moon/Base", now=NOW) == [
        "scheduled_time '9:00' is not a 24-hour time in HH:mm:ss form",
        "scheduled_timezone 'Moon/Base' is not an IANA time zone (e.g. America/Los_Angeles)",
    ]
    assert schedule_problems(None, None, "UTC", now=NOW) == [
        "a scheduled campaign needs scheduled_date, scheduled_time and scheduled_timezone; "
        "missing scheduled_date, scheduled_time"
    ]


def test_the_whole_schedule_checks_say_nothing_about_what_the_parts_say():
    assert missing_part_problem(None, None, None) is None  # nothing scheduled
    assert missing_part_problem("2026-07-01", "10:00:00", "UTC") is None
    assert when_problem("2020-01-01", None, "UTC", now=NOW) is None  # a part is missing: not judged
    assert when_problem("2020-01-01", "9:00", "UTC", now=NOW) is None  # a part is malformed: its own check says so
    assert when_problem("2020-01-01", "09:00:00", "UTC", now=None) is None  # no clock, no past
    assert when_problem("2020-01-01", "09:00:00", "UTC", now=NOW) == (
        "the schedule 2020-01-01 09:00:00 in UTC (2020-01-01T09:00:00Z) is in the past"
    )


def test_part_checks_name_the_argument_they_are_given():
    assert date_problem("x", "start_date") == "start_date 'x' is not a date in YYYY-MM-DD form"
    assert time_problem(None) == "scheduled_time None is not a 24-hour time in HH:mm:ss form"
    assert timezone_problem("Europe/Paris") is None
    assert SCHEDULE_FIELDS == ("scheduled_date", "scheduled_time", "scheduled_timezone")


def test_now_is_not_looked_at_by_schedule_instant():
    assert schedule_instant("2001-01-01", "00:00:00", "UTC") == datetime(2001, 1, 1, tzinfo=UTC)


def test_schedule_instant_raises_with_the_problems():
    with pytest.raises(ValueError, match="scheduled_timezone 'PST' is not an IANA time zone"):
        schedule_instant("2026-07-01", "09:00:00", "PST")
    with pytest.raises(ValueError, match="does not exist: the clocks skip that time"):
        schedule_instant("2026-03-08", "02:30:00", "America/New_York")


def test_local_schedule_rounds_up_to_the_next_second_and_round_trips():
    instant = datetime(2026, 7, 1, 16, 0, 0, 250_000, tzinfo=UTC)

    schedule = local_schedule(instant, "America/Los_Angeles")

    assert schedule == {
        "scheduled_date": "2026-07-01",
        "scheduled_time": "09:00:01",
        "scheduled_timezone": "America/Los_Angeles",
    }
    assert schedule_instant(*schedule.values()) == datetime(2026, 7, 1, 16, 0, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="timezone-aware"):
        local_schedule(datetime(2026, 7, 1), "UTC")
    with pytest.raises(ValueError, match="not an IANA time zone"):
        local_schedule(instant, "Nowhere/Land")


def test_a_local_schedule_from_the_clock_is_judged_against_the_clock():
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    yesterday = datetime.now(UTC) - timedelta(days=1)
    now = datetime.now(UTC)
    assert schedule_problems(*local_schedule(tomorrow, "Europe/Paris").values(), now=now) == []
    (problem,) = schedule_problems(*local_schedule(yesterday, "Europe/Paris").values(), now=now)
    assert problem.endswith("is in the past")


ZONES = ["UTC", "America/Los_Angeles", "Asia/Kolkata", "Europe/Paris", "Pacific/Chatham", "Australia/Lord_Howe"]


@settings(max_examples=200, deadline=None)
@given(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2060, 1, 1), timezones=st.just(UTC)),
    st.sampled_from(ZONES),
)
def test_any_instant_round_trips_or_is_refused_as_a_repeated_local_time(instant, zone):
    """local_schedule then schedule_instant gives the instant back, rounded up to the second, except
    in the hour a daylight-saving change repeats, which the checks refuse as ambiguous."""
    schedule = local_schedule(instant, zone)
    problems = schedule_problems(*schedule.values(), now=None)
    if problems:
        (problem,) = problems
        assert "is ambiguous: that time happens twice" in problem
    else:
        expected = instant if not instant.microsecond else instant.replace(microsecond=0) + timedelta(seconds=1)
        assert schedule_instant(*schedule.values()) == expected
