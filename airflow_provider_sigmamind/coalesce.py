"""Coalesced polls: waits on the same campaign, in one event loop, share one request per interval.

Fifty DAG runs gated on one campaign make fifty triggers in a triggerer; through
:meth:`SigmaMindHook.aget_campaign` with ``max_age`` they cost one request per ``max_age`` seconds:

- an answer younger than ``max_age`` is handed out again (a poll sees the campaign at most
  ``max_age`` seconds old, as it would polling on its own at that interval);
- a poll that finds another one's request in flight waits for that request (single flight), as
  long as its own deadline allows;
- an answer is asked for again ahead of time: the first poll that finds it older than ``max_age``
  minus the time its request took asks anew, and the polls that come meanwhile are answered from
  the answer it replaces (still younger than ``max_age``). A slow request (a batch round reading
  many pages) then holds up one wait, not every wait that comes while it is read; without this,
  those waits would all end with it and poll together from then on.

Each waiter judges the campaign against its own targets, failures and deadline. Only answers are
kept, never errors: a failed request is shared with the polls that were waiting for it, each given
its own copy (:meth:`SigmaMindError.add_detail` changes an error in place), and the next poll asks
again. Polls are shared by the rate budget of the key and base URL, i.e. across connections that
name the same account. One table per event loop, swept of stale answers as it grows.

A wait says which campaign it watches (:meth:`SharedPolls.join`, :meth:`SharedPolls.leave`; the
hook does it). A campaign only one wait watches is polled straight through, its answer not kept:
nobody else would read it, and one kept answer per campaign is heap the garbage collector walks.

Batch polling (the connection's ``batch_polling`` extra, off by default): the waits on one account
share a round instead, which lists every campaign the account has in a status it can still leave
(:func:`~airflow_provider_sigmamind.campaign_feed.batch_round`: 100 per page), at most once per
``max_age``; a wait on a campaign the round did not list (completed, created since, or the round
failed) asks for it alone. It trades freshness for requests: a round reads its pages one after the
other, so its first page is as old as the round is long, and the list's page cap, undocumented, is
handled by :mod:`~airflow_provider_sigmamind.paging`'s rules.
"""

from __future__ import annotations

import asyncio
import copy
import weakref
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from airflow_provider_sigmamind.campaign_feed import batch_round, listed_campaign
from airflow_provider_sigmamind.deadlines import within
from airflow_provider_sigmamind.exceptions import SigmaMindError, no_time_left
from airflow_provider_sigmamind.models import Campaign
from airflow_provider_sigmamind.paths import campaign_path

if TYPE_CHECKING:
    from airflow_provider_sigmamind.hooks.sigmamind import SigmaMindHook

__all__ = ["SharedPolls", "copy_error", "shared_polls"]

Fetch = Callable[[], Awaitable[Campaign]]


def copy_error(err: SigmaMindError) -> SigmaMindError:
    """A twin of ``err`` of the same class and fields, for one of the waiters it is shared by."""
    twin = copy.copy(err)
    twin.__cause__, twin.__context__, twin.__suppress_context__ = None, None, True
    return twin


class _Fresh:
    """An answer (a campaign, or a batch round's campaigns by id as JSON text), when it came, and
    for how long the poll that asked for it would reuse it."""

    __slots__ = ("answer", "at", "keep", "took")

    def __init__(self, answer: Any, at: float, keep: float, took: float) -> None:
        self.answer, self.at, self.keep, self.took = answer, at, keep, took


class _Flight:
    """A request in flight, the futures of the polls waiting for it, and the answer it is asked
    ahead to replace (``None`` unless it is)."""

    __slots__ = ("previous", "waiters")

    def __init__(self, previous: _Fresh | None) -> None:
        self.previous = previous
        self.waiters: list[asyncio.Future[Any]] = []


#: What a follower gets when the request it waited for was cancelled: ask again.
_AGAIN = object()

#: The key of an account's batch round in a table, beside its campaigns' (no campaign id is empty).
_ROUND = ""


class _Table:
    __slots__ = ("entries", "swept_at", "watchers")

    def __init__(self) -> None:
        self.entries: dict[tuple[str, str], _Fresh | _Flight] = {}
        self.swept_at = 0
        #: Waits watching each campaign (:meth:`SharedPolls.join`); a key nobody joined is kept.
        self.watchers: dict[tuple[str, str], int] = {}


class SharedPolls:
    """The coalescing tables of every event loop of the process, one each."""

    def __init__(self) -> None:
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Table] = weakref.WeakKeyDictionary()

    def _table(self) -> _Table:
        loop = asyncio.get_running_loop()
        table = self._by_loop.get(loop)
        if table is None:
            table = self._by_loop[loop] = _Table()
        return table

    def join(self, account: str, campaign_id: str) -> None:
        """A wait in this event loop is now watching ``campaign_id`` through ``account``."""
        watchers = self._table().watchers
        key = (account, campaign_id)
        watchers[key] = watchers.get(key, 0) + 1

    def leave(self, account: str, campaign_id: str) -> None:
        """A wait that called :meth:`join` has ended."""
        watchers = self._table().watchers
        key = (account, campaign_id)
        left = watchers.get(key, 0) - 1
        if left > 0:
            watchers[key] = left
        else:
            watchers.pop(key, None)

    def alone(self, account: str, campaign_id: str) -> bool:
        """True when one wait alone watches ``campaign_id`` and nothing is kept or in flight for it:
        its poll is then made straight through, as :meth:`get` would make it."""
        table = self._table()
        key = (account, campaign_id)
        return table.watchers.get(key) == 1 and key not in table.entries

    async def get(
        self,
        account: str,
        campaign_id: str,
        max_age: float,
        deadline: float,
        fetch: Fetch,
        *,
        lister: SigmaMindHook | None = None,
    ) -> Campaign:
        """The campaign as seen at most ``max_age`` seconds ago, from one shared request.

        :param account: what identifies the key and base URL (:attr:`.api_call.Route.account`).
        :param campaign_id: the campaign.
        :param max_age: seconds an answer may be reused for.
        :param deadline: seconds this poll may wait for another's request.
        :param fetch: makes the request (the hook's uncoalesced poll).
        :param lister: batch polling: the hook that lists the account's campaigns in a round shared
            by every wait on ``account`` (:func:`~airflow_provider_sigmamind.campaign_feed.batch_round`);
            a campaign the round did not list is asked for alone.
        :raises SigmaMindError: the failure of the request, a copy per waiter.
        """
        loop = asyncio.get_running_loop()
        table = self._table()
        if lister is not None:
            listed = await self._shared(
                loop, table, (account, _ROUND), max_age, deadline, campaign_id, lambda: batch_round(lister)
            )
            if isinstance(listed, dict) and campaign_id in listed:
                return listed_campaign(listed[campaign_id])
            if isinstance(listed, BaseException) and not isinstance(listed, SigmaMindError):
                raise listed
        if self.alone(account, campaign_id):
            return await fetch()
        key = (account, campaign_id)
        outcome = await self._shared(loop, table, key, max_age, deadline, campaign_id, fetch)
        if isinstance(outcome, SigmaMindError):
            raise copy_error(outcome)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    async def _shared(
        self,
        loop: asyncio.AbstractEventLoop,
        table: _Table,
        key: tuple[str, str],
        max_age: float,
        deadline: float,
        campaign_id: str,
        fetch: Callable[[], Awaitable[Any]],
    ) -> Any:
        """What ``fetch`` gave for ``key`` (its answer, or the exception it raised), at most
        ``max_age`` seconds old: a kept answer, another poll's fetch in flight, or a fetch of its own."""
        while True:
            entry = table.entries.get(key)
            if isinstance(entry, _Fresh) and (age := loop.time() - entry.at) < max_age:
                if age < max_age - entry.took:
                    return entry.answer
                return await self._lead(loop, table, key, max_age, fetch, previous=entry)  # ask ahead
            if not isinstance(entry, _Flight):
                return await self._lead(loop, table, key, max_age, fetch, previous=None)
            if entry.previous is not None and loop.time() - entry.previous.at < max_age:
                return entry.previous.answer
            outcome = await self._follow(loop, entry, campaign_id, deadline)
            if outcome is not _AGAIN:
                return outcome

    @staticmethod
    async def _follow(loop: asyncio.AbstractEventLoop, flight: _Flight, campaign_id: str, deadline: float) -> Any:
        future = loop.create_future()
        flight.waiters.append(future)
        try:
            with within(deadline):
                return await future
        except TimeoutError:
            raise no_time_left(method="GET", path=campaign_path(campaign_id), campaign_id=campaign_id) from None

    def _sweep(self, table: _Table, now: float) -> None:
        if len(table.entries) < 2 * table.swept_at + 64:
            return
        stale = [k for k, e in table.entries.items() if isinstance(e, _Fresh) and now - e.at >= e.keep]
        for k in stale:
            del table.entries[k]
        table.swept_at = len(table.entries)

    async def _lead(
        self,
        loop: asyncio.AbstractEventLoop,
        table: _Table,
        key: tuple[str, str],
        max_age: float,
        fetch: Callable[[], Awaitable[Any]],
        *,
        previous: _Fresh | None,
    ) -> Any:
        flight = table.entries[key] = _Flight(previous)
        started = loop.time()
        self._sweep(table, started)
        outcome: Any = _AGAIN
        try:
            outcome = await fetch()
        except Exception as exc:  # shared with the followers, raised by get() as a copy each
            outcome = exc
        finally:
            if table.entries.get(key) is flight:
                answered = outcome is not _AGAIN and outcome is not None and not isinstance(outcome, Exception)
                now = loop.time()
                if answered and table.watchers.get(key) != 1:
                    table.entries[key] = _Fresh(outcome, now, max_age, now - started)
                elif previous is not None:  # asked ahead and failed: the old answer stands until it expires
                    table.entries[key] = _Fresh(previous.answer, previous.at, previous.keep, 0.0)
                else:
                    del table.entries[key]
            for future in flight.waiters:
                if not future.done():
                    future.set_result(outcome)
        return outcome


shared_polls = SharedPolls()
