"""A campaign's outbound fields: one table, and the typed payloads of a create and an update.

:data:`FIELDS` is the one place that says which fields the provider sends, by which snake_case name
users pass them (hook and operator arguments alike), by which camelCase name each request sends
them, and how each is checked. The names drift between requests, as SigmaMind's do: a create's
``variables`` (a JSON object sent as a JSON string, since a multipart form holds text) is an
update's ``dynamicVariables``, and a create takes no ``scheduled`` argument but sends
``isScheduled=true`` whenever a scheduling field is given. The lifecycle guide
(``docs/lifecycle.md``) shows the table; a test holds that page, the hook's and the operators'
signatures and the operators' template fields to it.

To add a field: a row here, an attribute on the payload(s) that send it, and a keyword parameter
of the hook method and the operator of the same name; the tests say what is missing.

:class:`NewCampaign` and :class:`CampaignChanges` hold the values of one create or one update;
each reports every problem it has (:meth:`~NewCampaign.problems`, a list of strings, empty when
there is none) and renders itself for its request (:meth:`NewCampaign.form`,
:meth:`CampaignChanges.json_body`).

Pure: no I/O and no Airflow.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal, Self

from airflow_provider_sigmamind.schedule import (
    SCHEDULE_FIELDS,
    date_problem,
    missing_part_problem,
    time_problem,
    timezone_problem,
    when_problem,
)
from airflow_provider_sigmamind.text import shorten

__all__ = [
    "E164_PATTERN",
    "FIELDS",
    "MAX_AGENT_ID_LENGTH",
    "MAX_CAMPAIGN_NAME_LENGTH",
    "CampaignChanges",
    "CampaignField",
    "FieldKind",
    "NewCampaign",
    "campaign_field_problems",
    "update_field_problems",
]

#: SigmaMind's documented pattern for ``sipPhoneNumber``; contact numbers must match it too.
E164_PATTERN = re.compile(r"\+[1-9][0-9]{6,14}")
MAX_CAMPAIGN_NAME_LENGTH = 128
MAX_AGENT_ID_LENGTH = 64

#: What a field holds, which decides how it is rendered and how a template's text becomes it:
#: ``"text"``; ``"count"``, a whole number; ``"flag"``, a bool; ``"object"``, a JSON object.
FieldKind = Literal["text", "count", "flag", "object"]


@dataclass(frozen=True)
class CampaignField:
    """One outbound field of a campaign.

    :param name: the snake_case name users pass it by (the hook's and the operators' argument).
    :param kind: ``"text"``, ``"count"``, ``"flag"`` or ``"object"``.
    :param check: ``check(value, name)``: why ``value`` cannot be sent, or ``None``.
    :param create: its name in a create's multipart form; ``None`` when a create does not send it.
    :param update: its key in an update's JSON body; ``None`` when an update does not send it.
    """

    name: str
    kind: FieldKind
    check: Callable[[object, str], str | None] = dataclasses.field(repr=False)
    create: str | None = None
    update: str | None = None


def _text_check(longest: int) -> Callable[[object, str], str | None]:
    def check(value: object, name: str) -> str | None:
        if not isinstance(value, str):
            return f"{name} must be text of 1 to {longest} characters, got {type(value).__name__}"
        if not value.strip():
            return f"{name} is empty; it must be 1 to {longest} characters"
        if len(value) > longest:
            return f"{name} is {len(value)} characters long; the limit is {longest}"
        return None

    return check


_name_check = _text_check(MAX_CAMPAIGN_NAME_LENGTH)
_agent_check = _text_check(MAX_AGENT_ID_LENGTH)


def _phone_check(value: object, name: str) -> str | None:
    if not isinstance(value, str) or not E164_PATTERN.fullmatch(value):
        return f"{name} {shorten(value)} is not an E.164 number (^\\+[1-9][0-9]{{6,14}}$, e.g. +14155552671)"
    return None


def _count_check(value: object, name: str) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return f"{name} must be a whole number of at least 1, got {shorten(value)}"
    return None


def _flag_check(value: object, name: str) -> str | None:
    return None if isinstance(value, bool) else f"{name} must be True or False, got {shorten(value)}"


def _object_check(value: object, name: str) -> str | None:
    if not isinstance(value, Mapping) or not all(isinstance(key, str) for key in value):
        return f"{name} must be a mapping of variable names to values (a JSON object), got {type(value).__name__}"
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        return f"{name} cannot be sent as JSON: {exc}"
    return None


#: Every outbound field, in the order the API documents them; a create's form follows this order.
FIELDS: tuple[CampaignField, ...] = (
    CampaignField("campaign_name", "text", _name_check, create="campaignName", update="campaignName"),
    CampaignField("sip_phone_number", "text", _phone_check, create="sipPhoneNumber", update="sipPhoneNumber"),
    CampaignField("agent_id", "text", _agent_check, create="agentId", update="agentId"),
    CampaignField("concurrent_calls", "count", _count_check, create="concurrentCalls", update="concurrentCalls"),
    CampaignField("scheduled", "flag", _flag_check, create="isScheduled", update="isScheduled"),
    CampaignField("scheduled_date", "text", date_problem, create="scheduledDate", update="scheduledDate"),
    CampaignField("scheduled_time", "text", time_problem, create="scheduledTime", update="scheduledTime"),
    CampaignField(
        "scheduled_timezone", "text", timezone_problem, create="scheduledTimezone", update="scheduledTimezone"
    ),
    CampaignField("variables", "object", _object_check, create="variables"),
    CampaignField("dynamic_variables", "object", _object_check, update="dynamicVariables"),
)
_BY_NAME = {field.name: field for field in FIELDS}


class CampaignPayload:
    """What a create and an update share: the fields given, each checked by its row of :data:`FIELDS`."""

    #: A create needs a schedule whole; an update may change one part of it.
    whole_schedule: ClassVar[bool] = False

    @classmethod
    def arguments(cls) -> tuple[CampaignField, ...]:
        """The fields a caller passes for this payload, as rows of :data:`FIELDS`, in that order."""
        names = {field.name for field in dataclasses.fields(cls)}  # type: ignore[arg-type]
        return tuple(field for field in FIELDS if field.name in names)

    @classmethod
    def required(cls) -> frozenset[str]:
        """The names of the fields this payload cannot do without (a create's name, line and agent)."""
        fields = dataclasses.fields(cls)  # type: ignore[arg-type]
        return frozenset(field.name for field in fields if field.default is dataclasses.MISSING)

    @classmethod
    def from_arguments(cls, arguments: Mapping[str, Any]) -> Self:
        """The payload of the fields found in ``arguments`` (e.g. a method's ``locals()``); the rest is ignored.

        :param arguments: values by argument name.
        """
        return cls(**{field.name: arguments[field.name] for field in cls.arguments() if field.name in arguments})

    def given(self) -> dict[str, Any]:
        """The fields given, by argument name: those that are not ``None``, and every required one."""
        required = self.required()
        return {
            field.name: value
            for field in self.arguments()
            if (value := getattr(self, field.name)) is not None or field.name in required
        }

    def problems(self, *, now: datetime | None = None) -> list[str]:
        """Every problem with the fields given, in the order of :data:`FIELDS`; an empty list when there is none.

        Then the schedule as a whole: a create's needs all three parts, and when all three are given
        the local time must exist exactly once in its zone and not be in the past.

        :param now: the current instant (default: the clock).
        """
        problems = [problem for name, value in self.given().items() if (problem := _BY_NAME[name].check(value, name))]
        schedule = tuple(getattr(self, name) for name in SCHEDULE_FIELDS)
        whole = [
            missing_part_problem(*schedule) if self.whole_schedule else None,
            when_problem(*schedule, now=now or datetime.now(UTC)),
        ]
        return problems + [problem for problem in whole if problem]


@dataclass(frozen=True, kw_only=True)
class NewCampaign(CampaignPayload):
    """The fields of a campaign to create (``POST /v1/campaigns``), without its contact list.

    The attributes are the arguments of the same names of
    :meth:`~airflow_provider_sigmamind.hooks.sigmamind.SigmaMindHook.create_campaign`, documented
    there; ``campaign_name``, ``sip_phone_number`` and ``agent_id`` are required. Any of the three
    scheduling fields schedules the campaign (:attr:`scheduled`); then all three are needed.
    """

    campaign_name: str
    sip_phone_number: str
    agent_id: str
    concurrent_calls: int | None = None
    scheduled_date: str | None = None
    scheduled_time: str | None = None
    scheduled_timezone: str | None = None
    variables: Mapping[str, Any] | None = None

    whole_schedule: ClassVar[bool] = True

    @property
    def scheduled(self) -> bool | None:
        """``True`` when a scheduling field is given (the form's ``isScheduled``), else ``None``."""
        return True if any(getattr(self, name) is not None for name in SCHEDULE_FIELDS) else None

    def form(self) -> dict[str, str]:
        """The create's multipart form fields (all but the ``file``), as text.

        Numbers are written in decimal, ``isScheduled`` as ``true``, ``variables`` as a JSON string.

        :raises ValueError: when ``variables`` cannot be written as JSON.
        """
        form: dict[str, str] = {}
        for field in FIELDS:
            if field.create is None or (value := getattr(self, field.name)) is None:
                continue
            if field.kind == "flag":
                form[field.create] = "true" if value else "false"
            elif field.kind == "object":
                try:
                    form[field.create] = json.dumps(value, allow_nan=False)
                except (TypeError, ValueError) as exc:
                    raise ValueError(f"{field.name} cannot be sent as JSON: {exc}") from None
            else:
                form[field.create] = str(value)
        return form


@dataclass(frozen=True, kw_only=True)
class CampaignChanges(CampaignPayload):
    """The fields of a partial update (``PATCH /v1/campaigns/{id}``): ``None`` leaves a field as it is.

    The attributes are the arguments of the same names of
    :meth:`~airflow_provider_sigmamind.hooks.sigmamind.SigmaMindHook.update_campaign`, documented
    there. Scheduling fields are sent as given (the API merges them with the campaign's); to
    schedule a campaign that was not, pass ``scheduled=True`` too.
    """

    campaign_name: str | None = None
    sip_phone_number: str | None = None
    agent_id: str | None = None
    concurrent_calls: int | None = None
    scheduled: bool | None = None
    scheduled_date: str | None = None
    scheduled_time: str | None = None
    scheduled_timezone: str | None = None
    dynamic_variables: Mapping[str, Any] | None = None

    def json_body(self) -> dict[str, Any]:
        """The update's JSON body: the API name and value of each field given, nothing else."""
        return {key: value for name, value in self.given().items() if (key := _BY_NAME[name].update) is not None}


def campaign_field_problems(*, now: datetime | None = None, **fields: Any) -> list[str]:
    """Every problem with a new campaign's fields: ``NewCampaign(**fields).problems(now=now)``.

    :param fields: the arguments of :class:`NewCampaign`.
    :param now: the current instant (default: the clock).
    """
    return NewCampaign(**fields).problems(now=now)


def update_field_problems(changes: Mapping[str, Any], *, now: datetime | None = None) -> list[str]:
    """Every problem with the fields of a partial update, keyed by argument name; an unknown name is one.

    ``CampaignChanges(**changes).problems(now=now)``, plus a problem for each name that is not a
    field an update sends. A value of ``None`` means "not given", as everywhere else.

    :param changes: e.g. ``{"concurrent_calls": 3}``.
    :param now: the current instant (default: the clock).
    """
    names = {field.name for field in CampaignChanges.arguments()}
    unknown = [f"{name} is not a field that can be updated" for name in changes if name not in names]
    known = {name: value for name, value in changes.items() if name in names}
    return CampaignChanges(**known).problems(now=now) + unknown
