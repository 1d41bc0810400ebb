"""A SigmaMind call (one contact dialled by a campaign's agent) as a typed value.

Pure: no I/O and no Airflow. The call object drifted between generations of SigmaMind's reference,
and the parser takes every variant seen (see the "Calls" section of the API notes):

* ``status`` from either enum: ``scheduled, in-progress, completed, failed`` (older) or ``scheduled,
  in-progress, ended, not-connected, error`` (newer); anything else is :attr:`CallStatus.UNKNOWN`
  with the text kept in :attr:`Call.raw_status`.
* ``terminationReason`` from the documented set (``customer_ended_call``, ``agent_ended_call``,
  ``inactivity``, ``busy``, ``no-answer``, ``failed``, ``voicemail``) or outside it, as the API's own
  examples are (``inactive``, ``user_ended_call``): :attr:`TerminationReason.UNKNOWN`, text kept.
* ``phoneNumber`` as a string, a bare number or an object; ``variables`` (older) or
  ``dynamicVariables`` (newer); times that are null before the call happens; ``duration`` absent.

Instants are stdlib ``datetime`` objects in UTC (a million calls parse in a second, where pendulum
would take forty). The payload is kept exactly as sent in :attr:`Call.payload`.
"""

from __future__ import annotations

import enum
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from airflow_provider_sigmamind.models.common import ListPage, PayloadError, parse_instant, parse_list
from airflow_provider_sigmamind.text import shorten

__all__ = [
    "CALL_COLUMNS",
    "Call",
    "CallPage",
    "CallStatus",
    "TerminationReason",
    "parse_call",
    "parse_call_page",
]


_E = TypeVar("_E", bound=enum.StrEnum)


def _key(value: str) -> str:
    """A lenient lookup key: case, surrounding space and ``-``/``_``/space separators do not matter."""
    return value.strip().lower().replace("-", "_").replace(" ", "_")


def _lenient_table(members: type[_E]) -> dict[str, _E]:
    """Each member but ``UNKNOWN`` by its exact value and by its lenient key (:func:`_key`)."""
    known = [member for member in members if member.name != "UNKNOWN"]
    return {**{_key(m.value): m for m in known}, **{m.value: m for m in known}}


def _lenient_lookup(table: Mapping[str, _E], value: object, unknown: _E) -> _E:
    """The member ``value`` names, exactly (the common case, looked up first) or leniently; else ``unknown``."""
    if not isinstance(value, str):
        return unknown
    exact = table.get(value)
    return exact if exact is not None else table.get(_key(value), unknown)


class CallStatus(enum.StrEnum):
    """A call's ``status``, from either generation of the API's enum.

    Matched leniently (``"In_Progress"`` is :attr:`IN_PROGRESS`); anything else is :attr:`UNKNOWN`,
    its text kept in :attr:`Call.raw_status`. The two generations are kept apart, not merged: an
    older ``completed`` is not assumed to mean a newer ``ended``.
    """

    SCHEDULED = "scheduled"
    IN_PROGRESS = "in-progress"
    COMPLETED = "completed"
    FAILED = "failed"
    ENDED = "ended"
    NOT_CONNECTED = "not-connected"
    ERROR = "error"
    UNKNOWN = "unknown"

    @classmethod
    def parse(cls, value: object) -> CallStatus:
        """Map an API value to a status; anything unrecognised is :attr:`UNKNOWN`."""
        return _lenient_lookup(_CALL_STATUS_BY_KEY, value, cls.UNKNOWN)

    @property
    def is_final(self) -> bool:
        """True once the call is over (it will not change status again)."""
        return self not in (CallStatus.SCHEDULED, CallStatus.IN_PROGRESS, CallStatus.UNKNOWN)


_CALL_STATUS_BY_KEY = _lenient_table(CallStatus)


class TerminationReason(enum.StrEnum):
    """Why a call ended, as in ``terminationReason``; anything undocumented is :attr:`UNKNOWN`.

    Matched leniently (``"no_answer"`` is :attr:`NO_ANSWER`); the text of an unknown reason is kept
    in :attr:`Call.raw_termination_reason`.
    """

    CUSTOMER_ENDED_CALL = "customer_ended_call"
    AGENT_ENDED_CALL = "agent_ended_call"
    INACTIVITY = "inactivity"
    BUSY = "busy"
    NO_ANSWER = "no-answer"
    FAILED = "failed"
    VOICEMAIL = "voicemail"
    UNKNOWN = "unknown"

    @classmethod
    def parse(cls, value: object) -> TerminationReason:
        """Map an API value to a reason; anything unrecognised is :attr:`UNKNOWN`."""
        return _lenient_lookup(_REASON_BY_KEY, value, cls.UNKNOWN)


_REASON_BY_KEY = _lenient_table(TerminationReason)

#: The columns of an exported call, in order, with their type and meaning (``docs/results.md``).
CALL_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("call_id", "string", "callId, exactly as SigmaMind sent it"),
    ("campaign_id", "string", "campaign.campaignId of the embedded campaign"),
    ("campaign_name", "string", "campaign.campaignName"),
    ("call_type", "string", "callType: inbound, outbound or web"),
    ("status", "string", "status, normalised (in-progress, ended, ...); an undocumented one as sent"),
    ("termination_reason", "string", "terminationReason, normalised; an undocumented one as sent"),
    ("phone_number", "string", "phoneNumber when the API sends it as a string or a bare number, as text"),
    ("start_time", "timestamp", "startTime, UTC"),
    ("end_time", "timestamp", "endTime, UTC"),
    ("created_at", "timestamp", "createdAt, UTC"),
    ("updated_at", "timestamp", "updatedAt, UTC"),
    ("duration_seconds", "double", "duration, seconds"),
    ("recording_url", "string", "recordingUrl"),
    ("agent_id", "string", "agent.agentId"),
    ("variables", "json", "dynamicVariables (newer) or variables (older), a JSON object"),
    ("transcript", "string", "transcript as text; a list is written as JSON text"),
)


def _text(value: object) -> str | None:
    """A string as is; ``None`` and anything that is not a string are ``None``."""
    return value if isinstance(value, str) else None


def _phone(value: object) -> str | None:
    """A phone number sent as a string or a bare number, as text (a number gains no ``+``).

    The object form (the line that dialled) and the placeholder ``"Object"`` of old examples are
    not the number called: ``None``.
    """
    if isinstance(value, str):
        return value if value and value != "Object" else None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return None


def _duration(value: object) -> float | int | None:
    """Seconds as a non-negative finite number (a numeric string is read too), else ``None``."""
    if isinstance(value, str):
        try:
            value = float(value) if value.strip() else None
        except ValueError:
            return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value) or value < 0:
        return None
    return value


def _variables(payload: Mapping[str, Any]) -> dict[str, Any]:
    """``dynamicVariables`` (newer) or ``variables`` (older): the first that is an object, else ``{}``."""
    for name in ("dynamicVariables", "variables"):
        value = payload.get(name)
        if isinstance(value, dict):
            return value
    return {}


def _iso(instant: datetime | None) -> str | None:
    return None if instant is None else instant.isoformat(timespec="milliseconds")


@dataclass(frozen=True, slots=True)
class Call:
    """One call, as in ``GET /v1/calls/{callId}`` and the items of ``GET /v1/calls``.

    :param call_id: ``callId`` exactly as sent (``call-…``, ``call_…``; never altered).
    :param status: the parsed status; :attr:`CallStatus.UNKNOWN` for anything undocumented.
    :param raw_status: ``status`` as sent, as text (``None`` when absent).
    :param termination_reason: the parsed reason; ``None`` when the call has none (yet).
    :param raw_termination_reason: ``terminationReason`` as sent, as text.
    :param campaign_id: the embedded campaign's ``campaignId`` (``None`` for calls outside campaigns).
    :param campaign_name: the embedded campaign's ``campaignName``.
    :param call_type: ``callType``.
    :param phone_number: ``phoneNumber`` as text when sent as a string or a bare number.
    :param start_time: ``startTime`` in UTC, ``None`` before the call starts.
    :param end_time: ``endTime`` in UTC, ``None`` before it ends.
    :param created_at: ``createdAt`` in UTC.
    :param updated_at: ``updatedAt`` in UTC.
    :param duration: ``duration`` in seconds, ``None`` when absent or unreadable.
    :param variables: ``dynamicVariables`` or ``variables`` (always a dict).
    :param recording_url: ``recordingUrl`` (newer docs only).
    :param agent_id: ``agent.agentId``.
    :param payload: the JSON object exactly as the API sent it.
    """

    call_id: str
    status: CallStatus
    raw_status: str | None
    termination_reason: TerminationReason | None
    raw_termination_reason: str | None
    campaign_id: str | None
    campaign_name: str | None
    call_type: str | None
    phone_number: str | None
    start_time: datetime | None
    end_time: datetime | None
    created_at: datetime | None
    updated_at: datetime | None
    duration: float | int | None
    variables: dict[str, Any]
    recording_url: str | None
    agent_id: str | None
    payload: dict[str, Any] = field(repr=False)

    @property
    def status_text(self) -> str | None:
        """The status as exported: the normalised value, the raw text of an unknown one, or ``None``."""
        if self.status is CallStatus.UNKNOWN:
            return self.raw_status
        return self.status.value

    @property
    def reason_text(self) -> str | None:
        """The termination reason as exported: the normalised value, the raw text of an unknown one."""
        if self.termination_reason is None or self.termination_reason is TerminationReason.UNKNOWN:
            return self.raw_termination_reason
        return self.termination_reason.value

    def summary(self) -> str:
        """One line for logs: id, campaign, status, reason and duration."""
        duration = "-" if self.duration is None else f"{self.duration}s"
        return (
            f"call [{self.call_id}] campaign={self.campaign_id} status={self.status_text} "
            f"reason={self.reason_text} duration={duration}"
        )

    def record(self) -> dict[str, Any]:
        """The call as one export row, keyed by :data:`CALL_COLUMNS`: JSON-safe values, times as ISO-8601 text."""
        transcript = self.payload.get("transcript")
        if transcript is not None and not isinstance(transcript, str):
            transcript = json.dumps(transcript, ensure_ascii=False, default=str)
        return {
            "call_id": self.call_id,
            "campaign_id": self.campaign_id,
            "campaign_name": self.campaign_name,
            "call_type": self.call_type,
            "status": self.status_text,
            "termination_reason": self.reason_text,
            "phone_number": self.phone_number,
            "start_time": _iso(self.start_time),
            "end_time": _iso(self.end_time),
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
            "duration_seconds": self.duration,
            "recording_url": self.recording_url,
            "agent_id": self.agent_id,
            "variables": self.variables,
            "transcript": transcript,
        }


def parse_call(payload: object, *, expected_id: str | None = None) -> Call:
    """Parse a call object, tolerating every documented drift; never fails on a status or reason.

    :param payload: the decoded JSON body.
    :param expected_id: the id that was asked for; a body naming another call is rejected.
    :raises PayloadError: when the body is not a JSON object, has no ``callId`` or names another call.
    """
    if not isinstance(payload, dict):
        raise PayloadError(f"expected a JSON object, got {type(payload).__name__}")
    call_id = payload.get("callId")
    if call_id is None and expected_id is not None:
        call_id = expected_id
    if not isinstance(call_id, str) or not call_id:
        raise PayloadError("the call has no callId")
    if expected_id is not None and call_id != expected_id:
        raise PayloadError(f"asked for call {expected_id!r} but the API answered with {shorten(call_id, 84)}")
    raw_status = payload.get("status")
    raw_reason = payload.get("terminationReason")
    campaign = payload.get("campaign")
    campaign = campaign if isinstance(campaign, dict) else {}
    agent = payload.get("agent")
    return Call(
        call_id=call_id,
        status=CallStatus.parse(raw_status),
        raw_status=None if raw_status is None else str(raw_status),
        termination_reason=None if raw_reason in (None, "") else TerminationReason.parse(raw_reason),
        raw_termination_reason=None if raw_reason in (None, "") else str(raw_reason),
        campaign_id=_text(campaign.get("campaignId")),
        campaign_name=_text(campaign.get("campaignName")),
        call_type=_text(payload.get("callType")),
        phone_number=_phone(payload.get("phoneNumber")),
        start_time=parse_instant(payload.get("startTime")),
        end_time=parse_instant(payload.get("endTime")),
        created_at=parse_instant(payload.get("createdAt")),
        updated_at=parse_instant(payload.get("updatedAt")),
        duration=_duration(payload.get("duration")),
        variables=_variables(payload),
        recording_url=_text(payload.get("recordingUrl")),
        agent_id=_text(agent.get("agentId")) if isinstance(agent, dict) else None,
        payload=payload,
    )


@dataclass(frozen=True)
class CallPage(ListPage):
    """One page of ``GET /v1/calls``: the calls, and the envelope (:class:`ListPage`; its
    ``total_count`` is ``totalCounts``, plural, or its twin spelling ``totalCount``).

    :param calls: the calls on this page.
    """

    calls: list[Call]

    @property
    def items(self) -> list[Call]:
        """The calls on this page."""
        return self.calls


def parse_call_page(payload: object) -> CallPage:
    """Parse one page of the call list (``totalCounts``, plural, or ``totalCount``; absent counts).

    :param payload: the decoded JSON body, ``{"data": [...], "page": 0, "size": 10, "totalCounts": 125,
        "totalPages": 13, "hasNext": true, "hasPrevious": false}``.
    :raises PayloadError: when the body is not an object, ``data`` is not a list, or an item has no ``callId``.
    """
    calls, envelope = parse_list(payload, parse_call, total=("totalCounts", "totalCount"))
    return CallPage(calls=calls, **envelope)
