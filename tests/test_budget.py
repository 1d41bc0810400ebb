"""The rate budget (budget.py) on a clock of the test's own, and the coalescing table (coalesce.py)."""

from __future__ import annotations

import asyncio
import json
import math

import jsonschema
import pytest

from airflow_provider_sigmamind.answers import campaign_from_json
from airflow_provider_sigmamind.budget import BETA, RateBudget, RateBudgets, budget_key
from airflow_provider_sigmamind.coalesce import SharedPolls
from airflow_provider_sigmamind.compat import Connection
from airflow_provider_sigmamind.config import SigmaMindConfig
from airflow_provider_sigmamind.exceptions import (
    SigmaMindInvalidInputError,
    SigmaMindServerError,
    SigmaMindTransportError,
)
from airflow_provider_sigmamind.get_provider_info import get_provider_info
from airflow_provider_sigmamind.models import Campaign


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def sends(budget: RateBudget, clock: Clock, seconds: float) -> list[float]:
    """Every send a greedy sender makes in ``seconds``: reserve, sleep the delay, send, again."""
    times = []
    end = clock.now + seconds
    while True:
        delay = budget.reserve()
        assert delay is not None
        if clock.now + delay >= end:
            return times
        clock.now += delay
        times.append(clock.now)


def test_no_budget_is_no_wait():
    budget = RateBudget(None)
    assert [budget.reserve() for _ in range(1000)] == [0.0] * 1000
    assert budget.rate == math.inf


def test_a_first_burst_of_one_seconds_worth_then_the_rate():
    clock = Clock()
    budget = RateBudget(20, clock=clock)
    start = clock.now
    times = sends(budget, clock, 5.0)
    assert sum(t == start for t in times) == 20  # the burst: one second's worth at once
    for second in range(1, 5):
        in_second = [t for t in times if start + second <= t < start + second + 1]
        assert len(in_second) == 20


def test_a_wait_that_does_not_fit_the_deadline_takes_no_token():
    clock = Clock()
    budget = RateBudget(1, clock=clock)
    assert budget.reserve(limit=10) == 0.0
    assert budget.reserve(limit=0.5) is None  # the next token is 1 s away
    assert budget.reserve(limit=10) == pytest.approx(1.0)  # it was not taken by the refusal


def test_a_429_holds_everyone_until_retry_after_then_the_rate_grows_back_cubic():
    clock = Clock()
    budget = RateBudget(100, clock=clock)
    sends(budget, clock, 3.0)  # sending at the budget, 100/s
    budget.throttled(retry_after=2.0)
    throttled_at = clock.now
    assert budget.rate == pytest.approx(BETA * 100, rel=0.05)
    assert budget.reserve() == pytest.approx(2.0)  # nobody before Retry-After has passed
    budget.throttled(retry_after=0.1)  # a second 429 of the same burst: no second cut
    assert budget.throttles == 1
    clock.now = throttled_at + 2.0
    rates = []
    for _ in range(40):
        clock.now += 0.25
        budget.reserve()
        rates.append(budget.rate)
    assert rates == sorted(rates)  # grows back gradually...
    assert rates[0] < 100
    assert rates[-1] == 100  # ...to the budget, where the adaptive rate lets go
    assert not budget.adaptive


def test_the_senders_held_by_retry_after_leave_at_the_new_rate_not_in_a_burst():
    clock = Clock()
    budget = RateBudget(None, clock=clock)
    for _ in range(4):  # 1,000 requests a second, unlimited
        for _ in range(500):
            budget.reserve()
        clock.now += 0.5
    budget.throttled(retry_after=0.5)
    held_until = clock.now + 0.5
    starts = sorted(clock.now + budget.reserve() for _ in range(300))  # 300 senders, all held
    assert starts[0] == pytest.approx(held_until)
    in_first_tenth = sum(t < held_until + 0.1 for t in starts)
    assert in_first_tenth <= BETA * 1000 * 0.1 + 1  # paced at the new rate, not a second's worth at once


def test_a_429_without_any_budget_starts_an_adaptive_rate():
    clock = Clock()
    budget = RateBudget(None, clock=clock)
    for _ in range(10):  # 200 requests a second, unlimited
        for _ in range(100):
            budget.reserve()
        clock.now += 0.5
    budget.throttled(None)
    assert budget.adaptive
    assert budget.rate == pytest.approx(BETA * 200, rel=0.1)


def test_a_new_budget_is_not_held_up_by_the_tokens_of_the_old_one():
    clock = Clock()
    budget = RateBudget(0.01, clock=clock)  # one request per 100 s
    assert budget.reserve() == 0.0
    assert budget.reserve() == pytest.approx(100.0)
    budget.set_limit(100)  # the connection was edited
    assert budget.reserve() == 0.0


def test_budgets_are_filed_by_a_hash_never_the_key():
    registry = RateBudgets()
    one = registry.get("secret-key-1", "http://127.0.0.1:1", 5)
    assert registry.get("secret-key-1", "http://127.0.0.1:1", 5) is one
    assert registry.get("secret-key-1", "http://127.0.0.1:2", 5) is not one
    assert registry.get("secret-key-2", "http://127.0.0.1:1", 5) is not one
    assert "secret-key-1" not in repr(registry._by_key)
    assert budget_key("secret-key-1", "http://127.0.0.1:1") in registry._by_key
    assert registry.get("secret-key-1", "http://127.0.0.1:1", 7) is one
    assert one.configured == 7


# -- coalescing ------------------------------------------------------------------------------------


def campaign(status: str = "live") -> Campaign:
    payload = {"campaignId": "camp_1", "campaignName": "x", "campaignStatus": status}
    return campaign_from_json(payload, status_code=200, method="GET", path="/v1/campaigns/camp_1", campaign_id="camp_1")


def unavailable() -> SigmaMindServerError:
    return SigmaMindServerError("SigmaMind failed (HTTP 503)", status_code=503, campaign_id="camp_1")


def test_waiters_share_one_request_and_get_their_own_copy_of_its_error():
    polls = SharedPolls()
    calls = 0

    async def failing() -> Campaign:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        raise unavailable()

    async def main() -> list[BaseException]:
        got = await asyncio.gather(
            *(polls.get("acct", "camp_1", 10, 5, failing) for _ in range(5)), return_exceptions=True
        )
        return list(got)

    errors = asyncio.run(main())
    assert calls == 1
    assert all(isinstance(err, SigmaMindServerError) and err.status_code == 503 for err in errors)
    assert len({id(err) for err in errors}) == 5
    errors[0].add_detail("; mine")  # type: ignore[attr-defined]
    assert [str(err) for err in errors[1:]] == ["SigmaMind failed (HTTP 503)"] * 4


class CountedFetch:
    """A fetch that answers ``outcomes`` in turn (a campaign, or an error it raises), then a live
    campaign, counting its calls; call number ``hold`` sets :attr:`asked` and waits for :attr:`gate`."""

    def __init__(self, *outcomes: Campaign | Exception, hold: int | None = None) -> None:
        self.calls = 0
        self._outcomes = list(outcomes)
        self._hold = hold
        self.asked, self.gate = asyncio.Event(), asyncio.Event()

    async def __call__(self) -> Campaign:
        self.calls += 1
        if self.calls == self._hold:
            self.asked.set()
            await self.gate.wait()
        outcome = self._outcomes.pop(0) if self._outcomes else campaign()
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def test_an_answer_is_reused_for_max_age_then_asked_again():
    polls = SharedPolls()
    fetch = CountedFetch()

    async def main() -> None:
        await polls.get("acct", "camp_1", 0.05, 5, fetch)
        await polls.get("acct", "camp_1", 0.05, 5, fetch)
        assert fetch.calls == 1
        await polls.get("other", "camp_1", 0.05, 5, fetch)  # another account asks for itself
        assert fetch.calls == 2
        await asyncio.sleep(0.06)
        await polls.get("acct", "camp_1", 0.05, 5, fetch)
        assert fetch.calls == 3

    asyncio.run(main())


def test_an_answer_only_one_wait_watches_is_not_kept_and_is_shared_once_a_second_joins():
    polls = SharedPolls()
    fetch = CountedFetch()

    async def main() -> None:
        assert not polls.alone("acct", "camp_1")  # nobody has joined: kept, as for any caller
        polls.join("acct", "camp_1")
        assert polls.alone("acct", "camp_1")  # the hook then asks straight away, without get()
        await polls.get("acct", "camp_1", 10, 5, fetch)
        await polls.get("acct", "camp_1", 10, 5, fetch)
        assert fetch.calls == 2  # nobody else would read it: asked again, nothing held in between
        assert polls._table().entries == {}
        polls.join("acct", "camp_1")  # a second wait on the same campaign
        assert not polls.alone("acct", "camp_1")
        await polls.get("acct", "camp_1", 10, 5, fetch)
        await polls.get("acct", "camp_1", 10, 5, fetch)
        assert fetch.calls == 3
        polls.leave("acct", "camp_1")
        polls.leave("acct", "camp_1")
        polls.leave("acct", "camp_1")  # one too many changes nothing
        assert polls._table().watchers == {}

    asyncio.run(main())


def test_a_follower_waits_no_longer_than_its_own_deadline_and_survives_the_leaders_cancellation():
    polls = SharedPolls()
    calls = 0

    async def main() -> None:
        gate = asyncio.Event()

        async def slow() -> Campaign:
            nonlocal calls
            calls += 1
            await gate.wait()
            return campaign()

        leader = asyncio.create_task(polls.get("acct", "camp_1", 10, 5, slow))
        await asyncio.sleep(0)
        with pytest.raises(SigmaMindTransportError, match="no time left"):
            await polls.get("acct", "camp_1", 10, 0.01, slow)  # its deadline, not the leader's
        follower = asyncio.create_task(polls.get("acct", "camp_1", 10, 5, slow))
        await asyncio.sleep(0)
        leader.cancel()
        await asyncio.sleep(0)
        gate.set()  # the follower asks again itself
        assert (await follower).status.value == "live"
        assert calls == 2

    asyncio.run(main())


def test_an_answer_is_asked_for_ahead_and_the_polls_meanwhile_get_the_one_it_replaces():
    """A slow request (a batch round) holds up the one poll that asks ahead, not the others."""
    polls = SharedPolls()
    fetch = CountedFetch(campaign("live"), campaign("completed"), hold=2)

    async def main() -> None:
        first = await polls.get("acct", "camp_1", 10, 5, fetch)
        polls._table().entries[("acct", "camp_1")].took = 10.0  # type: ignore[union-attr]  # as slow as max_age
        ahead = asyncio.create_task(polls.get("acct", "camp_1", 10, 5, fetch))
        await asyncio.wait_for(fetch.asked.wait(), 5)
        assert await polls.get("acct", "camp_1", 10, 5, fetch) is first  # not held up by the request ahead
        assert not ahead.done()
        fetch.gate.set()
        assert (await ahead).status.value == "completed"
        assert (await polls.get("acct", "camp_1", 10, 5, fetch)).status.value == "completed"
        assert fetch.calls == 2

    asyncio.run(main())


def test_a_failed_ask_ahead_leaves_the_old_answer_until_it_expires_and_is_not_repeated_before():
    polls = SharedPolls()
    fetch = CountedFetch(campaign("live"), unavailable(), campaign("completed"))

    async def main() -> None:
        first = await polls.get("acct", "camp_1", 10, 5, fetch)
        polls._table().entries[("acct", "camp_1")].took = 10.0  # type: ignore[union-attr]
        with pytest.raises(SigmaMindServerError):
            await polls.get("acct", "camp_1", 10, 5, fetch)  # the poll that asked ahead gets the failure
        assert await polls.get("acct", "camp_1", 10, 5, fetch) is first  # the others: the old answer
        assert fetch.calls == 2
        polls._table().entries[("acct", "camp_1")].at -= 10.0  # type: ignore[union-attr]  # max_age later
        assert (await polls.get("acct", "camp_1", 10, 5, fetch)).status.value == "completed"
        assert fetch.calls == 3

    asyncio.run(main())


# -- the connection extra --------------------------------------------------------------------------


def budget_connection(value: object) -> Connection:
    extra = json.dumps({"max_requests_per_second": value})
    return Connection(conn_id="sm", conn_type="sigmamind", host="http://127.0.0.1:1", password="k" * 12, extra=extra)


def test_the_extra_sets_the_budget_and_empty_means_no_limit():
    assert SigmaMindConfig.from_connection(budget_connection("2.5")).max_requests_per_second == 2.5
    assert SigmaMindConfig.from_connection(budget_connection("")).max_requests_per_second is None
    with pytest.raises(SigmaMindInvalidInputError, match="max_requests_per_second"):
        SigmaMindConfig.from_connection(budget_connection(0))
    field = get_provider_info()["connection-types"][0]["conn-fields"]["max_requests_per_second"]
    jsonschema.validate(2.5, field["schema"])
    jsonschema.validate(None, field["schema"])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(0, field["schema"])
