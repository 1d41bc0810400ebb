"""The SigmaMind campaign as a typed value.

Pure: no I/O and no Airflow. The parser tolerates every variant SigmaMind's documentation has been
seen to serve (see ``docs/connection.md`` and the "Drift" list in the API notes): prefixed and
unprefixed ids, ``scheduledDate`` with or without milliseconds or null, ``errors`` as null, a string
or a list, ``phoneNumber`` as an object or the string ``"Object"``, unknown extra fields. It keeps
the payload exactly as sent in :attr:`Campaign.payload`.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import pendulum
from pendulum import DateTime

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


class PayloadError(ValueError):
    """A response body that is not a campaign (raised by the parser, mapped by the hook)."""


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
            try:
                return cls(value.strip().lower())
            except ValueError:
                return cls.UNKNOWN
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
        targets = set(targets)
        if self in targets:
            return True
        return not self.is_terminal


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
    wanted = " or ".join(sorted(t.value for t in targets))
    name = f"campaign {campaign_id!r}" if campaign_id else "the campaign"
    if status is CampaignStatus.UNKNOWN:
        return Verdict("wait", f"{name} has unknown status {raw_status!r}; not counted as {wanted}, still waiting")
    if status in targets:
        return Verdict("success", f"{name} is {status.value}")
    if status in frozenset(failures):
        return Verdict("failure", f"{name} is {status.value}, which is a failure status for this wait")
    if not status.can_reach(targets):
        return Verdict("failure", f"{name} is {status.value} and can never become {wanted} again; stopped waiting")
    return Verdict("wait", f"{name} is {status.value}; waiting for {wanted}")


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
    return frozenset(result)


_ISO_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def _parse_datetime(value: object) -> DateTime | None:
    """An ISO-8601 date-time in UTC; ``None`` when absent or unreadable (the raw value stays in the payload).

    Only ISO-8601 date-times are read: a looser parser would turn ``"now"`` or ``"5"`` into a date.
    """
    if not isinstance(value, str) or not _ISO_INSTANT.match(value):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return pendulum.instance(parsed).in_tz("UTC")


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
        raise PayloadError(f"asked for campaign {expected_id!r} but the API answered with {campaign_id[:80]!r}")
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


def _count(value: object) -> int | None:
    """A non-negative whole number from a list envelope, else ``None`` (absent or unreadable)."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


@dataclass(frozen=True)
class CampaignPage:
    """One page of ``GET /v1/campaigns``.

    :param campaigns: the campaigns on this page.
    :param page: the zero-based page number the API reports, or ``None``.
    :param size: the page size the API reports, or ``None``.
    :param total_count: ``totalCount`` (or its twin spelling ``totalCounts``), or ``None``.
    :param total_pages: ``totalPages``, or ``None``.
    :param has_next: ``hasNext``, or ``None`` when absent.
    """

    campaigns: list[Campaign]
    page: int | None
    size: int | None
    total_count: int | None
    total_pages: int | None
    has_next: bool | None

    def has_more(self, page: int, size: int) -> bool:
        """Whether a page follows page ``page`` (asked with ``size``).

        Trusts ``hasNext``, else ``totalPages``, else ``totalCount``; with none of them, a full page
        means there may be more. An empty page never has a successor (no endless paging).
        """
        if not self.campaigns:
            return False
        if self.has_next is not None:
            return self.has_next
        if self.total_pages is not None:
            return page + 1 < self.total_pages
        if self.total_count is not None:
            return (page + 1) * (self.size or size) < self.total_count
        return len(self.campaigns) >= (self.size or size)


def parse_campaign_page(payload: object) -> CampaignPage:
    """Parse one page of the campaign list, tolerating ``totalCount`` vs ``totalCounts`` and absent counts.

    :param payload: the decoded JSON body, ``{"data": [...], "page": 0, "size": 20, "totalCount": 125,
        "totalPages": 7, "hasNext": true, "hasPrevious": false}``.
    :raises PayloadError: when the body is not an object, ``data`` is not a list, or an item is not
        a campaign.
    """
    if not isinstance(payload, dict):
        raise PayloadError(f"expected a JSON object, got {type(payload).__name__}")
    items = payload.get("data")
    if not isinstance(items, list):
        raise PayloadError("the list has no 'data' array")
    campaigns = []
    for index, item in enumerate(items):
        try:
            campaigns.append(parse_campaign(item))
        except PayloadError as exc:
            raise PayloadError(f"item {index} of the list: {exc}") from None
    total = payload.get("totalCount")
    if _count(total) is None:
        total = payload.get("totalCounts")
    has_next = payload.get("hasNext")
    return CampaignPage(
        campaigns=campaigns,
        page=_count(payload.get("page")),
        size=_count(payload.get("size")) or None,
        total_count=_count(total),
        total_pages=_count(payload.get("totalPages")),
        has_next=has_next if isinstance(has_next, bool) else None,
    )
