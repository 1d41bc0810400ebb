"""What the SigmaMind simulator remembers about each request (never the API key)."""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote

from airflow_provider_sigmamind.simulator.protocol import Request

_BODY_IN_JSON = 64 * 1024


@dataclass(frozen=True)
class RecordedRequest:
    """One request the simulator received (admin ``/_sim/`` requests are not recorded).

    :param method: the method.
    :param raw_path: the request target exactly as on the request line (undecoded, query included).
    :param path: the percent-decoded path, without the query.
    :param query: query parameters (the last value of a repeated name).
    :param campaign_id: the decoded ``{campaignId}`` of ``/v1/campaigns/{campaignId}``, else None.
    :param authorized: whether the X-API-Key header matched.
    :param api_key_sent: whether an X-API-Key header was sent at all.
    :param status: the response status; None while pending or if the connection was dropped.
    :param started_at: the simulator clock when the request was read.
    :param wall_at: the wall clock (``time.time()``) then: what Airflow schedules by (a reschedule
        date, a deferral's start), where the simulator's clock is monotonic; the two run at
        different rates on some machines (0.5% apart on CI's).
    :param fault: the kind of fault served, or None.
    :param campaign_status: the ``campaignStatus`` served to a campaign GET, or None.
    :param headers: request headers, names lower-cased, X-API-Key removed.
    :param body: the request body.
    """

    method: str
    raw_path: str
    path: str
    query: dict[str, str]
    campaign_id: str | None
    authorized: bool
    api_key_sent: bool
    status: int | None
    started_at: float
    fault: str | None
    campaign_status: str | None = None
    wall_at: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def to_dict(self) -> dict[str, Any]:
        """Return the record as JSON-ready data (body as text, cut at 64 KiB)."""
        data = {name: getattr(self, name) for name in self.__dataclass_fields__ if name != "body"}
        data["body"] = self.body[:_BODY_IN_JSON].decode("utf-8", "replace")
        return data


class RecordEntry:
    """A recorded request whose outcome (status, fault) is filled in while it is answered.

    :param request: the request as received.
    """

    __slots__ = ("campaign_status", "fault", "request", "status")

    def __init__(self, request: RecordedRequest) -> None:
        self.request = request
        self.status: int | None = None
        self.fault: str | None = None
        self.campaign_status: str | None = None

    def freeze(self) -> RecordedRequest:
        """Return the record with its current outcome."""
        outcome = {"status": self.status, "fault": self.fault, "campaign_status": self.campaign_status}
        return RecordedRequest(**{**self.request.__dict__, **outcome})


def campaign_id_of(segments: list[str]) -> str | None:
    """Return the campaign id of a ``/v1/campaigns/{campaignId}`` path, else None.

    :param segments: the request's decoded path segments (``Request.segments``).
    """
    if len(segments) == 4 and segments[:3] == ["", "v1", "campaigns"] and segments[3]:
        return segments[3]
    return None


def record_request(request: Request, api_key: bytes, clock: Callable[[], float]) -> RecordEntry:
    """Build the record of an API request, checking its key in constant time and dropping it.

    :param request: the request.
    :param api_key: the expected key, encoded.
    :param clock: the simulator clock.
    """
    raw_path, _, query_string = request.target.partition("?")
    headers: dict[str, str] = {}
    sent_key: str | None = None
    for name, value in request.headers:
        name = name.lower()
        if name == "x-api-key":
            sent_key = value
        else:
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return RecordEntry(
        RecordedRequest(
            method=request.method,
            raw_path=request.target,
            path=unquote(raw_path),
            query=dict(parse_qsl(query_string, keep_blank_values=True)),
            campaign_id=campaign_id_of(request.segments),
            authorized=sent_key is not None and hmac.compare_digest(sent_key.encode("latin-1"), api_key),
            api_key_sent=sent_key is not None,
            status=None,
            started_at=clock(),
            wall_at=time.time(),
            fault=None,
            headers=headers,
            body=request.body,
        )
    )
