"""CampaignEventTrigger: its ``run()`` against the simulator, over real HTTP.

Each test starts the trigger's own poll loop (``run()``, as Airflow versions without shared streams
and the triggerer's fallback run it), waits until the simulator has answered the first poll (the
baseline), changes campaigns and awaits the events.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from airflow_provider_sigmamind.campaign_feed import SHARED_INTERVALS, CampaignFeed, SharedIntervals, alist_campaigns
from airflow_provider_sigmamind.exceptions import SigmaMindAuthError, SigmaMindError
from airflow_provider_sigmamind.hooks.sigmamind import SigmaMindHook
from airflow_provider_sigmamind.models import CampaignStatus
from airflow_provider_sigmamind.retry import RetryPolicy
from airflow_provider_sigmamind.simulator import Fault, SigmaMindSimulator
from airflow_provider_sigmamind.triggers.campaign import CampaignEventTrigger
from tests.helpers import CANARY_API_KEY, connection_json

UNAVAILABLE = Fault.status(503, headers={"Retry-After": "0"})
INTERVAL = 0.2
#: The longest any awaited event may take.
WAIT = 10.0


@pytest.fixture
def sigmamind_conn(simulator: SigmaMindSimulator, monkeypatch: pytest.MonkeyPatch) -> str:
    """``sigmamind_default`` pointing at the simulator; no retries inside a poll, so each failure counts."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_SIGMAMIND_DEFAULT",
        connection_json(simulator.url, timeout=5, max_retries=0, backoff_initial=0, backoff_max=0),
    )
    return "sigmamind_default"


def list_polls(simulator: SigmaMindSimulator) -> list[Any]:
    return [r for r in simulator.requests if r.path == "/v1/campaigns" and r.method == "GET" and r.status is not None]


async def until(probe: Callable[[], bool], what: str) -> None:
    """Wait until ``probe()`` holds (the simulator's record is the only signal there is)."""
    deadline = time.monotonic() + WAIT
    while not probe():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def next_event(events: AsyncIterator[Any]) -> dict[str, Any]:
    event = await asyncio.wait_for(anext(events), WAIT)
    payload: dict[str, Any] = event.payload
    return payload


def sync(test: Callable[..., Any]) -> Callable[..., None]:
    """Run an async test in a loop of its own (the project has no async pytest plugin)."""

    @functools.wraps(test)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return wrapper


def test_serializes_to_primitives_without_the_key():
    trigger = CampaignEventTrigger(statuses="completed", poll_interval=30, retry_policy=RetryPolicy().to_kwargs())
    path, kwargs = trigger.serialize()
    assert path == "airflow_provider_sigmamind.triggers.campaign.CampaignEventTrigger"
    assert kwargs["statuses"] == ["completed"]
    assert kwargs["poll_interval"] == 30.0
    assert CANARY_API_KEY not in repr(kwargs)
    assert CampaignEventTrigger(**kwargs).serialize() == (path, kwargs)
    assert all(isinstance(v, str | int | float | list | dict | type(None)) for v in kwargs.values())
    if not hasattr(CampaignEventTrigger, "hash"):
        pytest.skip("event triggers (BaseEventTrigger) need Airflow 3")
    # Airflow identifies an asset's trigger by this hash of its serialized form: stable for equal settings.
    assert CampaignEventTrigger.hash(path, kwargs) == CampaignEventTrigger.hash(
        *CampaignEventTrigger(**kwargs).serialize()
    )


def test_defaults_and_refusals():
    assert CampaignEventTrigger().statuses == ["completed"]
    with pytest.raises(ValueError, match="statuses"):
        CampaignEventTrigger(statuses=[])
    with pytest.raises(ValueError, match="poll_interval"):
        CampaignEventTrigger(poll_interval=-1)
    with pytest.raises(ValueError, match="max_consecutive_errors"):
        CampaignEventTrigger(max_consecutive_errors=0)


def test_watchers_on_one_connection_and_statuses_share_a_stream_whatever_their_intervals():
    one = CampaignEventTrigger(statuses=["completed", "live"], poll_interval=30)
    assert (
        one.shared_stream_key()
        == CampaignEventTrigger(statuses=["live", "completed"], poll_interval=5).shared_stream_key()
    )
    others = [
        CampaignEventTrigger(statuses=["completed"], poll_interval=30),
        CampaignEventTrigger(sigmamind_conn_id="other", statuses=["completed", "live"], poll_interval=30),
        CampaignEventTrigger(statuses=["completed", "live"], poll_interval=30, timeout=5),
        CampaignEventTrigger(statuses=["completed", "live"], poll_interval=30, max_consecutive_errors=9),
        CampaignEventTrigger(statuses=["completed", "live"], retry_policy=RetryPolicy(max_retries=9).to_kwargs()),
    ]
    assert all(one.shared_stream_key() != other.shared_stream_key() for other in others)
    hash(one.shared_stream_key())


def test_a_group_polls_at_the_shortest_interval_of_the_watchers_reading_it():
    intervals, key = SharedIntervals(), ("group",)
    fast, slow = object(), object()
    assert intervals.shortest(key, 60.0) == 60.0  # nobody there yet: the opening watcher's own
    with intervals.joined(key, slow, 30.0):
        with intervals.joined(key, fast, 2.0):
            assert intervals.shortest(key, 60.0) == 2.0
            assert intervals.shortest(("another group",), 60.0) == 60.0
        assert intervals.shortest(key, 60.0) == 30.0
    assert intervals.shortest(key, 60.0) == 60.0
    assert intervals._wanted == {}  # nothing left behind


@sync
async def test_a_shared_stream_serves_two_watchers_at_the_quicker_ones_interval(
    simulator: SigmaMindSimulator, sigmamind_conn: str
):
    """As the triggerer runs a group: one producer, opened with the slow watcher's arguments."""
    campaign = simulator.add_campaign(name="Shared", status="live")
    slow = CampaignEventTrigger(poll_interval=3600)
    fast = CampaignEventTrigger(poll_interval=INTERVAL)
    assert slow.shared_stream_key() == fast.shared_stream_key()
    queues: list[asyncio.Queue[Any]] = [asyncio.Queue(), asyncio.Queue()]

    async def fan_out() -> None:
        async for snapshot in CampaignEventTrigger.open_shared_stream(slow.serialize()[1]):
            for queue in queues:
                queue.put_nowait(snapshot)

    async def read(queue: asyncio.Queue[Any]) -> AsyncIterator[Any]:
        while True:
            yield await queue.get()

    watchers = [slow.filter_shared_stream(read(queues[0])), fast.filter_shared_stream(read(queues[1]))]
    pending = [asyncio.ensure_future(anext(events)) for events in watchers]
    await asyncio.sleep(0)  # both watchers have joined before the first poll ends
    producer = asyncio.create_task(fan_out())
    try:
        await until(lambda: len(list_polls(simulator)) >= 2, "a second poll, at the quicker interval")
        simulator.set_status(campaign["campaignId"], "completed")
        got = [(await asyncio.wait_for(p, WAIT)).payload["campaignId"] for p in pending]
        assert got == [campaign["campaignId"]] * 2
        started = [r.started_at for r in list_polls(simulator)]
        assert min(b - a for a, b in itertools.pairwise(started)) >= INTERVAL * 0.9  # one loop, not two
    finally:
        producer.cancel()
        for events in watchers:
            await events.aclose()
    assert SHARED_INTERVALS.shortest(slow.shared_stream_key(), 1.0) == 1.0  # both have left


@sync
async def test_fires_once_per_campaign_reaching_the_status_and_not_for_those_already_there(
    simulator: SigmaMindSimulator, sigmamind_conn: str
):
    simulator.add_campaign(name="Done before", status="completed")  # fires never: there at the start
    first = simulator.add_campaign(name="First", status="live")
    second = simulator.add_campaign(name="Second", status="live")
    paused = simulator.add_campaign(name="Paused", status="live")
    events = CampaignEventTrigger(poll_interval=INTERVAL).run()
    pending = asyncio.ensure_future(anext(events))
    try:
        await until(lambda: len(list_polls(simulator)) >= 1, "the baseline poll")
        simulator.set_status(first["campaignId"], "completed")
        simulator.set_status(paused["campaignId"], "paused")
        got = (await asyncio.wait_for(pending, WAIT)).payload
        assert got == simulator.campaign(first["campaignId"])
        polls_then = len(list_polls(simulator))
        simulator.set_status(second["campaignId"], "completed")
        # The next event is the second campaign's: the first, still completed, does not fire again.
        assert await next_event(events) == simulator.campaign(second["campaignId"])
        assert len(list_polls(simulator)) > polls_then
    finally:
        await events.aclose()
    served = {r.query.get("status") for r in list_polls(simulator)}
    assert served == {"completed"}  # the list endpoint's filter does the sorting


@sync
async def test_each_watched_status_fires_once(simulator: SigmaMindSimulator, sigmamind_conn: str):
    campaign = simulator.add_campaign(name="Two steps", status="scheduled")
    events = CampaignEventTrigger(statuses=["live", "completed"], poll_interval=INTERVAL).run()
    pending = asyncio.ensure_future(anext(events))
    try:
        await until(lambda: len(list_polls(simulator)) >= 2, "the baseline poll of both statuses")
        simulator.set_status(campaign["campaignId"], "live")
        assert (await asyncio.wait_for(pending, WAIT)).payload["campaignStatus"] == "live"
        simulator.set_status(campaign["campaignId"], "completed")
        assert (await next_event(events))["campaignStatus"] == "completed"
    finally:
        await events.aclose()


@sync
async def test_transient_failures_are_survived_and_each_is_followed_by_the_interval(
    simulator: SigmaMindSimulator, sigmamind_conn: str
):
    campaign = simulator.add_campaign(name="After the storm", status="live")
    events = CampaignEventTrigger(poll_interval=INTERVAL, max_consecutive_errors=3).run()
    pending = asyncio.ensure_future(anext(events))
    try:
        await until(lambda: len(list_polls(simulator)) >= 1, "the baseline poll")
        simulator.inject(UNAVAILABLE, times=2)  # two polls in a row fail: within the budget of 3
        simulator.set_status(campaign["campaignId"], "completed")
        assert (await asyncio.wait_for(pending, WAIT)).payload["campaignId"] == campaign["campaignId"]
    finally:
        await events.aclose()
    polls = list_polls(simulator)
    assert [p.status for p in polls[1:4]] == [503, 503, 200]
    gaps = [later.started_at - earlier.started_at for earlier, later in itertools.pairwise(polls[:4])]
    assert all(gap >= INTERVAL - 0.02 for gap in gaps), gaps  # no quicker re-poll after a failure


@sync
async def test_the_error_budget_ends_the_watch(simulator: SigmaMindSimulator, sigmamind_conn: str):
    events = CampaignEventTrigger(poll_interval=0.05, max_consecutive_errors=3).run()
    pending = asyncio.ensure_future(anext(events))
    await until(lambda: len(list_polls(simulator)) >= 1, "the baseline poll")
    simulator.inject(UNAVAILABLE, times=None)
    with pytest.raises(SigmaMindError, match="3 polls in a row failed"):
        await asyncio.wait_for(pending, WAIT)
    assert [p.status for p in list_polls(simulator)][1:] == [503, 503, 503]


@sync
async def test_a_refused_key_ends_the_watch_at_once(simulator: SigmaMindSimulator, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AIRFLOW_CONN_SIGMAMIND_DEFAULT", connection_json(simulator.url, api_key="wrong", max_retries=0))
    with pytest.raises(SigmaMindAuthError):
        await asyncio.wait_for(anext(CampaignEventTrigger(poll_interval=0.05).run()), WAIT)
    assert len(list_polls(simulator)) == 1


@sync
async def test_the_async_listing_reads_every_page(simulator: SigmaMindSimulator, sigmamind_conn: str):
    made = {simulator.add_campaign(name=f"C{i}", status="completed")["campaignId"] for i in range(5)}
    async with SigmaMindHook() as hook:
        listed = [c.campaign_id async for c in alist_campaigns(hook, CampaignStatus.COMPLETED, page_size=2)]
    assert made <= set(listed)
    assert len(listed) == len(set(listed))
    assert sorted(int(r.query["page"]) for r in list_polls(simulator)) == list(range(-(-len(listed) // 2)))


def test_the_feed_takes_a_baseline_then_fires_each_new_pair_once():
    feed = CampaignFeed()
    assert feed.new([("a", "completed", {"id": "a"})]) == []
    assert feed.new([("a", "completed", {}), ("b", "completed", {"id": "b"})]) == [("b", "completed", {"id": "b"})]
    assert feed.new([("a", "completed", {}), ("b", "completed", {})]) == []
    assert feed.new([("a", "live", {"x": 1})]) == [("a", "live", {"x": 1})]


@sync
async def test_two_watchers_filter_one_shared_stream():
    snapshots = [
        [("a", "completed", {"campaignId": "a"})],
        [("a", "completed", {"campaignId": "a"}), ("b", "completed", {"campaignId": "b"})],
    ]

    async def stream() -> AsyncIterator[Any]:
        for snapshot in snapshots:
            yield snapshot

    watchers = [CampaignEventTrigger(), CampaignEventTrigger()]
    fired = [[e.payload async for e in w.filter_shared_stream(stream())] for w in watchers]
    assert fired == [[{"campaignId": "b"}], [{"campaignId": "b"}]]
