"""The SigmaMind campaign as a typed value.

Pure: no I/O and no Airflow. The parser tolerates every variant SigmaMind's documentation has been
seen to serve (see ``docs/connection.md`` and the "Drift" list in the API notes): prefixed and
unprefixed ids, ``scheduledDate`` with or without milliseconds or null, ``errors`` as null, a string
or a list, ``phoneNumber`` as an object or the string ``"Object"``, unknown extra fields. It keeps
the payload exactly as sent in :attr:`Campaign.payload`.
"""

from __future__ import annotations

import enum
import functools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import pendulum
from pendulum import DateTime

from airflow_provider_sigmamind.models.common import ListPage, PayloadError, parse_instant, parse_list
from airflow_provider_sigmamind.text import shorten

__all__ = [
    "DEFAULT_TARGET_STATUSES",
    "TERMINAL_STATUSES",
    "Campaign",
    "CampaignPage",
    "CampaignStatus",
    "PayloadError",
    "Verdict",
    "judge",
    "parse_campaign",
    "parse_campaign_page",
    "parse_statuses",
]


class CampaignStatus(enum.StrEnum):
    """Lifecycle state of a campaign, as in ``campaignStatus``.

    Values are matched case-insensitively after stripping white space (``"LIVE"`` and ``" live "``
    are :attr:`LIVE`); any other value becomes :attr:`UNKNOWN`, which keeps the raw text in
    :attr:`Campaign.raw_status` and never counts as success.
    """

    LIVE = "live"
    SCHEDULED = "scheduled"
    PAUSED = "paused"
    COMPLETED = "completed"
    UNKNOWN = "unknown"

    @classmethod
    def parse(cls, value: object) -> CampaignStatus:
        """Map an API value to a status; anything unrecognised is :attr:`UNKNOWN`."""
        if isinstance(value, str):
            return _STATUS_BY_VALUE.get(value.strip().lower(), cls.UNKNOWN)
        return cls.UNKNOWN

    @property
    def is_terminal(self) -> bool:
        """True when the campaign can never change status again."""
        return self in TERMINAL_STATUSES

    def can_reach(self, targets: Iterable[CampaignStatus]) -> bool:
        """True while this status may still turn into one of ``targets``.

        A completed campaign can reach nothing but ``completed``; every other known status can
        still move on. Unknown statuses are given the benefit of the doubt.
        """
        return self in targets or not self.is_terminal


_STATUS_BY_VALUE: dict[str, CampaignStatus] = {status.value: status for status in CampaignStatus}

#: Statuses a campaign never leaves.
TERMINAL_STATUSES: frozenset[CampaignStatus] = frozenset({CampaignStatus.COMPLETED})
#: What a sensor waits for unless told otherwise.
DEFAULT_TARGET_STATUSES: tuple[CampaignStatus, ...] = (CampaignStatus.LIVE, CampaignStatus.COMPLETED)


@dataclass(frozen=True)
class Verdict:
    """What a status means for someone waiting on a campaign.

    :param outcome: ``"success"`` (a target status), ``"failure"`` (a failure status, or one that
        can never turn into a target) or ``"wait"``.
    :param reason: one sentence for the log or the exception.
    """

    outcome: Literal["success", "failure", "wait"]
    reason: str


def judge(
    status: CampaignStatus,
    *,
    targets: Iterable[CampaignStatus],
    failures: Iterable[CampaignStatus] = (),
    raw_status: str | None = None,
    campaign_id: str = "",
) -> Verdict:
    """Decide whether a wait is over. The single definition of status semantics, used by the
    sensor in every mode and by the trigger.

    Success only on a target status; a failure status, or a status that can never become a
    target (``completed`` while waiting for ``live``), fails at once; an unknown status waits.
    """
    targets = frozenset(targets)
    name = f"campaign {campaign_id!r}" if campaign_id else "the campaign"
    if status is CampaignStatus.UNKNOWN:
        wanted = _wanted(targets)
        return Verdict("wait", f"{name} has unknown status {raw_status!r}; not counted as {wanted}, still waiting")
    if status in targets:
        return Verdict("success", f"{name} is {status}")
    if status in failures:
        return Verdict("failure", f"{name} is {status}, which is a failure status for this wait")
    if not status.can_reach(targets):
        return Verdict("failure", f"{name} is {status} and can never become {_wanted(targets)} again; stopped waiting")
    return Verdict("wait", f"{name} is {status}; waiting for {_wanted(targets)}")


@functools.lru_cache(maxsize=32)
def _wanted(targets: frozenset[CampaignStatus]) -> str:
    """The targets for a message: ``"completed or live"`` (cached: a wait asks at every poll, and
    there are at most 16 sets of statuses)."""
    return " or ".join(sorted(targets))


def parse_statuses(values: Iterable[str | CampaignStatus] | str | None, *, what: str) -> frozenset[CampaignStatus]:
    """Turn user input (a status, or a list of them) into a set of known statuses.

    :param values: one status or an iterable of them; ``None`` is the empty set.
    :param what: the parameter name, used in the error message.
    :raises ValueError: naming the parameter and the offending value, for anything but the four
        documented statuses.
    """
    if values is None:
        return frozenset()
    if isinstance(values, str | CampaignStatus):
        values = [values]
    result = set()
    allowed = ", ".join(s.value for s in CampaignStatus if s is not CampaignStatus.UNKNOWN)
    for value in values:
        status = CampaignStatus.parse(value.value if isinstance(value, CampaignStatus) else value)
        if status is CampaignStatus.UNKNOWN:
            raise ValueError(f"{what}: {value!r} is not a campaign status (expected one of: {allowed})")
        result.add(status)
    parsed = frozenset(result)
    return _STATUS_SETS.setdefault(parsed, parsed)


#: One object per set of statuses (at most 16), shared by every wait that asks for it: a triggerer
#: holding ten thousand waits holds two sets, not twenty thousand for its collector to walk.
_STATUS_SETS: dict[frozenset[CampaignStatus], frozenset[CampaignStatus]] = {}


def _parse_datetime(value: object) -> DateTime | None:
    """An ISO-8601 date-time in UTC as a pendulum ``DateTime`` (see :func:`~.common.parse_instant`)."""
    instant = parse_instant(value)
    if instant is None:
        return None
    # What pendulum.instance() makes of a UTC datetime, built directly: about 0.4 us against its 4,
    # at every poll. Not cached: a triggerer polling more campaigns than a cache holds would miss at
    # every poll, each miss leaving an entry that outlives young collections (see paths._segment).
    return DateTime(
        instant.year,
        instant.month,
        instant.day,
        instant.hour,
        instant.minute,
        instant.second,
        instant.microsecond,
        tzinfo=pendulum.UTC,
        fold=instant.fold,
    )


def _parse_errors(value: object) -> list[str]:
    """``errors`` as a list of strings: null/empty -> [], a string -> [it], objects -> their text."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        out = []
        for item in value:
            if isinstance(item, str):
                out.append(item)
            elif isinstance(item, Mapping):
                text = item.get("message") or item.get("error")
                out.append(str(text) if text is not None else _compact(item))
            else:
                out.append(str(item))
        return out
    return [str(value)]


def _compact(value: Mapping[str, Any]) -> str:
    return json.dumps(value, sort_keys=True, default=str)


@dataclass(frozen=True)
class Campaign:
    """One campaign, as returned by ``GET /v1/campaigns/{campaignId}``.

    :param campaign_id: the id exactly as the API sent it (prefixes are never added or stripped).
    :param status: the parsed status; :attr:`CampaignStatus.UNKNOWN` for anything undocumented.
    :param raw_status: ``campaignStatus`` as sent (``None`` when absent).
    :param name: ``campaignName``.
    :param scheduled_date: the launch instant in UTC, or ``None`` for campaigns started at once.
    :param errors: the CSV row problems found at upload (always a list).
    :param payload: the JSON object exactly as the API sent it.
    """

    campaign_id: str
    status: CampaignStatus
    raw_status: str | None
    name: str | None
    scheduled_date: DateTime | None
    errors: list[str]
    concurrent_calls: int | None
    scheduled: bool | None
    payload: dict[str, Any] = field(repr=False)

    def summary(self) -> str:
        """One line for logs: name, id, status and schedule."""
        when = self.scheduled_date.to_iso8601_string() if self.scheduled_date else "started at creation"
        status = self.status.value if self.status is not CampaignStatus.UNKNOWN else f"unknown ({self.raw_status!r})"
        return f"campaign {self.name or '(unnamed)'!r} [{self.campaign_id}] status={status} scheduled={when}"

    def compact(self) -> dict[str, Any]:
        """A small JSON-safe summary for XCom: id, name, status, launch instant, calls and error count.

        ``campaignStatus`` is the normalised status (``live``), or the raw text for an unknown one.
        """
        return {
            "campaignId": self.campaign_id,
            "campaignName": self.name,
            "campaignStatus": self.status.value if self.status is not CampaignStatus.UNKNOWN else self.raw_status,
            "scheduledDate": self.scheduled_date.to_iso8601_string() if self.scheduled_date else None,
            "concurrentCalls": self.concurrent_calls,
            "errorCount": len(self.errors),
        }


def parse_campaign(payload: object, *, expected_id: str | None = None) -> Campaign:
    """Parse a campaign object, tolerating every documented drift.

    :param payload: the decoded JSON body.
    :param expected_id: the id that was asked for; when the body names a different campaign the
        payload is rejected rather than silently reporting on someone else's campaign.
    :raises PayloadError: when the body is not a JSON object, has no usable ``campaignStatus`` or
        names another campaign.
    """
    if not isinstance(payload, dict):
        raise PayloadError(f"expected a JSON object, got {type(payload).__name__}")
    if "campaignStatus" not in payload or payload["campaignStatus"] is None:
        raise PayloadError("the campaign has no campaignStatus")
    raw_status = payload["campaignStatus"]
    if not isinstance(raw_status, str):
        raise PayloadError(f"campaignStatus is {type(raw_status).__name__}, expected a string")
    campaign_id = payload.get("campaignId")
    if campaign_id is None and expected_id is not None:
        campaign_id = expected_id
    if not isinstance(campaign_id, str) or not campaign_id:
        raise PayloadError("the campaign has no campaignId")
    if expected_id is not None and campaign_id != expected_id:
        raise PayloadError(f"asked for campaign {expected_id!r} but the API answered with {shorten(campaign_id, 84)}")
    concurrent = payload.get("concurrentCalls")
    scheduled = payload.get("scheduled", payload.get("isScheduled"))
    name = payload.get("campaignName")
    return Campaign(
        campaign_id=campaign_id,
        status=CampaignStatus.parse(raw_status),
        raw_status=raw_status,
        name=name if isinstance(name, str) else None,
        scheduled_date=_parse_datetime(payload.get("scheduledDate")),
        errors=_parse_errors(payload.get("errors")),
        concurrent_calls=concurrent if isinstance(concurrent, int) and not isinstance(concurrent, bool) else None,
        scheduled=scheduled if isinstance(scheduled, bool) else None,
        payload=payload,
    )


@dataclass(frozen=True)
class CampaignPage(ListPage):
    """One page of ``GET /v1/campaigns``: the campaigns, and the envelope (:class:`ListPage`; its
    ``total_count`` is ``totalCount``, or its twin spelling ``totalCounts``).

    :param campaigns: the campaigns on this page.
    """

    campaigns: list[Campaign]

    @property
    def items(self) -> list[Campaign]:
        """The campaigns on this page."""
        return self.campaigns


def parse_campaign_page(payload: object) -> CampaignPage:
    """Parse one page of the campaign list, tolerating ``totalCount`` vs ``totalCounts`` and absent counts.

    :param payload: the decoded JSON body, ``{"data": [...], "page": 0, "size": 20, "totalCount": 125,
        "totalPages": 7, "hasNext": true, "hasPrevious": false}``.
    :raises PayloadError: when the body is not an object, ``data`` is not a list, or an item is not
        a campaign.
    """
    campaigns, envelope = parse_list(payload, parse_campaign, total=("totalCount", "totalCounts"))
    return CampaignPage(campaigns=campaigns, **envelope)
