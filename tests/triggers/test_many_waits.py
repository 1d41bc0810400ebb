"""Many triggers in one event loop, against the simulator over real HTTP: the rate budget of the
key (budget.py) and coalesced polls (coalesce.py).

The simulator counts the requests; when they were sent is read where they leave the provider (the
transport's ``send``, wrapped, not mocked). The simulator is a thread of this process, so on a
loaded machine requests delayed on the way (connecting, writing) reach it bunched, though they
left the budget in time: CI saw [47, 20, 8] and [41, 20, 14] requests a second arrive on a budget
of 20.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest

from airflow_provider_sigmamind.campaign_feed import BATCH_STATUSES, batch_round, listed_campaign
from airflow_provider_sigmamind.hooks.sigmamind import SigmaMindHook
from airflow_provider_sigmamind.models import Campaign, CampaignStatus
from airflow_provider_sigmamind.simulator import Fault
from airflow_provider_sigmamind.transport import aio
from airflow_provider_sigmamind.triggers.campaign import CampaignStatusTrigger
from tests.helpers import connection_json


async def run_all(triggers: list[CampaignStatusTrigger]) -> list[dict[str, Any]]:
    """Every trigger to its one event, all in this loop (as the triggerer runs them)."""

    async def one(trigger: CampaignStatusTrigger) -> dict[str, Any]:
        (event,) = [event.payload async for event in trigger.run()]
        return event

    return list(await asyncio.gather(*(one(trigger) for trigger in triggers)))


@dataclass(frozen=True)
class Sent:
    """One request as the provider handed it to the transport, on the client's monotonic clock."""

    at: float  # handed over
    answered: float  # its answer back (or its failure)
    status: int | None  # the answer's status; None when it got none


@pytest.fixture
def sends(monkeypatch: pytest.MonkeyPatch) -> list[Sent]:
    """Every request the async transport sends during the test, in the order they were sent."""
    sent: list[Sent] = []
    real_send = aio.send

    async def send(session: Any, request: Any) -> Any:
        at = time.monotonic()
        status = None
        try:
            answer = await real_send(session, request)
            status = answer.status
            return answer
        finally:
            sent.append(Sent(at, time.monotonic(), status))

    monkeypatch.setattr(aio, "send", send)
    return sent


def per_second(times: list[float]) -> list[int]:
    """Requests in each whole second from the first one."""
    start = min(times)
    counts = Counter(int(t - start) for t in times)
    return [counts[second] for second in range(max(counts) + 1)]


def over_the_bucket(times: list[float], rate: float) -> list[tuple[int, int]]:
    """The stretches ``(i, j)`` of sorted ``times`` that carry more than a token bucket of ``rate``
    a second (and a burst of one second's worth) lets through: ``rate + rate * t``, +1 for rounding."""
    return [
        (i, j)
        for i in range(len(times))
        for j in range(i, len(times))
        if j - i + 1 > rate + rate * (times[j] - times[i]) + 1
    ]


def test_500_waits_on_a_budget_of_20_per_second_stay_under_it_and_all_succeed(simulator, monkeypatch, sends):
    monkeypatch.setenv(
        "AIRFLOW_CONN_SIGMAMIND_DEFAULT",
        connection_json(simulator.url, timeout=5, max_retries=2, max_requests_per_second=20),
    )
    # 500 waits on 25 campaigns, each wait polling every 0.5 s: 50 requests a second asked of the
    # API with coalescing alone, 1,000 without; the budget allows 20. (A wait that starts or wakes
    # more than an interval after its campaign's shared answer rightly asks again: the interval is
    # long enough that starting 500 waits on a loaded machine does not make one.)
    script = ["scheduled", "scheduled", "live"]  # one status per request: three rounds of polls each
    campaigns = [simulator.add_campaign(script=script)["campaignId"] for _ in range(25)]
    triggers = [
        CampaignStatusTrigger(campaign_id=campaigns[i % 25], poll_interval=0.5, target_statuses=["live"])
        for i in range(500)
    ]
    events = asyncio.run(run_all(triggers))
    assert [event["status"] for event in events] == ["success"] * 500
    # The token bucket's promise: in any stretch of time, the requests handed to the transport are
    # at most a burst of one second's worth (20) plus 20 a second...
    sent = sorted(request.at for request in sends)
    assert over_the_bucket(sent, 20) == [], per_second(sent)
    # ...and they are all the API saw: one request per round per campaign (coalesced).
    assert len(sent) == len(simulator.requests) == 75


def test_a_burst_of_429s_slows_the_whole_process_and_every_wait_still_succeeds(simulator, monkeypatch, sends):
    monkeypatch.setenv("AIRFLOW_CONN_SIGMAMIND_DEFAULT", connection_json(simulator.url, timeout=5, max_retries=5))
    # Scheduled until the test has thrown its 429s, then live: no wait can end before the burst.
    # 100 waits polling every 0.4 s ask 250 requests a second, well within what one busy core sends:
    # the rate before the burst is the one asked, not what the machine could manage.
    campaigns = [simulator.add_campaign(status="scheduled")["campaignId"] for _ in range(100)]
    triggers = [
        CampaignStatusTrigger(
            campaign_id=cid, poll_interval=0.4, target_statuses=["live"], retry_policy={"backoff_initial": 0.05}
        )
        for cid in campaigns
    ]

    async def main() -> list[dict[str, Any]]:
        waits = asyncio.gather(run_all(triggers))
        while not simulator.requests:
            await asyncio.sleep(0.01)
        polling_since = simulator.requests[0].started_at
        # Every wait polling, for over a second: the rate the budget measures.
        while time.monotonic() < polling_since + 1.2:
            await asyncio.sleep(0.01)
        simulator.inject(Fault.rate_limit(retry_after=0.5), times=5)
        while sum(r.status == 429 for r in simulator.requests) < 5:  # the burst served, then the rest
            await asyncio.sleep(0.01)
        await asyncio.sleep(1.0)  # recovery: measured below, a second after the first 429
        for cid in campaigns:
            simulator.set_status(cid, "live")
        (events,) = await waits
        return events

    started = time.monotonic()
    events = asyncio.run(main())
    assert [event["status"] for event in events] == ["success"] * 100
    assert sum(r.status == 429 for r in simulator.requests) == 5
    # From the moment the client read the first 429 (and set Retry-After, 0.5 s), nobody sends
    # (not only the waits that got a 429) until it has passed.
    first = min(request.answered for request in sends if request.status == 429)
    held = [request for request in sends if first < request.at < first + 0.5]
    assert held == [], [(round(request.at - first, 3), request.status) for request in held]
    # Then the held waits leave paced at the reduced rate, not all at once when Retry-After ends...
    released = sum(first + 0.5 <= request.at < first + 0.6 for request in sends)
    assert released <= 0.25 * len(campaigns), released
    # ...and the second after the first 429 carries far fewer requests than the second before it.
    before = sum(first - 1.0 <= request.at < first for request in sends)
    after = sum(first < request.at < first + 1.0 for request in sends)
    assert after < 0.75 * before, (before, after)  # held half of it, then paced: about 0.4 of it
    assert time.monotonic() - started < 15


def test_coalesced_waits_with_different_targets_each_end_with_their_own_outcome(simulator, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_SIGMAMIND_DEFAULT", connection_json(simulator.url, timeout=5, max_retries=2))
    cid = simulator.add_campaign(status="scheduled", live_after=0.5, complete_after=1.0)["campaignId"]

    def trigger(**kwargs: Any) -> CampaignStatusTrigger:
        return CampaignStatusTrigger(campaign_id=cid, poll_interval=0.05, **kwargs)

    triggers = [
        trigger(target_statuses=["live"]),
        trigger(target_statuses=["completed"]),
        trigger(target_statuses=["completed"], failure_statuses=["live"]),
        trigger(target_statuses=["completed"], deadline=time.time() + 0.3),
    ] * 5
    started = time.monotonic()
    events = asyncio.run(run_all(triggers))
    elapsed = time.monotonic() - started
    outcomes = [(e["status"], e.get("campaign", {}).get("campaignStatus"), e.get("error_class")) for e in events]
    assert (
        outcomes
        == [
            ("success", "live", None),
            ("success", "completed", None),
            ("failure", None, None),
            ("error", None, "AirflowSensorTimeout"),
        ]
        * 5
    )
    # 20 waits, one request per interval between them (not 20): the simulator counts.
    asked = len(simulator.requests_for(cid))
    assert asked <= elapsed / 0.05 + 3, (asked, elapsed)


# -- batch polling (the batch_polling extra) --------------------------------------------------------


def listed_pages(simulator: Any) -> list[Any]:
    """The list requests the simulator served (``GET /v1/campaigns?...``)."""
    return [r for r in simulator.requests if r.campaign_id is None and r.path == "/v1/campaigns"]


def test_batch_polling_answers_the_waits_from_the_list_and_asks_alone_for_a_campaign_it_did_not_list(
    simulator, monkeypatch
):
    monkeypatch.setenv(
        "AIRFLOW_CONN_SIGMAMIND_DEFAULT", connection_json(simulator.url, timeout=5, max_retries=2, batch_polling=True)
    )
    going_live = [simulator.add_campaign(status="scheduled", live_after=0.4)["campaignId"] for _ in range(30)]
    done = simulator.add_campaign(status="completed")["campaignId"]  # not in a round's statuses
    triggers = [CampaignStatusTrigger(campaign_id=cid, poll_interval=0.1) for cid in going_live]
    triggers.append(CampaignStatusTrigger(campaign_id=done, target_statuses=["completed"], poll_interval=0.1))
    started = time.monotonic()
    events = asyncio.run(run_all(triggers))
    elapsed = time.monotonic() - started
    assert [(e["status"], e["campaign"]["campaignStatus"]) for e in events] == [("success", "live")] * 30 + [
        ("success", "completed")
    ]
    assert all(simulator.requests_for(cid) == [] for cid in going_live)  # never one GET each
    assert len(simulator.requests_for(done)) == 1  # listed in no round: asked for alone, once
    rounds = len(listed_pages(simulator)) / 3  # a page per status a round lists (30 fit in one)
    assert rounds <= elapsed / 0.1 + 2, (rounds, elapsed)


def test_a_round_lists_every_status_a_campaign_can_leave_in_the_order_it_moves_through_them():
    """A campaign that goes live while a round reads its pages is on the live page, read after the
    scheduled one (read the other way round, lane 3.1 of CI saw 30 waits miss a round at once)."""
    assert BATCH_STATUSES == (CampaignStatus.SCHEDULED, CampaignStatus.LIVE, CampaignStatus.PAUSED)
    assert set(BATCH_STATUSES) == {s for s in CampaignStatus if s is not CampaignStatus.UNKNOWN and not s.is_terminal}


def test_a_batch_round_keeps_nothing_the_garbage_collector_walks_and_reads_back_what_a_get_answers(
    simulator, monkeypatch
):
    """A round lives through a poll interval: kept as objects, thousands of campaigns a round reach
    the collector's oldest generation and bring on full collections (docs/performance.md)."""
    monkeypatch.setenv("AIRFLOW_CONN_SIGMAMIND_DEFAULT", connection_json(simulator.url, batch_polling=True))
    cids = [simulator.add_campaign(status=status)["campaignId"] for status in ("scheduled", "live", "paused") * 3]

    async def round_and_gets() -> tuple[dict[str, str] | None, list[Campaign]]:
        async with SigmaMindHook() as hook:
            return await batch_round(hook), [await hook.aget_campaign(cid) for cid in cids]

    listed, got = asyncio.run(round_and_gets())
    assert listed is not None
    assert sorted(listed) == sorted(cids)
    assert not any(gc.is_tracked(text) for text in listed.values())
    assert [listed_campaign(listed[campaign.campaign_id]) for campaign in got] == got


def test_a_failed_batch_round_falls_back_to_one_request_per_campaign(simulator, monkeypatch, caplog):
    monkeypatch.setenv(
        "AIRFLOW_CONN_SIGMAMIND_DEFAULT", connection_json(simulator.url, timeout=5, max_retries=0, batch_polling=True)
    )
    cids = [simulator.add_campaign(status="live")["campaignId"] for _ in range(5)]
    simulator.inject(Fault.server_error(503), times=1)  # the first round's first page
    triggers = [CampaignStatusTrigger(campaign_id=cid, poll_interval=0.1) for cid in cids]
    events = asyncio.run(run_all(triggers))
    assert [e["status"] for e in events] == ["success"] * 5
    assert [len(simulator.requests_for(cid)) for cid in cids] == [1] * 5
    assert "Listing the campaigns for batch polling failed" in caplog.text
    assert "503" in caplog.text
