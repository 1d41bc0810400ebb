"""The endpoints of the SigmaMind simulator (``/v1/campaigns``, ``/v1/calls``): routing and answers, no I/O."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from typing import Any

from airflow_provider_sigmamind.simulator.calls import CALL_STATUSES, CallBook, contacts_from_csv
from airflow_provider_sigmamind.simulator.campaigns import (
    STATUSES,
    ApiError,
    Campaign,
    apply_patch,
    campaign_from_form,
    error_body,
    new_campaign_id,
    validate_patch,
)
from airflow_provider_sigmamind.simulator.faults import Fault
from airflow_provider_sigmamind.simulator.protocol import Request, Response, parse_multipart
from airflow_provider_sigmamind.simulator.recording import RecordedRequest


class CampaignApi:
    """The campaigns and the ``/v1/campaigns`` endpoints that serve them.

    :param lock: the lock guarding ``campaigns`` (shared with the simulator's Python API).
    :param clock: the simulator's monotonic clock.
    :param live_duration: seconds a created campaign stays live.
    :param max_page_size: the silent cap on list pages, if any.
    :param list_envelope: the list envelope's fields to send besides ``data`` (default: all).
    :param calls: the campaigns' calls (a created campaign dials its contacts).
    """

    def __init__(
        self,
        *,
        lock: threading.RLock,
        clock: Callable[[], float],
        live_duration: float,
        max_page_size: int | None = None,
        list_envelope: Collection[str] | None = None,
        calls: CallBook | None = None,
    ) -> None:
        self.lock = lock
        self.clock = clock
        self.live_duration = live_duration
        self.paging = Paging(max_page_size, list_envelope)
        self.campaigns: dict[str, Campaign] = {}
        self.calls = calls if calls is not None else CallBook()

    def respond(self, request: Request, record: RecordedRequest) -> tuple[Response, Fault | None]:
        """Return the API's answer, and the script fault to serve in its place, if any.

        :param request: the request.
        :param record: its record (authorization and campaign id already worked out).
        """
        try:
            if not record.authorized:
                raise ApiError(401, "Invalid or missing API key")
            segments = request.segments
            if segments[:3] != ["", "v1", "campaigns"] or len(segments) > 4:
                raise ApiError(404, "No such endpoint")
            if len(segments) == 3:
                return self._collection(request, record), None
            if record.campaign_id is None:
                raise ApiError(404, "No such endpoint")
            return self._item(request, record.campaign_id)
        except ApiError as exc:
            return Response(exc.status, error_body(exc.status, exc.message, record.path)), None

    def _collection(self, request: Request, record: RecordedRequest) -> Response:
        """Answer ``/v1/campaigns``: GET lists, POST creates.

        :param request: the request.
        :param record: its record.
        """
        now, wall_now = self.clock(), datetime.now(UTC)
        if request.method == "GET":
            return Response(200, json.dumps(self._list(record.query, now)).encode())
        if request.method != "POST":
            raise ApiError(405, f"Method {request.method} not allowed")
        try:
            form = parse_multipart(request.body, request.header("content-type") or "")
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
        campaign = campaign_from_form(form, now=now, wall_now=wall_now, live_duration=self.live_duration)
        with self.lock:
            self._check_name_free(campaign.name, None)
            while campaign.campaign_id in self.campaigns:
                campaign.campaign_id = new_campaign_id()
            self.campaigns[campaign.campaign_id] = campaign
            self.calls.add(campaign, now=now, wall_now=wall_now, contacts=contacts_from_csv(form["file"]))
            return Response(201, json.dumps(campaign.payload(now)).encode())

    def _list(self, query: dict[str, str], now: float) -> dict[str, Any]:
        """Return one page of the campaign list, filtered on the status as served.

        :param query: the query parameters.
        :param now: the simulator clock.
        """
        status = query.get("status")
        if status is not None and status not in STATUSES:
            raise ApiError(400, f"status must be one of {', '.join(STATUSES)}")
        page, size = self.paging.page_and_size(query)
        with self.lock:
            items = [campaign.payload(now) for campaign in self.campaigns.values()]
        if status is not None:
            items = [item for item in items if item.get("campaignStatus") == status]
        return self.paging.envelope(items[page * size : (page + 1) * size], len(items), page, size, "totalCount")

    def _item(self, request: Request, campaign_id: str) -> tuple[Response, Fault | None]:
        """Answer ``/v1/campaigns/{campaignId}``: GET (consumes a script entry), PATCH or DELETE.

        :param request: the request.
        :param campaign_id: the decoded id.
        """
        now, wall_now = self.clock(), datetime.now(UTC)
        if request.method not in ("GET", "PATCH", "DELETE"):
            raise ApiError(405, f"Method {request.method} not allowed")
        with self.lock:
            campaign = self.campaigns.get(campaign_id)
            if campaign is None:
                raise ApiError(404, f"Campaign {campaign_id} not found")
            if request.method == "DELETE":
                del self.campaigns[campaign_id]
                self.calls.remove(campaign_id)
                return Response(204), None
            script_entry = None
            if request.method == "PATCH":
                try:
                    changes = validate_patch(json.loads(request.body or b"null"))
                except ValueError:
                    raise ApiError(400, "Request body must be a JSON object") from None
                if "campaignName" in changes:
                    self._check_name_free(changes["campaignName"], campaign_id)
                apply_patch(campaign, changes, now=now, wall_now=wall_now, live_duration=self.live_duration)
            else:
                script_entry = campaign.next_script_entry()
            response = Response(200, json.dumps(campaign.payload(now)).encode())
        return response, script_entry if isinstance(script_entry, Fault) else None

    def _check_name_free(self, name: str, campaign_id: str | None) -> None:
        """Raise a 409 if another campaign already has this name (caller holds the lock).

        :param name: the wanted name.
        :param campaign_id: the campaign being renamed, or None for a new one.
        """
        for other in self.campaigns.values():
            if other.name == name and other.campaign_id != campaign_id:
                raise ApiError(409, f"A campaign named '{name}' already exists")


class Paging:
    """The paging rules every list follows: ``page`` and ``size`` read alike, one envelope shape.

    :param max_page_size: cap every page at this many items, silently.
    :param list_envelope: the envelope fields to send besides ``data`` (``totalCount`` stands for
        either spelling of the total); ``None`` for all.
    """

    def __init__(self, max_page_size: int | None, list_envelope: Collection[str] | None) -> None:
        self.max_page_size = max_page_size
        fields = None if list_envelope is None else set(list_envelope)
        if fields is not None and fields & {"totalCount", "totalCounts"}:
            fields |= {"totalCount", "totalCounts"}
        self.list_envelope = None if fields is None else frozenset(fields)

    def page_and_size(self, query: dict[str, str]) -> tuple[int, int]:
        """The zero-based page and the page size asked for (after the cap), else a 400."""
        page, size = _int_param(query, "page", 0, 0), _int_param(query, "size", 10, 1)
        if self.max_page_size is not None:  # an undocumented cap, applied without a word
            size = min(size, self.max_page_size)
        return page, size

    def envelope(self, data: list[Any], total: int, page: int, size: int, total_name: str) -> dict[str, Any]:
        """One page's answer: ``data`` and the envelope, the total spelt ``total_name``."""
        pages = -(-total // size)
        envelope = {
            "data": data,
            "page": page,
            "size": size,
            total_name: total,
            "totalPages": pages,
            "hasNext": page + 1 < pages,
            "hasPrevious": page > 0,
        }
        if self.list_envelope is not None:
            envelope = {name: value for name, value in envelope.items() if name in self.list_envelope or name == "data"}
        return envelope


class CallApi:
    """The ``/v1/calls`` endpoints: the list (``status``, ``page``, ``size``) and one call.

    :param lock: the lock guarding the campaigns and their calls.
    :param clock: the simulator's monotonic clock.
    :param calls: the campaigns' calls.
    :param paging: the paging rules shared with the campaign list.
    """

    def __init__(self, *, lock: threading.RLock, clock: Callable[[], float], calls: CallBook, paging: Paging) -> None:
        self.lock = lock
        self.clock = clock
        self.calls = calls
        self.paging = paging

    def respond(self, request: Request, record: RecordedRequest) -> Response:
        """Return the API's answer to a ``/v1/calls`` request.

        :param request: the request.
        :param record: its record.
        """
        try:
            if not record.authorized:
                raise ApiError(401, "Invalid or missing API key")
            segments = request.segments
            if len(segments) > 4 or (len(segments) == 4 and not segments[3]):
                raise ApiError(404, "No such endpoint")
            if request.method != "GET":
                raise ApiError(405, f"Method {request.method} not allowed")
            now = self.clock()
            if len(segments) == 3:
                return Response(200, json.dumps(self._list(record.query, now)).encode())
            with self.lock:
                found = self.calls.find(segments[3], now)
                if found is None:
                    raise ApiError(404, f"Call {segments[3]} not found")
                plan, index = found
                call = plan.call(index, now, plan.campaign.payload(now))
            return Response(200, json.dumps(call).encode())
        except ApiError as exc:
            return Response(exc.status, error_body(exc.status, exc.message, record.path))

    def _list(self, query: dict[str, str], now: float) -> dict[str, Any]:
        status = query.get("status")
        if status is not None and status not in CALL_STATUSES:
            raise ApiError(400, f"status must be one of {', '.join(CALL_STATUSES)}")
        page, size = self.paging.page_and_size(query)
        with self.lock:
            data, total = self.calls.page(status, now, page, size)
        return self.paging.envelope(data, total, page, size, "totalCounts")


def _int_param(query: dict[str, str], name: str, default: int, minimum: int) -> int:
    """Return an integer query parameter, else raise a 400.

    :param query: the query parameters.
    :param name: the parameter.
    :param default: the value when absent.
    :param minimum: the smallest value accepted.
    """
    text = query.get(name)
    if text is None:
        return default
    if not (text.isascii() and text.isdigit()) or len(text) > 9 or int(text) < minimum:
        raise ApiError(400, f"{name} must be an integer >= {minimum}")
    return int(text)
