"""A campaign's launch schedule: a local date, time and IANA time zone, as SigmaMind takes them.

SigmaMind schedules a campaign with three fields, ``scheduledDate`` (``YYYY-MM-DD``),
``scheduledTime`` (``HH:mm:ss``, 24-hour) and ``scheduledTimezone`` (an IANA name such as
``America/Los_Angeles``), and reports the launch instant back in UTC. This module turns an instant
into those three arguments (:func:`local_schedule`), back (:func:`schedule_instant`), and checks
them the way the pre-flight checks of a create or an update do: every problem, as text.

A local time that does not exist (skipped by a daylight-saving change) or that happens twice
(repeated by one) is refused: SigmaMind does not say which instant it would pick.

Pure: no I/O and no Airflow.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from airflow_provider_sigmamind.text import shorten

__all__ = [
    "SCHEDULE_FIELDS",
    "date_problem",
    "local_schedule",
    "missing_part_problem",
    "schedule_instant",
    "schedule_problems",
    "time_problem",
    "timezone_problem",
    "when_problem",
]

#: The three arguments that schedule a campaign, in the order the API documents them.
SCHEDULE_FIELDS: tuple[str, str, str] = ("scheduled_date", "scheduled_time", "scheduled_timezone")

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME = re.compile(r"\d{2}:\d{2}:\d{2}")


def local_schedule(instant: datetime, timezone: str) -> dict[str, str]:
    """The ``scheduled_date``/``scheduled_time``/``scheduled_timezone`` arguments for launching at ``instant``.

    The time is rounded up to the next whole second (the API takes ``HH:mm:ss``), so the schedule is
    never earlier than ``instant``.

    :param instant: an aware datetime.
    :param timezone: the IANA time zone to express it in.
    :raises ValueError: for a naive ``instant`` or an unknown time zone.
    """
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("instant must be timezone-aware")
    zone = _zone(timezone)
    if zone is None:
        raise ValueError(f"{timezone!r} is not an IANA time zone (e.g. America/Los_Angeles)")
    if instant.microsecond:
        instant = instant + timedelta(microseconds=1_000_000 - instant.microsecond)
    local = instant.astimezone(zone)
    return {
        "scheduled_date": local.strftime("%Y-%m-%d"),
        "scheduled_time": local.strftime("%H:%M:%S"),
        "scheduled_timezone": timezone,
    }


def schedule_instant(scheduled_date: str, scheduled_time: str, scheduled_timezone: str) -> datetime:
    """The UTC instant of a local date and time in an IANA time zone.

    :param scheduled_date: ``YYYY-MM-DD``.
    :param scheduled_time: ``HH:mm:ss`` (24-hour).
    :param scheduled_timezone: an IANA time-zone name, e.g. ``America/Los_Angeles``.
    :raises ValueError: naming the field that is wrong; also for a local time that does not exist
        (skipped by a daylight-saving change) or that happens twice (repeated by one), since SigmaMind
        does not say which instant it would pick.
    """
    problems = schedule_problems(scheduled_date, scheduled_time, scheduled_timezone, now=None)
    if problems:
        raise ValueError("; ".join(problems))
    return _local(scheduled_date, scheduled_time, scheduled_timezone).astimezone(UTC)


def schedule_problems(
    scheduled_date: object, scheduled_time: object, scheduled_timezone: object, *, now: datetime | None
) -> list[str]:
    """Every problem with a whole schedule: a missing part, each part's form, then the instant.

    :param scheduled_date: ``YYYY-MM-DD``, or ``None`` when missing.
    :param scheduled_time: ``HH:mm:ss``, or ``None`` when missing.
    :param scheduled_timezone: an IANA name, or ``None`` when missing.
    :param now: schedules before this instant are in the past; ``None`` does not look.
    """
    parts = (scheduled_date, scheduled_time, scheduled_timezone)
    found = [missing_part_problem(*parts)]
    found += [check(part) for check, part in zip(_PART_CHECKS, parts, strict=True) if part is not None]
    problems = [problem for problem in found if problem]
    if not problems and (problem := when_problem(*parts, now=now)):
        problems.append(problem)
    return problems


def missing_part_problem(scheduled_date: object, scheduled_time: object, scheduled_timezone: object) -> str | None:
    """The problem with a schedule that lacks one of its three parts (``None`` marks a missing one).

    :returns: ``None`` when all three are given, and when none is (nothing is scheduled).
    """
    parts = dict(zip(SCHEDULE_FIELDS, (scheduled_date, scheduled_time, scheduled_timezone), strict=True))
    missing = [name for name, value in parts.items() if value is None]
    if not missing or len(missing) == len(parts):
        return None
    needed = "scheduled_date, scheduled_time and scheduled_timezone"
    return f"a scheduled campaign needs {needed}; missing {', '.join(missing)}"


def when_problem(
    scheduled_date: object, scheduled_time: object, scheduled_timezone: object, *, now: datetime | None
) -> str | None:
    """The problem with the instant of a schedule whose three parts are each well formed.

    Says nothing when a part is missing or malformed (the part's own check says it): this only
    judges the local time (it must exist, exactly once, in the zone) and, given ``now``, the past.

    :param now: schedules before this instant are in the past; ``None`` does not look.
    """
    parts = (scheduled_date, scheduled_time, scheduled_timezone)
    if any(part is None or check(part) for check, part in zip(_PART_CHECKS, parts, strict=True)):
        return None
    day, clock, zone_name = str(scheduled_date), str(scheduled_time), str(scheduled_timezone)
    local = f"{day} {clock} in {zone_name}"
    early = _local(day, clock, zone_name)
    late = early.replace(fold=1)
    if early.utcoffset() != late.utcoffset():
        if early.astimezone(UTC).astimezone(early.tzinfo).replace(tzinfo=None) != early.replace(tzinfo=None):
            return f"the schedule {local} does not exist: the clocks skip that time (daylight saving)"
        return f"the schedule {local} is ambiguous: that time happens twice (daylight saving ends); pick another"
    instant = early.astimezone(UTC)
    if now is not None and instant < now:
        return f"the schedule {local} ({instant:%Y-%m-%dT%H:%M:%SZ}) is in the past"
    return None


def date_problem(value: object, name: str = "scheduled_date") -> str | None:
    """Why ``value`` is not a real ``YYYY-MM-DD`` date (``2026-02-30`` is not), or ``None``.

    :param value: the value given.
    :param name: the argument's name, for the message.
    """
    good = _parses(value, _DATE, date.fromisoformat)
    return None if good else f"{name} {shorten(value)} is not a date in YYYY-MM-DD form"


def time_problem(value: object, name: str = "scheduled_time") -> str | None:
    """Why ``value`` is not a 24-hour ``HH:mm:ss`` time, or ``None``.

    Seconds are required and ``24:00:00`` is refused: the API documents ``HH:mm:ss``, 00 to 23.

    :param value: the value given.
    :param name: the argument's name, for the message.
    """
    good = _parses(value, _TIME, time.fromisoformat)
    return None if good else f"{name} {shorten(value)} is not a 24-hour time in HH:mm:ss form"


def timezone_problem(value: object, name: str = "scheduled_timezone") -> str | None:
    """Why ``value`` is not an IANA time-zone name known to ``zoneinfo``, or ``None``.

    Names are case-sensitive (``america/los_angeles`` is refused), as IANA's are.

    :param value: the value given.
    :param name: the argument's name, for the message.
    """
    if _zone(value) is None:
        return f"{name} {shorten(value)} is not an IANA time zone (e.g. America/Los_Angeles)"
    return None


_PART_CHECKS = (date_problem, time_problem, timezone_problem)


def _parses(value: object, form: re.Pattern[str], parse: Callable[[str], object]) -> bool:
    """True when ``value`` is text of exactly that form, and a real date or time (no February 30)."""
    if not isinstance(value, str) or not form.fullmatch(value):
        return False
    try:
        parse(value)
    except ValueError:
        return False
    return True


def _zone(name: object) -> ZoneInfo | None:
    if not isinstance(name, str) or not name or name != name.strip():
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def _local(scheduled_date: str, scheduled_time: str, scheduled_timezone: str) -> datetime:
    """The local date and time, in the zone, with ``fold=0`` (the earlier of a repeated time)."""
    day, clock = date.fromisoformat(scheduled_date), time.fromisoformat(scheduled_time)
    return datetime.combine(day, clock, tzinfo=ZoneInfo(scheduled_timezone))
