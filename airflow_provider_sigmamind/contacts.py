"""Pre-flight checks of a campaign's contact list (the CSV a create uploads), before anything is sent.

Pure: no I/O and no Airflow. Every check returns problems (strings) rather than raising, so a
caller can report all of them at once; the hook turns them into one
:class:`~airflow_provider_sigmamind.exceptions.SigmaMindInvalidInputError`. The campaign's other
fields are checked in :mod:`airflow_provider_sigmamind.campaign_fields`, its schedule in
:mod:`airflow_provider_sigmamind.schedule`.

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

Deprecated here, importable from this module until 0.3.0: ``local_schedule`` and
``schedule_instant`` (now in :mod:`airflow_provider_sigmamind.schedule`);
``campaign_field_problems``, ``update_field_problems``, ``MAX_CAMPAIGN_NAME_LENGTH`` and
``MAX_AGENT_ID_LENGTH`` (now in :mod:`airflow_provider_sigmamind.campaign_fields`, where
``NewCampaign(...).problems()`` and ``CampaignChanges(...).problems()`` are the checks themselves).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from airflow_provider_sigmamind import campaign_fields as _campaign_fields
from airflow_provider_sigmamind import schedule as _schedule
from airflow_provider_sigmamind.campaign_fields import E164_PATTERN
from airflow_provider_sigmamind.text import clip

__all__ = [
    "E164_PATTERN",
    "PHONE_CHECKS",
    "VALIDATE_MODES",
    "ContactReport",
    "PhoneCheck",
    "ValidateMode",
    "check_contacts",
    "check_phone_number",
    "find_phone_column",
    "rows_to_csv",
    "variable_name",
]

#: ``"valid"``: E.164 and a number that can exist (libphonenumber); ``"e164"``: the pattern only.
PhoneCheck = Literal["valid", "e164"]
PHONE_CHECKS: tuple[str, ...] = ("valid", "e164")
#: What a create does with the problems found: raise, log them and send anyway, or not look.
ValidateMode = Literal["error", "warn", "off"]
VALIDATE_MODES: tuple[str, ...] = ("error", "warn", "off")

#: Longest cell or header quoted in a problem, which quotes it in the API's own way: ``'+1234'``.
_SHOWN = 60


def _show(value: str) -> str:
    return clip(value, _SHOWN)


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


# -- deprecated aliases, kept until 0.3.0 (not in __all__) --------------------------------------

#: Deprecated: moved to :func:`airflow_provider_sigmamind.schedule.local_schedule`.
local_schedule = _schedule.local_schedule
#: Deprecated: moved to :func:`airflow_provider_sigmamind.schedule.schedule_instant`.
schedule_instant = _schedule.schedule_instant
#: Deprecated: moved to :func:`airflow_provider_sigmamind.campaign_fields.campaign_field_problems`.
campaign_field_problems = _campaign_fields.campaign_field_problems
#: Deprecated: moved to :func:`airflow_provider_sigmamind.campaign_fields.update_field_problems`.
update_field_problems = _campaign_fields.update_field_problems
#: Deprecated: moved to :data:`airflow_provider_sigmamind.campaign_fields.MAX_CAMPAIGN_NAME_LENGTH`.
MAX_CAMPAIGN_NAME_LENGTH = _campaign_fields.MAX_CAMPAIGN_NAME_LENGTH
#: Deprecated: moved to :data:`airflow_provider_sigmamind.campaign_fields.MAX_AGENT_ID_LENGTH`.
MAX_AGENT_ID_LENGTH = _campaign_fields.MAX_AGENT_ID_LENGTH
