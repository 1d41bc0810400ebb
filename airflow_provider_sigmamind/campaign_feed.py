"""The account's campaigns as a feed: the polling and bookkeeping behind ``CampaignEventTrigger``.

One poll lists the campaigns in each watched status (``GET /v1/campaigns?status=...``, page by page)
and gives a :data:`Snapshot`. :func:`poll_snapshots` polls for ever, one snapshot each
``poll_interval``; triggers on one connection and statuses may share it (Airflow's shared stream,
at the shortest interval among them: :class:`SharedIntervals`).
Each trigger turns the snapshots into events with a :class:`CampaignFeed` of its own: the first
snapshot is its baseline (campaigns already there do not fire), and every campaign that appears in
a watched status later fires once.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable, Hashable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from airflow_provider_sigmamind.exceptions import SigmaMindError
from airflow_provider_sigmamind.models import Campaign, CampaignStatus, parse_campaign
from airflow_provider_sigmamind.paging import CAMPAIGNS
from airflow_provider_sigmamind.retry import RetryPolicy
from airflow_provider_sigmamind.watch import CampaignWatch

if TYPE_CHECKING:  # the hook's module imports this one's (batch polling, through coalesce.py)
    from airflow_provider_sigmamind.hooks.sigmamind import SigmaMindHook

__all__ = [
    "BATCH_STATUSES",
    "SHARED_INTERVALS",
    "CampaignFeed",
    "SharedIntervals",
    "Snapshot",
    "alist_campaigns",
    "batch_round",
    "listed_campaign",
    "poll_snapshots",
]

#: Campaigns per list request while watching (the API's own default is 10).
FEED_PAGE_SIZE = 100

#: One poll's result: ``(campaign_id, status, payload)`` for every campaign in a watched status.
Snapshot = list[tuple[str, str, dict[str, Any]]]

log = logging.getLogger(__name__)


async def alist_campaigns(
    hook: SigmaMindHook, status: CampaignStatus, *, page_size: int = FEED_PAGE_SIZE
) -> AsyncIterator[Campaign]:
    """Every campaign in ``status``, page by page, without blocking the event loop.

    The async counterpart of :meth:`SigmaMindHook.list_campaigns`, with the same paging rules
    (:class:`~airflow_provider_sigmamind.paging.Listing`: ``hasNext``, else ``totalPages``, else
    ``totalCount``; a short page that says nothing of the end is read past; a campaign listed twice
    is yielded once). Each page request is retried by the hook's retry policy.

    :param hook: the hook whose connection, retry policy and HTTP client are used.
    :param status: the status to list (the API's ``status`` filter).
    :param page_size: campaigns per request.
    :raises SigmaMindResponseError: when a page is not the list SigmaMind sends.
    """
    listing = CAMPAIGNS.listing(None, status=status.value, page_size=page_size, logger=log)
    page = 0
    while True:
        body = await hook.arequest("GET", CAMPAIGNS.path, params=listing.query(page))
        fresh, more = listing.take(body, page)
        for campaign in listing.hand_out(fresh):
            yield campaign
        if not more:
            break
        page += 1
    listing.finish()


async def poll_once(hook: SigmaMindHook, statuses: Iterable[CampaignStatus]) -> Snapshot:
    """One poll: every campaign in each of ``statuses``."""
    snapshot: Snapshot = []
    for status in statuses:
        async for campaign in alist_campaigns(hook, status):
            snapshot.append((campaign.campaign_id, status.value, campaign.payload))
    return snapshot


#: What a batch round lists: the known statuses a campaign can still leave (``CampaignStatus.is_terminal``
#: says which). A completed campaign is not listed (an account's history can be long); a wait on it
#: asks for it alone and ends. In the order a campaign moves through them, so that one moving on
#: while a round reads their pages one after another is on a later page: listed live first, a
#: campaign that went live between the live page and the scheduled one was on neither.
BATCH_STATUSES = (CampaignStatus.SCHEDULED, CampaignStatus.LIVE, CampaignStatus.PAUSED)


async def batch_round(hook: SigmaMindHook) -> dict[str, str] | None:
    """One round of batch polling (the ``batch_polling`` extra): every campaign in
    :data:`BATCH_STATUSES`, by id, as its JSON text (:func:`listed_campaign` reads one back);
    ``None`` when a page failed (logged: the waits of this round then ask for their campaigns one by
    one).

    Text, not :class:`Campaign` objects: a round is kept for a whole poll interval, long enough for
    the garbage collector to move what it holds to its oldest generation, and the few objects of
    each of 10,000 campaigns, every round, made a full collection (hundreds of milliseconds, the
    whole event loop stopped) come every 13 s. Strings the collector never walks."""
    campaigns: dict[str, str] = {}
    try:
        for status in BATCH_STATUSES:
            async for campaign in alist_campaigns(hook, status):
                campaigns[campaign.campaign_id] = json.dumps(campaign.payload, separators=(",", ":"))
    except SigmaMindError as err:
        log.warning("Listing the campaigns for batch polling failed; this round asks for each campaign: %s", err)
        return None
    return campaigns


def listed_campaign(text: str) -> Campaign:
    """A campaign of a :func:`batch_round`, from its JSON text (checked when it was listed)."""
    return parse_campaign(json.loads(text))


async def poll_snapshots(
    *,
    sigmamind_conn_id: str,
    statuses: Iterable[CampaignStatus],
    poll_interval: float,
    max_consecutive_errors: int,
    retry_policy: Mapping[str, Any] | None = None,
    timeout: float | None = None,
    interval_of: Callable[[], float] | None = None,
) -> AsyncIterator[Snapshot]:
    """Poll the campaign list for ever, one :data:`Snapshot` each ``poll_interval`` seconds.

    ``interval_of``, when given, is asked after each poll how long to wait before the next (a
    shared stream's :meth:`SharedIntervals.shortest`); ``poll_interval`` is then unused. The first
    poll is made at once. A failed poll (after the hook's own retries) is logged and
    counted, and the next one is made ``poll_interval`` later, as after a good one; a permanent
    error (a refused key, say) or ``max_consecutive_errors`` failed polls in a row raise, which ends
    the watch (the same budget as :class:`~airflow_provider_sigmamind.triggers.campaign.CampaignStatusTrigger`).
    The HTTP client is released on every exit.

    :raises SigmaMindError: as said above.
    """
    from airflow_provider_sigmamind.hooks.sigmamind import SigmaMindHook

    wanted = sorted(statuses)
    policy = None if retry_policy is None else RetryPolicy.from_kwargs(retry_policy)
    hook = SigmaMindHook(sigmamind_conn_id=sigmamind_conn_id, timeout=timeout, retry_policy=policy)
    # Only its count of failed polls in a row is used: the sensor's trigger's rules, once.
    errors = CampaignWatch(targets=wanted, failures=(), max_consecutive_errors=max_consecutive_errors, log=log)
    log.info("Polling the campaigns in %s through %r", " and ".join(s.value for s in wanted), sigmamind_conn_id)
    try:
        while True:
            try:
                # A task of its own, as CampaignStatusTrigger does: no greenback shim on every await.
                snapshot = await asyncio.create_task(poll_once(hook, wanted))
            except SigmaMindError as err:
                errors.poll_failed(err)  # raises when permanent or one too many in a row
            else:
                errors.consecutive_errors = 0
                yield snapshot
            await asyncio.sleep(poll_interval if interval_of is None else interval_of())
    finally:
        try:
            await hook.aclose()
        except Exception:
            log.warning("Closing the HTTP client failed", exc_info=True)


class SharedIntervals:
    """The ``poll_interval`` each watcher of a shared stream asked for: the stream polls at the shortest.

    Airflow opens one :func:`poll_snapshots` per shared-stream group, with the settings of one of its
    watchers; every watcher registers its own interval here while it reads the stream, so a group
    polls as often as its most impatient watcher asked (from the poll after it joined), and no more
    often once that watcher has gone. One table per process: a triggerer runs its triggers in one
    event loop.
    """

    def __init__(self) -> None:
        self._wanted: dict[Hashable, dict[int, float]] = {}

    @contextmanager
    def joined(self, key: Hashable, watcher: object, interval: float) -> Iterator[None]:
        """While the block runs, ``watcher`` (by identity) asks group ``key`` for ``interval``."""
        self._wanted.setdefault(key, {})[id(watcher)] = interval
        try:
            yield
        finally:
            group = self._wanted.get(key, {})
            group.pop(id(watcher), None)
            if not group:
                self._wanted.pop(key, None)

    def shortest(self, key: Hashable, default: float) -> float:
        """The shortest interval a watcher of group ``key`` asked for; ``default`` when none is there."""
        return min(self._wanted.get(key, {}).values(), default=default)


#: The process's table (:class:`SharedIntervals`).
SHARED_INTERVALS = SharedIntervals()


class CampaignFeed:
    """Which campaigns have been seen in which watched status: decides what fires.

    The first snapshot is the baseline and fires nothing. Afterwards a campaign fires the first time
    it is seen in a status, and never again for that status (it may fire again for another watched
    status it reaches later).
    """

    def __init__(self) -> None:
        self.seen: set[tuple[str, str]] = set()
        self.started = False

    def new(self, snapshot: Snapshot) -> list[tuple[str, str, dict[str, Any]]]:
        """The entries of ``snapshot`` that fire, in the snapshot's order."""
        fresh = [entry for entry in snapshot if (entry[0], entry[1]) not in self.seen]
        self.seen.update((cid, status) for cid, status, _ in fresh)
        if not self.started:
            self.started = True
            return []
        return fresh
