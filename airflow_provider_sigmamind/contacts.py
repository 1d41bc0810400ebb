"""Pre-flight checks for a new campaign: its contact list and its fields, before anything is sent.

Pure: no I/O and no Airflow. Every check returns a list of problems (strings) rather than raising,
so a caller can report all of them at once; the hook turns them into one
:class:`~airflow_provider_sigmamind.exceptions.SigmaMindInvalidInputError`.

Contact-list problems use the API's own phrasing (``Row 3: missing required variable
'customer_name'``, ``Row 7: invalid phone number '+1234'``), with the API's row numbering as the
provider's simulator applies it: row 1 is the first contact below the header row, and lines that
are entirely blank are skipped and not counted. SigmaMind does not document its numbering; see
``docs/lifecycle.md``.

Phone numbers: a number must be E.164 (``^\\+[1-9][0-9]{6,14}$``, the pattern SigmaMind documents)
and, with ``phone_check="valid"`` (the default), also a number that can exist, according to
Google's libphonenumber metadata (the ``phonenumbers`` package): right length for its country
code, in an allocated range. The pattern alone lets through the most common slip in a contact
list, a US number with a ``+`` but without its ``1`` (``+4155552671`` reads as a Swiss number),
and numbers a digit short. ``phone_check="e164"`` keeps only the pattern, for ranges newer than
the installed metadata.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "E164_PATTERN",
    "MAX_AGENT_ID_LENGTH",
    "MAX_CAMPAIGN_NAME_LENGTH",
    "PHONE_CHECKS",
    "VALIDATE_MODES",
    "ContactReport",
    "PhoneCheck",
    "ValidateMode",
    "campaign_field_problems",
    "check_contacts",
    "check_phone_number",
    "find_phone_column",
    "local_schedule",
    "rows_to_csv",
    "schedule_instant",
    "update_field_problems",
    "variable_name",
]

#: SigmaMind's documented pattern for ``sipPhoneNumber``; contact numbers must match it too.
E164_PATTERN = re.compile(r"\+[1-9][0-9]{6,14}")
MAX_CAMPAIGN_NAME_LENGTH = 128
MAX_AGENT_ID_LENGTH = 64
#: ``"valid"``: E.164 and a number that can exist (libphonenumber); ``"e164"``: the pattern only.
PhoneCheck = Literal["valid", "e164"]
PHONE_CHECKS: tuple[str, ...] = ("valid", "e164")
#: What a create does with the problems found: raise, log them and send anyway, or not look.
ValidateMode = Literal["error", "warn", "off"]
VALIDATE_MODES: tuple[str, ...] = ("error", "warn", "off")

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME = re.compile(r"\d{2}:\d{2}:\d{2}")
_SHOWN = 60


def _show(value: object) -> str:
    """``value`` quoted for a message, cut short when long."""
    text = str(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


def variable_name(header: str) -> str:
    """The dynamic-variable name SigmaMind derives from a CSV header: ``Customer Name`` -> ``customer_name``.

    :param header: the column header.
    """
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", header.strip())
    return re.sub(r"[^0-9A-Za-z]+", "_", spaced).strip("_").lower()


def find_phone_column(header: Sequence[str]) -> int | None:
    """Index of the phone column: the first header containing "phone", in any case; ``None`` if none.

    SigmaMind does not document the header names it requires; this is the rule of the simulator.

    :param header: the header row.
    """
    return next((i for i, name in enumerate(header) if "phone" in name.lower()), None)


# -- phone numbers ------------------------------------------------------------------------------


def check_phone_number(value: str, *, phone_check: PhoneCheck = "valid") -> str | None:
    """Why ``value`` cannot be dialled, or ``None`` when it is fine.

    :param value: the number, already stripped of surrounding white space.
    :param phone_check: ``"valid"`` (pattern and libphonenumber) or ``"e164"`` (pattern only).
    :returns: ``None``; ``""`` when the E.164 pattern fails (the API's own message needs no more);
        otherwise a short reason, e.g. ``"too short for country code +41"``.
    """
    if not E164_PATTERN.fullmatch(value):
        return ""
    if phone_check == "e164":
        return None
    return _libphonenumber_problem(value)


@cache
def _phonenumbers() -> Any:
    """The ``phonenumbers`` module, imported on first use (it costs ~50 ms; DAG files import this module)."""
    import phonenumbers

    return phonenumbers


def _libphonenumber_problem(value: str) -> str | None:
    phonenumbers = _phonenumbers()
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return "no country uses its calling code"
    if phonenumbers.is_valid_number(number):
        return None
    code = number.country_code
    reason = phonenumbers.is_possible_number_with_reason(number)
    result = phonenumbers.ValidationResult
    if reason == result.INVALID_COUNTRY_CODE:
        return "no country uses its calling code"
    if reason == result.TOO_SHORT:
        return f"too short for country code +{code}"
    if reason == result.TOO_LONG:
        return f"too long for country code +{code}"
    if reason == result.INVALID_LENGTH:
        return f"wrong length for country code +{code}"
    return f"not a number in use for country code +{code}"


def _phone_message(row: int, value: str, reason: str) -> str:
    message = f"Row {row}: invalid phone number '{_show(value)}'"
    return f"{message} ({reason})" if reason else message


# -- the contact list ---------------------------------------------------------------------------


def rows_to_csv(rows: Iterable[Mapping[str, Any]]) -> str:
    """Write contacts given as mappings (e.g. rows pulled from XCom) as CSV text.

    The header is every key, in the order first seen; a key missing from a row is an empty cell
    (which the validation then reports as a missing variable). ``None`` is an empty cell; numbers
    and booleans are written as text.

    :param rows: one mapping per contact, e.g. ``{"Phone Number": "+14155552671", "Customer Name": "Michael"}``.
    :raises ValueError: for a row that is not a mapping, or a value that is a list or an object.
    """
    rows = list(rows)
    header: dict[str, None] = {}
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, Mapping):
            raise ValueError(f"contact {number} is a {type(row).__name__}, not a mapping of column to value")
        for key in row:
            header.setdefault(str(key), None)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for number, row in enumerate(rows, start=1):
        cells = {str(key): value for key, value in row.items()}
        writer.writerow([_cell(cells.get(name), number, name) for name in header])
    return out.getvalue()


def _cell(value: object, number: int, column: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str | int | float | bool):
        return str(value)
    raise ValueError(f"contact {number}: the value for {column!r} is a {type(value).__name__}, not text or a number")


@dataclass(frozen=True)
class ContactReport:
    """What the pre-flight check found in a contact list.

    :param contacts: contacts (non-blank rows below the header).
    :param phone_column: the header of the phone column, or ``None`` when there is none.
    :param variables: the variable names of the other columns, in order.
    :param problems: every problem, in the API's phrasing, header problems first, then by row.
    """

    contacts: int
    phone_column: str | None
    variables: tuple[str, ...]
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not self.problems


def check_contacts(
    data: bytes | str,
    *,
    required_variables: Iterable[str] | None = None,
    phone_check: PhoneCheck = "valid",
) -> ContactReport:
    """Check a contact CSV the way SigmaMind would, and more, without sending it.

    Reported: an unreadable or empty file; no phone column; an unnamed column; two columns that
    become the same variable; a required variable with no column; no contacts; per row, a number
    of cells that differs from the header, an invalid phone number, an empty required variable and
    a phone number already seen in an earlier row.

    :param data: the CSV exactly as it will be uploaded (UTF-8, with or without a BOM).
    :param required_variables: variable names (``customer_name``) or headers (``Customer Name``)
        that must be non-empty in every row. ``None`` (the default) requires every column, which
        is what the API reports on when it has no other knowledge of the agent's variables.
    :param phone_check: ``"valid"`` or ``"e164"`` (see the module documentation).
    """
    if phone_check not in PHONE_CHECKS:
        raise ValueError(f"phone_check must be one of {', '.join(PHONE_CHECKS)}, got {phone_check!r}")
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            problem = f"Contact list: not UTF-8 text (line {line}, byte {exc.start}); save it as 'CSV UTF-8'"
            return ContactReport(0, None, (), (problem,))
    else:
        text = data.removeprefix("\ufeff")
    try:
        rows = [row for row in csv.reader(io.StringIO(text, newline="")) if any(cell.strip() for cell in row)]
    except csv.Error as exc:
        return ContactReport(0, None, (), (f"Contact list: not readable as CSV ({exc})",))
    if not rows:
        return ContactReport(0, None, (), ("Contact list: empty; it needs a header row and at least one contact",))

    header = [cell.strip() for cell in rows[0]]
    contacts = rows[1:]
    problems: list[str] = []
    phone_index = find_phone_column(header)
    if phone_index is None:
        shown = ", ".join(f"'{_show(name)}'" for name in header)
        problems.append(f"Header: no phone number column (a header containing 'phone'); the headers are {shown}")

    columns: dict[str, int] = {}  # variable name -> column index
    for index, name in enumerate(header):
        if index == phone_index:
            continue
        if not name:
            problems.append(f"Header: column {index + 1} has no name")
            continue
        variable = variable_name(name) or f"column_{index + 1}"
        if variable in columns:
            first = header[columns[variable]]
            problems.append(f"Header: columns '{_show(first)}' and '{_show(name)}' both become variable '{variable}'")
            continue
        columns[variable] = index

    if required_variables is None:
        required = list(columns)
    else:
        if isinstance(required_variables, str):
            required_variables = [required_variables]
        required = []
        phone_variable = variable_name(header[phone_index]) if phone_index is not None else None
        for wanted in required_variables:
            variable = variable_name(str(wanted))
            if variable == phone_variable:
                continue  # the phone number is always required, and checked as such
            if variable not in columns:
                problems.append(f"Header: no column for required variable '{variable or wanted}'")
            elif variable not in required:
                required.append(variable)

    if not contacts:
        problems.append("Contact list: no contacts below the header row")

    seen_numbers: dict[str, int] = {}
    for number, row in enumerate(contacts, start=1):
        cells = [cell.strip() for cell in row]
        if len(cells) != len(header):
            problems.append(f"Row {number}: {len(cells)} values but the header has {len(header)} columns")
        cells += [""] * (len(header) - len(cells))
        if phone_index is not None:
            phone = cells[phone_index]
            reason = check_phone_number(phone, phone_check=phone_check)
            if reason is not None:
                problems.append(_phone_message(number, phone, reason))
        problems.extend(
            f"Row {number}: missing required variable '{variable}'"
            for variable in required
            if not cells[columns[variable]]
        )
        if phone_index is not None and cells[phone_index]:
            phone = cells[phone_index]
            if phone in seen_numbers:
                problems.append(
                    f"Row {number}: duplicate phone number '{_show(phone)}' (also in row {seen_numbers[phone]})"
                )
            else:
                seen_numbers[phone] = number
    return ContactReport(
        contacts=len(contacts),
        phone_column=header[phone_index] if phone_index is not None else None,
        variables=tuple(columns),
        problems=tuple(problems),
    )


# -- campaign fields ----------------------------------------------------------------------------


def _text_problem(value: object, name: str, longest: int) -> str | None:
    if not isinstance(value, str):
        return f"{name} must be text of 1 to {longest} characters, got {type(value).__name__}"
    if not value.strip():
        return f"{name} is empty; it must be 1 to {longest} characters"
    if len(value) > longest:
        return f"{name} is {len(value)} characters long; the limit is {longest}"
    return None


def _sip_phone_problem(value: object) -> str | None:
    if not isinstance(value, str) or not E164_PATTERN.fullmatch(value):
        return f"sip_phone_number '{_show(value)}' is not an E.164 number (^\\+[1-9][0-9]{{6,14}}$, e.g. +14155552671)"
    return None


def _count_problem(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return f"concurrent_calls must be a whole number of at least 1, got {_show(repr(value))}"
    return None


def _variables_problem(value: object, name: str) -> str | None:
    if not isinstance(value, Mapping) or not all(isinstance(key, str) for key in value):
        return f"{name} must be a mapping of variable names to values (a JSON object), got {type(value).__name__}"
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        return f"{name} cannot be sent as JSON: {exc}"
    return None


def schedule_instant(scheduled_date: str, scheduled_time: str, scheduled_timezone: str) -> datetime:
    """The UTC instant of a local date and time in an IANA time zone.

    :param scheduled_date: ``YYYY-MM-DD``.
    :param scheduled_time: ``HH:mm:ss`` (24-hour).
    :param scheduled_timezone: an IANA time-zone name, e.g. ``America/Los_Angeles``.
    :raises ValueError: naming the field that is wrong; also for a local time that does not exist
        (skipped by a daylight-saving change) or that happens twice (repeated by one), since SigmaMind
        does not say which instant it would pick.
    """
    problems = _schedule_problems(scheduled_date, scheduled_time, scheduled_timezone, now=None)
    if problems:
        raise ValueError("; ".join(problems))
    return _instant(scheduled_date, scheduled_time, scheduled_timezone)


def _zone(name: object) -> ZoneInfo | None:
    if not isinstance(name, str) or not name or name != name.strip():
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def _instant(scheduled_date: str, scheduled_time: str, scheduled_timezone: str) -> datetime:
    zone = ZoneInfo(scheduled_timezone)
    local = datetime.combine(date.fromisoformat(scheduled_date), time.fromisoformat(scheduled_time), tzinfo=zone)
    return local.astimezone(UTC)


def _date_problem(value: object) -> str | None:
    if isinstance(value, str) and _DATE.fullmatch(value):
        try:
            date.fromisoformat(value)
            return None
        except ValueError:
            pass
    return f"scheduled_date '{_show(value)}' is not a date in YYYY-MM-DD form"


def _time_problem(value: object) -> str | None:
    if isinstance(value, str) and _TIME.fullmatch(value):
        try:
            time.fromisoformat(value)
            return None
        except ValueError:
            pass
    return f"scheduled_time '{_show(value)}' is not a 24-hour time in HH:mm:ss form"


def _zone_problem(value: object) -> str | None:
    if _zone(value) is None:
        return f"scheduled_timezone '{_show(value)}' is not an IANA time zone (e.g. America/Los_Angeles)"
    return None


def _schedule_problems(
    scheduled_date: object, scheduled_time: object, scheduled_timezone: object, *, now: datetime | None
) -> list[str]:
    parts = {
        "scheduled_date": scheduled_date,
        "scheduled_time": scheduled_time,
        "scheduled_timezone": scheduled_timezone,
    }
    missing = [name for name, value in parts.items() if value is None]
    problems = []
    if missing:
        needed = "scheduled_date, scheduled_time and scheduled_timezone"
        problems.append(f"a scheduled campaign needs {needed}; missing {', '.join(missing)}")
    checks = {"scheduled_date": _date_problem, "scheduled_time": _time_problem, "scheduled_timezone": _zone_problem}
    problems += [
        problem for name, check in checks.items() if parts[name] is not None and (problem := check(parts[name]))
    ]
    if problems:
        return problems
    day, clock, zone_name = str(scheduled_date), str(scheduled_time), str(scheduled_timezone)
    local = f"{day} {clock} in {zone_name}"
    zone = ZoneInfo(zone_name)
    naive = datetime.combine(date.fromisoformat(day), time.fromisoformat(clock))
    early, late = naive.replace(tzinfo=zone, fold=0), naive.replace(tzinfo=zone, fold=1)
    if early.utcoffset() != late.utcoffset():
        round_trip = early.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
        if round_trip != naive:
            return [f"the schedule {local} does not exist: the clocks skip that time (daylight saving)"]
        return [f"the schedule {local} is ambiguous: that time happens twice (daylight saving ends); pick another"]
    instant = early.astimezone(UTC)
    if now is not None and instant < now:
        return [f"the schedule {local} ({instant:%Y-%m-%dT%H:%M:%SZ}) is in the past"]
    return []


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


def campaign_field_problems(
    *,
    campaign_name: object,
    sip_phone_number: object,
    agent_id: object,
    concurrent_calls: object = None,
    scheduled_date: object = None,
    scheduled_time: object = None,
    scheduled_timezone: object = None,
    variables: object = None,
    now: datetime | None = None,
) -> list[str]:
    """Every problem with a new campaign's fields (an empty list when there is none).

    The campaign is scheduled when any of the three scheduling fields is given; then all three are
    needed, the time zone must be a real IANA zone, the local time must exist exactly once there,
    and the instant must not be in the past.

    :param campaign_name: 1 to 128 characters (SigmaMind also requires it unique per account).
    :param sip_phone_number: the line that dials out, E.164.
    :param agent_id: 1 to 64 characters.
    :param concurrent_calls: ``None`` (the API's default) or a whole number of at least 1.
    :param scheduled_date: ``YYYY-MM-DD``.
    :param scheduled_time: ``HH:mm:ss``.
    :param scheduled_timezone: an IANA time-zone name.
    :param variables: ``None`` or a JSON-serialisable mapping.
    :param now: the current instant (default: the clock); schedules before it are in the past.
    """
    problems = [
        _text_problem(campaign_name, "campaign_name", MAX_CAMPAIGN_NAME_LENGTH),
        _sip_phone_problem(sip_phone_number),
        _text_problem(agent_id, "agent_id", MAX_AGENT_ID_LENGTH),
        _count_problem(concurrent_calls) if concurrent_calls is not None else None,
        _variables_problem(variables, "variables") if variables is not None else None,
    ]
    found = [problem for problem in problems if problem]
    if any(value is not None for value in (scheduled_date, scheduled_time, scheduled_timezone)):
        found += _schedule_problems(scheduled_date, scheduled_time, scheduled_timezone, now=now or datetime.now(UTC))
    return found


def update_field_problems(changes: Mapping[str, Any], *, now: datetime | None = None) -> list[str]:
    """Every problem with the fields of a partial update, keyed by the hook's parameter names.

    Only the fields present are checked. The three scheduling fields are checked one by one; when
    all three are given, also together (the local time exists once, and is not in the past).

    :param changes: ``campaign_name``, ``sip_phone_number``, ``agent_id``, ``concurrent_calls``,
        ``scheduled``, ``scheduled_date``, ``scheduled_time``, ``scheduled_timezone``,
        ``dynamic_variables``; anything else is a problem.
    :param now: the current instant (default: the clock).
    """
    checks: dict[str, Any] = {
        "campaign_name": lambda v: _text_problem(v, "campaign_name", MAX_CAMPAIGN_NAME_LENGTH),
        "sip_phone_number": _sip_phone_problem,
        "agent_id": lambda v: _text_problem(v, "agent_id", MAX_AGENT_ID_LENGTH),
        "concurrent_calls": _count_problem,
        "scheduled": lambda v: None if isinstance(v, bool) else f"scheduled must be True or False, got {v!r}",
        "scheduled_date": _date_problem,
        "scheduled_time": _time_problem,
        "scheduled_timezone": _zone_problem,
        "dynamic_variables": lambda v: _variables_problem(v, "dynamic_variables"),
    }
    problems = []
    for name, value in changes.items():
        check = checks.get(name)
        if check is None:
            problems.append(f"{name} is not a field that can be updated")
        elif (problem := check(value)) is not None:
            problems.append(problem)
    schedule = ("scheduled_date", "scheduled_time", "scheduled_timezone")
    if not problems and all(name in changes for name in schedule):
        problems += _schedule_problems(*(changes[name] for name in schedule), now=now or datetime.now(UTC))
    return problems
