"""CampaignStatusTrigger, driven through ``run()`` against the simulator over real HTTP."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import psutil
import pytest

from airflow_provider_sigmamind import watch as watch_module
from airflow_provider_sigmamind.hooks.sigmamind import ASYNC_MAX_CONNECTIONS, _shared_async_clients
from airflow_provider_sigmamind.retry import RetryPolicy
from airflow_provider_sigmamind.simulator import Fault
from airflow_provider_sigmamind.triggers.campaign import CampaignStatusTrigger
from tests.conftest import CANARY_API_KEY

UNAVAILABLE = Fault.status(503, headers={"Retry-After": "0"})


@pytest.fixture(autouse=True)
def zero_backoff(monkeypatch):
    monkeypatch.setattr(CampaignStatusTrigger, "retry_policy", RetryPolicy(backoff_initial=0, jitter=lambda: 0))


def make_trigger(campaign_id: str, **kwargs: Any) -> CampaignStatusTrigger:
    kwargs.setdefault("poll_interval", 0)
    return CampaignStatusTrigger(campaign_id=campaign_id, **kwargs)


async def collect(trigger: CampaignStatusTrigger, *, alone: bool = True) -> list[dict[str, Any]]:
    """Every event the trigger yields; when it ran alone, check that it gave its HTTP client back."""
    events = [event.payload async for event in trigger.run()]
    if alone:
        assert _shared_async_clients.open_pools() == 0
    return events


def run_trigger(trigger: CampaignStatusTrigger) -> dict[str, Any]:
    """Run the trigger to its end; it must yield exactly one JSON event."""
    events = asyncio.run(collect(trigger))
    assert len(events) == 1, events
    assert json.loads(json.dumps(events[0])) == events[0]
    return events[0]


def sockets_to(port: int) -> list[Any]:
    """This process's TCP connections to ``port`` on 127.0.0.1 (the client's side of the pool)."""
    return [c for c in psutil.Process().net_connections(kind="tcp") if c.raddr and c.raddr.port == port]


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll a condition the simulator's thread will make true."""
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "condition not met in time"
        time.sleep(0.01)


# -- construction and serialization ---------------------------------------------------------------


def test_serialize_round_trips_primitives_without_the_key():
    trigger = CampaignStatusTrigger(
        campaign_id="camp_XiQEBcj9cc5TFRB4",
        sigmamind_conn_id="sm",
        target_statuses=["LIVE"],
        failure_statuses="paused",
        poll_interval=10,
        deadline="2030-01-01T00:00:00Z",
        max_consecutive_errors=5,
    )
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_sigmamind.triggers.campaign.CampaignStatusTrigger"
    assert kwargs == {
        "campaign_id": "camp_XiQEBcj9cc5TFRB4",
        "sigmamind_conn_id": "sm",
        "target_statuses": ["live"],
        "failure_statuses": ["paused"],
        "poll_interval": 10.0,
        "deadline": datetime(2030, 1, 1, tzinfo=UTC).timestamp(),
        "max_consecutive_errors": 5,
        "poll_at_start": True,
    }
    assert json.loads(json.dumps(kwargs)) == kwargs
    assert CampaignStatusTrigger(**kwargs).serialize() == (classpath, kwargs)


def test_serialized_through_airflow_and_back():
    from airflow.serialization.serialized_objects import BaseSerialization

    trigger = make_trigger("camp_A", deadline=1_900_000_000.5)
    classpath, kwargs = trigger.serialize()
    restored = BaseSerialization.deserialize(BaseSerialization.serialize(kwargs))
    assert CampaignStatusTrigger(**restored).serialize() == (classpath, kwargs)


@pytest.mark.parametrize(
    ("deadline", "expected"),
    [
        (None, None),
        (1_900_000_000, 1_900_000_000.0),
        ("2030-01-01T00:00:00+00:00", datetime(2030, 1, 1, tzinfo=UTC).timestamp()),
        (datetime(2030, 1, 1, 2, tzinfo=UTC), datetime(2030, 1, 1, 2, tzinfo=UTC).timestamp()),
    ],
)
def test_deadline_forms(deadline, expected):
    assert make_trigger("c", deadline=deadline).deadline == expected


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"deadline": "tomorrow"}, "not an epoch time"),
        ({"deadline": "2030-01-01T00:00:00"}, "time zone"),
        ({"deadline": float("nan")}, "seconds since the epoch"),
        ({"deadline": True}, "seconds since the epoch"),
        ({"poll_interval": -1}, "poll_interval"),
        ({"max_consecutive_errors": 0}, "max_consecutive_errors"),
        ({"target_statuses": []}, "at least one status"),
        ({"target_statuses": ["done"]}, "'done' is not a campaign status"),
        ({"campaign_id": "a\nb"}, "control characters"),
    ],
)
def test_bad_arguments_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CampaignStatusTrigger(**{"campaign_id": "c", **kwargs})


# -- outcomes ----------------------------------------------------------------------------------------


def test_success_after_waiting_through_an_unknown_status(sigmamind_conn, simulator, capsys):
    served = simulator.add_campaign(script=["scheduled", "scheduled", "archived", "archived", "live"])
    event = run_trigger(make_trigger(served["campaignId"]))
    assert event == {"status": "success", "campaign": simulator.campaign(served["campaignId"])}
    assert event["campaign"]["campaignStatus"] == "live"
    assert len(simulator.requests_for(served["campaignId"])) == 5
    out = capsys.readouterr().out
    assert out.count("has unknown status 'archived'") == 1  # warned once, not per poll
    assert out.count("is now 'archived'") == 1  # logged at the change, not per poll
    assert out.count("is now 'scheduled'") == 1


def test_failure_status(sigmamind_conn, simulator):
    served = simulator.add_campaign(script=["scheduled", "paused"])
    event = run_trigger(make_trigger(served["campaignId"], failure_statuses=["paused"]))
    assert event == {
        "status": "failure",
        "message": f"campaign {served['campaignId']!r} is paused, which is a failure status for this wait",
        "campaign_id": served["campaignId"],
    }


def test_completed_while_only_live_will_do(sigmamind_conn, simulator):
    served = simulator.add_campaign(script=["scheduled", "completed"])
    event = run_trigger(make_trigger(served["campaignId"], target_statuses="live"))
    assert event["status"] == "failure"
    assert "can never become live again" in event["message"]


def test_transient_faults_are_retried_inside_the_trigger(sigmamind_conn, simulator):
    served = simulator.add_campaign(
        script=["scheduled", UNAVAILABLE, Fault.drop(), Fault.rate_limit(retry_after=0), UNAVAILABLE, "live"]
    )
    event = run_trigger(make_trigger(served["campaignId"], max_consecutive_errors=2))
    assert event["status"] == "success"
    # poll 2 spends the hook's 3 attempts (503, drop, 429): one failed poll, tolerated; poll 3 succeeds.
    assert [r.status for r in simulator.requests_for(served["campaignId"])] == [200, 503, None, 429, 503, 200]


def test_an_exhausted_retry_budget_is_an_error_event(sigmamind_conn, simulator):
    served = simulator.add_campaign(script=["scheduled", UNAVAILABLE])
    event = run_trigger(make_trigger(served["campaignId"], max_consecutive_errors=2))
    assert event["status"] == "error"
    assert event["error_class"] == "SigmaMindServerError"
    assert event["status_code"] == 503
    assert event["message"].endswith("(gave up after 3 attempts in 0.0s); 2 polls in a row failed, giving up")
    assert len(simulator.requests_for(served["campaignId"])) == 1 + 2 * 3


@pytest.mark.parametrize(
    ("fault", "error_class"),
    [
        (Fault.status(401), "SigmaMindAuthError"),
        (Fault.status(404), "SigmaMindNotFoundError"),
        (Fault.status(422), "SigmaMindRejectedError"),
        (Fault.malformed("html"), "SigmaMindResponseError"),
        (Fault.redirect("http://127.0.0.1:9/elsewhere"), "SigmaMindResponseError"),
    ],
)
def test_permanent_errors_end_the_wait_at_once(sigmamind_conn, simulator, fault, error_class):
    served = simulator.add_campaign(script=["scheduled", fault, "live"])
    event = run_trigger(make_trigger(served["campaignId"]))
    assert (event["status"], event["error_class"]) == ("error", error_class)
    assert len(simulator.requests_for(served["campaignId"])) == 2
    assert CANARY_API_KEY not in json.dumps(event)


def test_deadline_gives_an_error_event_after_a_last_look(sigmamind_conn, simulator):
    served = simulator.add_campaign(script=["scheduled"])
    deadline = time.time() + 0.3
    event = run_trigger(make_trigger(served["campaignId"], poll_interval=0.1, deadline=deadline))
    assert event["status"] == "error"
    assert event["error_class"] == "AirflowSensorTimeout"
    assert "did not reach completed or live by the sensor's deadline" in event["message"]
    polls = simulator.requests_for(served["campaignId"])
    assert 3 <= len(polls) <= 6
    assert time.time() >= deadline


def test_a_trigger_started_by_the_sensor_waits_an_interval_before_its_first_poll(sigmamind_conn, simulator):
    served = simulator.add_campaign(status="live")
    started = time.monotonic()
    event = run_trigger(make_trigger(served["campaignId"], poll_interval=0.3, poll_at_start=False))
    assert event["status"] == "success"
    assert time.monotonic() - started >= 0.3
    assert len(simulator.requests_for(served["campaignId"])) == 1


def test_a_passed_deadline_still_looks_once(sigmamind_conn, simulator):
    served = simulator.add_campaign(status="live")
    event = run_trigger(make_trigger(served["campaignId"], deadline=time.time() - 60))
    assert event["status"] == "success"


def test_a_missing_connection_is_an_error_event_not_an_exception(simulator, monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_SIGMAMIND_DEFAULT", raising=False)
    event = run_trigger(make_trigger("camp_A", sigmamind_conn_id="no_such_conn"))
    assert event["status"] == "error"
    assert "no_such_conn" in event["message"]


def test_a_bug_still_ends_the_wait_with_an_event(sigmamind_conn, simulator, monkeypatch):
    def broken_judge(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("judge exploded")

    monkeypatch.setattr(watch_module, "judge", broken_judge)
    served = simulator.add_campaign(status="live")
    event = run_trigger(make_trigger(served["campaignId"]))
    assert (event["status"], event["error_class"], event["message"]) == ("error", "RuntimeError", "judge exploded")


# -- the HTTP client: one per loop, closed on every exit path ----------------------------------------


@pytest.mark.parametrize("where", ["sleeping between polls", "in the middle of a request"])
def test_cancellation_propagates_and_releases_the_client(sigmamind_conn, simulator, where):
    if where == "sleeping between polls":
        served = simulator.add_campaign(script=["scheduled"])
        trigger = make_trigger(served["campaignId"], poll_interval=60)
    else:
        served = simulator.add_campaign(script=[Fault.slow(30)])
        trigger = make_trigger(served["campaignId"])

    async def scenario() -> None:
        task = asyncio.create_task(collect(trigger))
        while not simulator.requests_for(served["campaignId"]):
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        assert _shared_async_clients.open_pools() == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert _shared_async_clients.open_pools() == 0

    asyncio.run(scenario())
    assert sockets_to(simulator.port) == []


def test_many_triggers_share_a_bounded_pool(sigmamind_conn, simulator):
    campaigns = [simulator.add_campaign(script=["scheduled", "scheduled", "live"]) for _ in range(100)]

    async def scenario() -> list[list[dict[str, Any]]]:
        return await asyncio.gather(*(collect(make_trigger(c["campaignId"]), alone=False) for c in campaigns))

    results = asyncio.run(scenario())
    assert sockets_to(simulator.port) == []
    assert all(events == [{"status": "success", "campaign": events[0]["campaign"]}] for events in results)
    stats = simulator.stats
    assert stats["total_requests"] == 300
    assert stats["peak_open_connections"] <= ASYNC_MAX_CONNECTIONS
    assert stats["total_connections"] <= ASYNC_MAX_CONNECTIONS
    wait_for(lambda: simulator.stats["open_connections"] == 0)


def test_the_key_travels_only_in_its_header(sigmamind_conn, simulator, caplog):
    served = simulator.add_campaign(script=["scheduled", Fault.status(401)])
    event = run_trigger(make_trigger(served["campaignId"]))
    assert event["error_class"] == "SigmaMindAuthError"
    assert all(r.api_key_sent and r.authorized for r in simulator.requests_for(served["campaignId"]))
    assert all(CANARY_API_KEY not in r.raw_path + repr(r.headers) for r in simulator.requests)
    assert CANARY_API_KEY not in caplog.text + json.dumps(event)
