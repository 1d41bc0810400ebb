"""Campaign state and the API's validation rules, as the SigmaMind simulator applies them.

Knowledge of the wire format lives here: the served campaign shape, the create form, the update
fields, CSV row checks and the error JSON. Nothing here does I/O.
"""

from __future__ import annotations

import csv
import io
import json
import re
import secrets
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Any
from zoneinfo import ZoneInfo

from airflow_provider_sigmamind.simulator.faults import Fault

#: The documented campaign statuses.
STATUSES = ("live", "scheduled", "paused", "completed")
PHONE_PATTERN = re.compile(r"\+[1-9][0-9]{6,14}")
DEFAULT_AGENT_ID = "agent_D5D0p7TUs66TTAEAx"
DEFAULT_PHONE = "+14155552671"
PATCH_FIELDS = frozenset(
    {
        "campaignName",
        "sipPhoneNumber",
        "agentId",
        "isScheduled",
        "scheduledDate",
        "scheduledTime",
        "scheduledTimezone",
        "concurrentCalls",
        "dynamicVariables",
    }
)
_SCHEDULE_FIELDS = ("isScheduled", "scheduledDate", "scheduledTime", "scheduledTimezone")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME = re.compile(r"\d{2}:\d{2}:\d{2}")


class _Missing:
    """Type of :data:`MISSING`."""

    def __repr__(self) -> str:
        """Return ``MISSING``."""
        return "MISSING"

    def __copy__(self) -> _Missing:
        """Stay the one sentinel."""
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> _Missing:
        """Stay the one sentinel.

        :param memo: the deepcopy memo.
        """
        return self


#: Use as an ``overrides`` value to leave that field out of the served payload.
MISSING: Any = _Missing()
#: The admin API's spelling of :data:`MISSING` inside JSON ``overrides``.
MISSING_JSON = "$missing"


class ApiError(Exception):
    """An error answer of the API: an HTTP status and the message of its error JSON.

    :param status: the HTTP status.
    :param message: the ``message`` field.
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def iso_utc(instant: datetime) -> str:
    """Format an instant as the API does: ISO-8601 UTC with milliseconds and ``Z``.

    :param instant: an aware datetime.
    """
    instant = instant.astimezone(UTC)
    return instant.strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond // 1000:03d}Z"


def error_body(status: int, message: str, path: str) -> bytes:
    """Return the API's error JSON: ``{"error", "message", "path", "status", "timestamp"}``.

    :param status: the HTTP status.
    :param message: a human-readable message.
    :param path: the request path.
    """
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Error"
    body = {
        "error": reason,
        "message": message,
        "path": path,
        "status": status,
        "timestamp": iso_utc(datetime.now(UTC)),
    }
    return json.dumps(body).encode()


def new_campaign_id() -> str:
    """Return a fresh id: ``camp_`` and 16 random letters and digits."""
    alphabet = string.ascii_letters + string.digits
    return "camp_" + "".join(secrets.choice(alphabet) for _ in range(16))


@dataclass
class Campaign:
    """One simulated campaign and its lifecycle.

    Without a timeline or script the status is ``status``. With ``live_at``/``complete_at`` (instants
    of the simulator's monotonic clock) it is ``scheduled`` before ``live_at``, ``completed`` from
    ``complete_at`` on, ``live`` in between. A ``script`` wins over both.
    """

    campaign_id: str
    name: str
    status: str = "live"
    live_at: float | None = None
    complete_at: float | None = None
    scheduled: bool = False
    scheduled_date: datetime | None = None
    schedule: dict[str, Any] = field(default_factory=dict)
    sip_phone_number: str = DEFAULT_PHONE
    agent_id: str = DEFAULT_AGENT_ID
    phone_agent_id: str = DEFAULT_AGENT_ID
    concurrent_calls: int = 5
    errors: list[str] | None = None
    variables: dict[str, Any] = field(default_factory=dict)
    overrides: dict[str, Any] = field(default_factory=dict)
    script: list[str | Fault] = field(default_factory=list)
    script_position: int = 0
    script_status: str | None = None

    def status_at(self, now: float) -> str:
        """Return the status at a monotonic instant, without consuming a script entry.

        :param now: the simulator clock's current value.
        """
        if self.script:
            if self.script_status is not None:
                return self.script_status
            return next((entry for entry in self.script if isinstance(entry, str)), self.status)
        if self.live_at is not None and now < self.live_at:
            return "scheduled"
        if self.complete_at is not None and now >= self.complete_at:
            return "completed"
        if self.live_at is not None or self.complete_at is not None:
            return "live"
        return self.status

    def next_script_entry(self) -> str | Fault | None:
        """Consume the next script entry (the last one repeats forever); None without a script."""
        if not self.script:
            return None
        entry = self.script[min(self.script_position, len(self.script) - 1)]
        self.script_position += 1
        if isinstance(entry, str):
            self.script_status = entry
        return entry

    def force_status(self, status: str) -> None:
        """Pin the status, dropping any timeline and script.

        :param status: the status to serve from now on.
        """
        self.status = status
        self.live_at = self.complete_at = None
        self.script = []
        self.script_position = 0
        self.script_status = None

    def payload(self, now: float) -> dict[str, Any]:
        """Return the campaign as the API serves it (camelCase), overrides applied last.

        The result shares override values with the campaign: copy it before handing it out.

        :param now: the simulator clock's current value.
        """
        data: dict[str, Any] = {
            "campaignId": self.campaign_id,
            "campaignName": self.name,
            "campaignStatus": self.status_at(now),
            "scheduledDate": iso_utc(self.scheduled_date) if self.scheduled_date else None,
            "concurrentCalls": self.concurrent_calls,
            "agent": {"name": "Simulated Agent", "agentId": self.agent_id, "status": "Live"},
            "phoneNumber": {
                "sipPhoneNumber": self.sip_phone_number,
                "provider": "twilio",
                "inboundAgentId": self.phone_agent_id,
                "outboundAgentId": self.phone_agent_id,
                "outboundPhoneNumber": self.sip_phone_number,
                "active": True,
                "terminationSipURI": "sip.twilio.com",
                "friendlyName": "Simulated Line",
            },
            "errors": list(self.errors or []),
            "scheduled": self.scheduled,
        }
        for key, value in self.overrides.items():
            if value is MISSING:
                data.pop(key, None)
            else:
                data[key] = value
        return data

    def schedule_at(self, instant: datetime, *, now: float, wall_now: datetime, live_duration: float) -> None:
        """Schedule the campaign: live at ``instant`` (at once if it is past), completed later.

        :param instant: the UTC launch instant.
        :param now: the simulator clock's current value.
        :param wall_now: the current UTC wall time.
        :param live_duration: seconds the campaign stays live.
        """
        self.scheduled, self.scheduled_date = True, instant
        self.live_at = now + max(0.0, (instant - wall_now).total_seconds())
        self.complete_at = self.live_at + live_duration
        self.script, self.script_status = [], None

    def start_now(self, *, now: float, live_duration: float) -> None:
        """Unschedule the campaign: live from now, completed ``live_duration`` later.

        :param now: the simulator clock's current value.
        :param live_duration: seconds the campaign stays live.
        """
        self.scheduled, self.scheduled_date = False, None
        self.live_at, self.complete_at = None, now + live_duration
        self.script, self.script_status = [], None


def schedule_instant(date: Any, time: Any, zone: Any) -> datetime:
    """Return the UTC instant of a local ``YYYY-MM-DD`` date and ``HH:mm:ss`` time in an IANA zone.

    :param date: ``scheduledDate``.
    :param time: ``scheduledTime``.
    :param zone: ``scheduledTimezone``.
    """
    if date is None or time is None or zone is None:
        raise ApiError(400, "scheduledDate, scheduledTime and scheduledTimezone are required when scheduled")
    try:
        local_date = datetime.strptime(_check(_DATE, date, "scheduledDate", "YYYY-MM-DD"), "%Y-%m-%d")
        local_time = datetime.strptime(_check(_TIME, time, "scheduledTime", "HH:mm:ss"), "%H:%M:%S")
    except ValueError:
        raise ApiError(400, "scheduledDate or scheduledTime is not a real date or time") from None
    local = datetime.combine(local_date.date(), local_time.time(), tzinfo=_check_zone(zone))
    return local.astimezone(UTC)


def _check_zone(value: Any) -> ZoneInfo:
    """Return the IANA time zone named ``value``, else raise a 400.

    :param value: ``scheduledTimezone`` as sent.
    """
    try:
        return ZoneInfo(_check_text(value, "scheduledTimezone", 64))
    except (ValueError, KeyError, OSError):
        raise ApiError(400, "scheduledTimezone must be an IANA time zone, e.g. America/Los_Angeles") from None


def _check(pattern: re.Pattern[str], value: Any, name: str, shape: str) -> str:
    """Return ``value`` if it is a str matching ``pattern``, else raise a 400.

    :param pattern: the full-match pattern.
    :param value: the value sent.
    :param name: the field name, for the message.
    :param shape: the expected form, for the message.
    """
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ApiError(400, f"{name} must be {shape}")
    return value


def _check_text(value: Any, name: str, longest: int) -> str:
    """Return ``value`` if it is a str of 1 to ``longest`` characters, else raise a 400.

    :param value: the value sent.
    :param name: the field name, for the message.
    :param longest: the maximum length.
    """
    if not isinstance(value, str) or not 1 <= len(value) <= longest:
        raise ApiError(400, f"{name} must be 1 to {longest} characters")
    return value


def _check_count(value: Any) -> int:
    """Return ``concurrentCalls`` as a positive int, else raise a 400.

    :param value: the value sent (an int in JSON, a str in a form).
    """
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,9}", value):
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ApiError(400, "concurrentCalls must be a positive integer")
    return value


def _check_bool(value: Any) -> bool:
    """Return ``isScheduled`` as a bool (JSON bool, or ``true``/``false`` in a form), else raise a 400.

    :param value: the value sent.
    """
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if not isinstance(value, bool):
        raise ApiError(400, "isScheduled must be true or false")
    return value


def _check_variables(value: Any, name: str) -> dict[str, Any]:
    """Return a variables object (a JSON object, or a str holding one), else raise a 400.

    :param value: the value sent.
    :param name: the field name, for the message.
    """
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ApiError(400, f"{name} must be a JSON object") from None
    if not isinstance(value, dict):
        raise ApiError(400, f"{name} must be a JSON object")
    return value


def _check_schedule_part(name: str, value: Any) -> Any:
    """Validate one of the schedule fields on its own.

    :param name: the field name.
    :param value: the value sent.
    """
    if name == "isScheduled":
        return _check_bool(value)
    if name == "scheduledDate":
        return _check(_DATE, value, name, "YYYY-MM-DD")
    if name == "scheduledTime":
        return _check(_TIME, value, name, "HH:mm:ss")
    _check_zone(value)
    return value


def snake_case(header: str) -> str:
    """Normalise a CSV header to a variable name: ``Customer Name`` -> ``customer_name``.

    :param header: the column header.
    """
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", header.strip())
    return re.sub(r"[^0-9A-Za-z]+", "_", spaced).strip("_").lower()


def csv_row_errors(data: bytes) -> list[str]:
    """Check a contact CSV and return its row problems, as the API lists them in ``errors``.

    The header row needs a phone column (a header containing "phone"); every other column is a
    required variable. Blank lines are skipped and not counted.

    :param data: the uploaded file.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ApiError(400, "file must be a UTF-8 CSV") from None
    rows = [row for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)]
    if not rows:
        raise ApiError(400, "file must be a CSV with a header row")
    header = [cell.strip() for cell in rows[0]]
    phone_column = next((i for i, name in enumerate(header) if "phone" in name.lower()), None)
    if phone_column is None:
        raise ApiError(400, "file must have a phone number column")
    variables = [(i, snake_case(name) or f"column_{i + 1}") for i, name in enumerate(header) if i != phone_column]
    problems: list[str] = []
    for number, row in enumerate(rows[1:], start=1):
        cells = [cell.strip() for cell in row] + [""] * (len(header) - len(row))
        if not PHONE_PATTERN.fullmatch(cells[phone_column]):
            problems.append(f"Row {number}: invalid phone number '{cells[phone_column]}'")
        problems.extend(f"Row {number}: missing required variable '{name}'" for i, name in variables if not cells[i])
    return problems


def campaign_from_form(form: dict[str, bytes], *, now: float, wall_now: datetime, live_duration: float) -> Campaign:
    """Validate a create form and build the campaign (its name is not checked for uniqueness here).

    :param form: multipart fields by name (the ``file`` field holds the CSV).
    :param now: the simulator clock's current value.
    :param wall_now: the current UTC wall time.
    :param live_duration: seconds a campaign stays live.
    """
    if "file" not in form:
        raise ApiError(400, "file is required")
    text = {name: value.decode("utf-8", "replace") for name, value in form.items() if name != "file"}
    phone = text.get("sipPhoneNumber")
    if phone is None or not PHONE_PATTERN.fullmatch(phone):
        raise ApiError(400, "sipPhoneNumber is required and must match ^\\+[1-9][0-9]{6,14}$")
    campaign = Campaign(
        campaign_id=new_campaign_id(),
        name=_check_text(text.get("campaignName"), "campaignName", 128),
        agent_id=_check_text(text.get("agentId"), "agentId", 64),
        phone_agent_id=text["agentId"],
        sip_phone_number=phone,
        concurrent_calls=_check_count(text["concurrentCalls"]) if "concurrentCalls" in text else 1,
        variables=_check_variables(text["variables"], "variables") if "variables" in text else {},
        errors=csv_row_errors(form["file"]),
    )
    if "isScheduled" in text and _check_bool(text["isScheduled"]):
        campaign.schedule = {name: text.get(name) for name in _SCHEDULE_FIELDS}
        campaign.schedule["isScheduled"] = True
        instant = schedule_instant(text.get("scheduledDate"), text.get("scheduledTime"), text.get("scheduledTimezone"))
        campaign.schedule_at(instant, now=now, wall_now=wall_now, live_duration=live_duration)
    else:
        campaign.start_now(now=now, live_duration=live_duration)
    return campaign


def validate_patch(body: Any) -> dict[str, Any]:
    """Validate an update body and return the changes it asks for.

    :param body: the decoded JSON body.
    """
    if not isinstance(body, dict):
        raise ApiError(400, "Request body must be a JSON object")
    unknown = sorted(set(body) - PATCH_FIELDS)
    if unknown:
        raise ApiError(400, f"Unknown field '{unknown[0]}'")
    changes: dict[str, Any] = {}
    for name, value in body.items():
        if name == "campaignName":
            changes[name] = _check_text(value, name, 128)
        elif name == "agentId":
            changes[name] = _check_text(value, name, 64)
        elif name == "sipPhoneNumber":
            changes[name] = _check(PHONE_PATTERN, value, name, "a phone number like +14155552671")
        elif name == "concurrentCalls":
            changes[name] = _check_count(value if not isinstance(value, str) else None)
        elif name == "dynamicVariables":
            changes[name] = _check_variables(value if not isinstance(value, str) else None, name)
        else:
            changes[name] = _check_schedule_part(name, value)
    return changes


def apply_patch(
    campaign: Campaign, changes: dict[str, Any], *, now: float, wall_now: datetime, live_duration: float
) -> None:
    """Apply validated changes, all or none.

    Schedule fields are merged into the ones sent before. If the result is scheduled, the campaign
    is re-timed to the new instant (all three fields needed); ``isScheduled: false`` starts a
    campaign that is still waiting at once. Other schedule edits are stored without effect.

    :param campaign: the campaign to change.
    :param changes: the result of :func:`validate_patch`.
    :param now: the simulator clock's current value.
    :param wall_now: the current UTC wall time.
    :param live_duration: seconds a campaign stays live.
    """
    touched = {name: value for name, value in changes.items() if name in _SCHEDULE_FIELDS}
    if touched:
        schedule = {**campaign.schedule, **touched}
        if schedule.get("isScheduled"):
            instant = schedule_instant(
                schedule.get("scheduledDate"), schedule.get("scheduledTime"), schedule.get("scheduledTimezone")
            )
            campaign.schedule_at(instant, now=now, wall_now=wall_now, live_duration=live_duration)
        elif touched.get("isScheduled") is False and campaign.status_at(now) == "scheduled":
            campaign.start_now(now=now, live_duration=live_duration)
        elif touched.get("isScheduled") is False:
            campaign.scheduled, campaign.scheduled_date = False, None
        campaign.schedule = schedule
    campaign.name = changes.get("campaignName", campaign.name)
    campaign.agent_id = changes.get("agentId", campaign.agent_id)
    campaign.sip_phone_number = changes.get("sipPhoneNumber", campaign.sip_phone_number)
    campaign.concurrent_calls = changes.get("concurrentCalls", campaign.concurrent_calls)
    campaign.variables = changes.get("dynamicVariables", campaign.variables)


def timeline(
    *, now: float, wall_now: datetime, live_after: float | None, complete_after: float | None
) -> tuple[float | None, float | None, datetime | None]:
    """Return ``(live_at, complete_at, scheduled_date)`` for offsets in seconds from now.

    :param now: the simulator clock's current value.
    :param wall_now: the current UTC wall time.
    :param live_after: seconds until live, or None to start live.
    :param complete_after: seconds until completed, or None to never complete.
    """
    for name, value in (("live_after", live_after), ("complete_after", complete_after)):
        if value is not None and value < 0:
            raise ValueError(f"{name} must be >= 0")
    if live_after is not None and complete_after is not None and complete_after < live_after:
        raise ValueError("complete_after must not come before live_after")
    live_at = None if live_after is None else now + live_after
    complete_at = None if complete_after is None else now + complete_after
    scheduled_date = None if live_after is None else wall_now + timedelta(seconds=live_after)
    return live_at, complete_at, scheduled_date
