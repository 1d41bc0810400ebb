"""watch: one poll of a wait is bounded by the time left to the wait's deadline, polls keep their
schedule, and a wait's verdicts."""

from __future__ import annotations

import logging

import pytest

from airflow_provider_sigmamind import watch as watch_module
from airflow_provider_sigmamind.models import Campaign, CampaignStatus, parse_campaign
from airflow_provider_sigmamind.retry import RetryPolicy
from airflow_provider_sigmamind.watch import CampaignWatch, next_poll_at, poll_place, poll_policy

POLICY = RetryPolicy(max_retries=5, backoff_initial=0.5, deadline=300, jitter=lambda: 0)
NOW = 1_900_000_000.0


@pytest.mark.parametrize(
    ("deadline", "budget"),
    [
        (None, 300),  # no deadline: the hook's own budget
        (NOW + 1000, 300),  # far away: the hook's own budget
        (NOW + 42, 42),  # the time left
        (NOW + 3, 10),  # less left than one request timeout: one request timeout
        (NOW - 60, 10),  # the last look, after the deadline: one request timeout
    ],
)
def test_a_poll_has_the_time_left_and_at_least_one_request_timeout(deadline, budget):
    policy = poll_policy(POLICY, timeout=10, deadline=deadline, now=NOW)
    assert policy.deadline == budget
    assert (policy.max_retries, policy.backoff_initial, policy.jitter) == (5, 0.5, POLICY.jitter)


def test_the_hooks_policy_is_returned_as_it_is_when_it_fits():
    assert poll_policy(POLICY, timeout=10, deadline=None) is POLICY
    assert poll_policy(POLICY, timeout=10, deadline=NOW + 301, now=NOW) is POLICY


@pytest.mark.parametrize(
    ("due", "now", "expected"),
    [
        (100.0, 100.2, 110.0),  # the last poll was on time: an interval after it was due
        (100.0, 107.5, 110.0),  # it was woken late or took long: still an interval after it was due
        (100.0, 113.0, 120.0),  # more than an interval behind: the wait's next place after now
        (100.0, 130.0, 130.0),  # exactly on a later place
    ],
)
def test_the_next_poll_is_due_an_interval_after_the_last_was_due(due, now, expected):
    assert next_poll_at(due, now, 10.0) == pytest.approx(expected)


def test_with_no_interval_the_next_poll_is_due_now():
    assert next_poll_at(100.0, 105.0, 0.0) == 105.0


@pytest.mark.parametrize("now", [100.0, 103.7, 109.99, 250.0])
def test_a_campaigns_place_in_the_interval_does_not_depend_on_when_its_wait_began(now):
    place = poll_place("camp_1", now, 10.0)
    assert now <= place < now + 10.0
    assert place % 10.0 == pytest.approx(poll_place("camp_1", 0.0, 10.0), abs=1e-6)
    assert now + 10.0 <= next_poll_at(place, now, 10.0) < now + 20.0  # the second poll: one to two intervals on


def test_waits_that_begin_together_are_spread_over_the_interval():
    places = [poll_place(f"camp_{i}", 100.0, 10.0) for i in range(1000)]
    tenths = [sum(100.0 + k <= p < 101.0 + k for p in places) for k in range(10)]
    assert sum(tenths) == 1000
    assert max(tenths) < 130, tenths  # 100 each if even; waits placed by when they began: all 1,000 in one


def test_with_no_interval_a_wait_polls_from_now():
    assert poll_place("camp_1", 105.0, 0.0) == 105.0


def _campaign(status: str, campaign_id: str = "c1") -> Campaign:
    return parse_campaign({"campaignId": campaign_id, "campaignStatus": status})


def test_a_watch_judges_a_status_once_and_anew_when_it_changes(mocker):
    """Most polls see what the last one saw: its verdict is kept, never one for another status or campaign."""
    judge = mocker.spy(watch_module, "judge")
    watch = CampaignWatch(
        targets=[CampaignStatus.LIVE], failures=[], max_consecutive_errors=3, log=logging.getLogger("test")
    )
    outcomes = [watch.observe(_campaign(status)).outcome for status in ("scheduled", "scheduled", "scheduled")]
    assert outcomes == ["wait", "wait", "wait"]
    assert judge.call_count == 1
    other = watch.observe(_campaign("scheduled", campaign_id="c2"))
    assert "'c2'" in other.reason
    assert watch.observe(_campaign("live")).outcome == "success"
    assert watch.observe(_campaign("completed")).outcome == "failure"
    assert judge.call_count == 4
