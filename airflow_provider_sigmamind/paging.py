"""Reading a SigmaMind list page by page, written once for every list (campaigns, calls).

A :class:`Listing` is a lazy iterator: a page is requested only when the one before it has been
consumed. Paging follows ``hasNext``, else ``totalPages``, else the total (``totalCount`` or
``totalCounts``), and stops at an empty page. It never loses items to a server's silent page cap: a
page shorter than asked, with nothing in the envelope to say where the list ends, is read past until
an empty page. An item pushed onto the next page while the list is read (a new one arriving in front
of it) is yielded once; a page that repeats only items already listed (a server ignoring ``page``)
ends the listing with a warning; so does a total that the items read do not add up to.

Memory stays bounded however long the list: to recognise repeats it remembers the keys of the last
:data:`DEDUP_WINDOW` items, not of all of them, so an item that moves more than that many places
between two page reads could be listed twice (never lost).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from airflow_provider_sigmamind.exceptions import SigmaMindInvalidInputError, malformed_answer
from airflow_provider_sigmamind.models import (
    Call,
    CallStatus,
    Campaign,
    ListPage,
    PayloadError,
    parse_call_page,
    parse_campaign_page,
    parse_statuses,
)
from airflow_provider_sigmamind.paths import CALLS_PATH, CAMPAIGNS_PATH, validate_campaign_id

__all__ = ["CALLS", "CAMPAIGNS", "DEDUP_WINDOW", "ListEndpoint", "Listing", "of_campaign"]

T = TypeVar("T")
log = logging.getLogger(__name__)

#: How many of the most recent keys a listing remembers to recognise repeated items.
DEDUP_WINDOW = 50_000

#: Where a listing's warnings go: a ``logging.Logger``, or the structlog logger of an Airflow hook.
Logger = Any
#: Sends one GET: ``request("GET", path, params=...)`` returning the decoded body (the hook's ``request``).
Request = Callable[..., Any]


class RecentKeys:
    """The last ``capacity`` keys seen, for membership tests in constant time and bounded memory.

    :param capacity: how many keys to remember.
    """

    __slots__ = ("_order", "_set", "capacity")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._order: deque[str] = deque()
        self._set: set[str] = set()

    def __contains__(self, key: object) -> bool:
        return key in self._set

    def add(self, key: str) -> None:
        """Remember ``key``, forgetting the oldest one when full."""
        if len(self._order) >= self.capacity:
            self._set.discard(self._order.popleft())
        self._order.append(key)
        self._set.add(key)


@dataclass(frozen=True)
class ListEndpoint(Generic[T]):
    """One list endpoint of the API: where it is, how its pages and status filter read.

    :param path: the collection's path.
    :param parse_page: parses one page (raising :class:`PayloadError` if it is not one).
    :param key: an item's id, to recognise repeats.
    :param noun: the item's name in messages (``campaign``).
    :param total_name: the list's own spelling of its total (``totalCount``), for messages.
    :param status: turns the ``status`` argument into the query value, raising ``ValueError``.
    """

    path: str
    parse_page: Callable[[Any], ListPage]
    key: Callable[[T], str]
    noun: str
    total_name: str
    status: Callable[[object], str | None]

    def listing(
        self,
        request: Request | None,
        *,
        status: object = None,
        page_size: int,
        keep: Callable[[T], bool] | None = None,
        logger: Logger | None = None,
    ) -> Listing[T]:
        """A lazy listing of this endpoint; the arguments are checked now, nothing is sent yet.

        :param request: sends one GET and returns the decoded body (retried as any read); ``None``
            when the caller fetches each page itself (:meth:`Listing.query`) and hands it to
            :meth:`Listing.take`, as the async campaign feed does.
        :param status: the status filter; ``None`` for all.
        :param page_size: items per request (the API's ``size``).
        :param keep: yield only the items it accepts (the listing still reads every page).
        :param logger: where warnings go (default: this module's).
        :raises SigmaMindInvalidInputError: for an unknown status or a bad page size.
        """
        try:
            wanted = self.status(status)
        except ValueError as exc:
            raise SigmaMindInvalidInputError(str(exc)) from None
        if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
            raise SigmaMindInvalidInputError(f"page_size must be a whole number of at least 1, got {page_size!r}")
        params = {} if wanted is None else {"status": wanted}
        return Listing(self, request, params, page_size, keep, logger or log)


class Listing(Iterator[T]):
    """A lazy, paged read of one list: iterate it for the items, read its counters for progress.

    Built by :meth:`ListEndpoint.listing`. Each page request goes through the hook's retry loop.
    What to do with each page (skip items already listed, read on or stop, warn when the counts do
    not add up) is decided by :meth:`take`, :meth:`hand_out` and :meth:`finish`, which do no I/O, so
    that an async caller fetching the pages itself follows the same rules.

    :ivar pages: pages read so far.
    :ivar listed: distinct items read so far (kept or not).
    :ivar kept: items yielded so far.
    """

    def __init__(
        self,
        endpoint: ListEndpoint[T],
        request: Request | None,
        params: Mapping[str, Any],
        page_size: int,
        keep: Callable[[T], bool] | None,
        logger: Logger,
    ) -> None:
        self.endpoint = endpoint
        self.page_size = page_size
        self.pages = 0
        self.listed = 0
        self.kept = 0
        self._params = dict(params)
        self._keep = keep
        self._logger = logger
        self._seen = RecentKeys(DEDUP_WINDOW)
        self._distinct = 0  # items read so far, handed out or not yet
        self._total: int | None = None
        self._items: Iterator[T] = iter(()) if request is None else self._read(request)

    def __iter__(self) -> Listing[T]:
        return self

    def __next__(self) -> T:
        return next(self._items)

    def query(self, page: int) -> dict[str, Any]:
        """The query parameters of page ``page``."""
        return {"page": page, "size": self.page_size, **self._params}

    def take(self, body: object, page: int) -> tuple[list[T], bool]:
        """Parse page ``page``'s decoded body: its items not listed before (for :meth:`hand_out`),
        and whether to read the next page.

        :raises SigmaMindResponseError: when the body is not a page of this list.
        """
        endpoint, size = self.endpoint, self.page_size
        try:
            result = endpoint.parse_page(body)
        except PayloadError as exc:
            raise malformed_answer(
                f"SigmaMind's {endpoint.noun} list (page {page}) is not usable: {exc}",
                status_code=200,
                method="GET",
                path=endpoint.path,
            ) from None
        self.pages += 1
        self._total = result.total_count if result.total_count is not None else self._total
        fresh: list[T] = []
        for item in result.items:
            key = endpoint.key(item)
            if key not in self._seen:
                self._seen.add(key)
                fresh.append(item)
        self._distinct += len(fresh)
        if result.items and not fresh:
            noun = endpoint.noun
            self._logger.warning("Page %d of the %s list repeated %ss already listed; stopped there", page, noun, noun)
            return fresh, False
        # A page shorter than asked, with nothing to say whether more follow, may be a server's own
        # page cap rather than the end: read on until an empty page, never lose the rest.
        silent = not result.says_where_it_ends and bool(result.items)
        return fresh, result.has_more(page, size, self._distinct) or silent

    def hand_out(self, fresh: list[T]) -> Iterator[T]:
        """The items of :meth:`take` that ``keep`` accepts, counted as they are handed out."""
        for item in fresh:
            self.listed += 1
            if self._keep is None or self._keep(item):
                self.kept += 1
                yield item

    def finish(self) -> None:
        """After the last page: warn when the items listed are not the total SigmaMind reported."""
        if self._total is not None and self._distinct != self._total:
            self._logger.warning(
                "Listed %d %ss where SigmaMind reported %d in all (%s): the list changed while it "
                "was read, or its pages do not add up",
                self._distinct,
                self.endpoint.noun,
                self._total,
                self.endpoint.total_name,
            )

    def _read(self, request: Request) -> Iterator[T]:
        page = 0
        while True:
            fresh, more = self.take(request("GET", self.endpoint.path, params=self.query(page)), page)
            yield from self.hand_out(fresh)
            if not more:
                break
            page += 1
        self.finish()


def _campaign_status(status: object) -> str | None:
    """The campaign list's ``status`` query value: one of the four documented statuses, or ``None``."""
    if status is not None and not isinstance(status, str):
        raise ValueError(f"status must be one status or None, got {type(status).__name__}")
    (wanted,) = parse_statuses(status, what="status") or (None,)
    return None if wanted is None else wanted.value


def _call_status(status: object) -> str | None:
    """The call list's ``status`` query value: a status of either generation of the enum, or ``None``."""
    if status is None:
        return None
    if not isinstance(status, str):
        raise ValueError(f"status must be one call status or None, got {type(status).__name__}")
    parsed = CallStatus.parse(status)
    if parsed is CallStatus.UNKNOWN:
        allowed = ", ".join(s.value for s in CallStatus if s is not CallStatus.UNKNOWN)
        raise ValueError(f"status: {status!r} is not a call status (expected one of: {allowed})")
    return parsed.value


def of_campaign(campaign_id: str) -> Callable[[Call], bool]:
    """What keeps the calls of one campaign: those whose embedded ``campaign.campaignId`` is ``campaign_id``.

    The call list has no campaign filter, so a campaign's calls are found by reading every call of
    the account (a listing's ``listed``) and keeping these (its ``kept``).

    :param campaign_id: the campaign's id, checked at once as one path segment would be.
    :raises SigmaMindInvalidInputError: for an id that is not one.
    """
    validate_campaign_id(campaign_id)
    return lambda call: call.campaign_id == campaign_id


def _campaign_key(campaign: Campaign) -> str:
    return campaign.campaign_id


def _call_key(call: Call) -> str:
    return call.call_id


#: ``GET /v1/campaigns?status=&page=&size=``.
CAMPAIGNS: ListEndpoint[Campaign] = ListEndpoint(
    CAMPAIGNS_PATH, parse_campaign_page, _campaign_key, "campaign", "totalCount", _campaign_status
)
#: ``GET /v1/calls?status=&page=&size=`` (no campaign filter exists).
CALLS: ListEndpoint[Call] = ListEndpoint(CALLS_PATH, parse_call_page, _call_key, "call", "totalCounts", _call_status)
