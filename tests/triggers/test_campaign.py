"""CampaignStatusTrigger, driven through ``run()`` against the simulator over real HTTP."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import psutil
import pytest

from airflow_provider_sigmamind import watch as watch_module
from airflow_provider_sigmamind.retry import RetryPolicy
from airflow_provider_sigmamind.simulator import Fault
from airflow_provider_sigmamind.transport.pool import ASYNC_MAX_CONNECTIONS, shared_sessions
from airflow_provider_sigmamind.triggers.campaign import CampaignStatusTrigger
from tests.helpers import CANARY_API_KEY, SLACK, connection_json
from tests.reliability.harness import waited_figures

UNAVAILABLE = Fault.status(503, headers={"Retry-After": "0"})
#: Retries without waiting; the number of retries still comes from the connection (2, see conftest).
ZERO_BACKOFF = {"backoff_initial": 0, "backoff_max": 0}


def make_trigger(campaign_id: str, **kwargs: Any) -> CampaignStatusTrigger:
    kwargs.setdefault("poll_interval", 0)
    kwargs.setdefault("retry_policy", ZERO_BACKOFF)
    return CampaignStatusTrigger(campaign_id=campaign_id, **kwargs)


async def collect(trigger: CampaignStatusTrigger, *, alone: bool = True) -> list[dict[str, Any]]:
    """Every event the trigger yields; when it ran alone, check that it gave its HTTP client back."""
    events = [event.payload async for event in trigger.run()]
    if alone:
        assert shared_sessions.open_sessions() == 0
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
        "retry_policy": None,
        "timeout": None,
        "started": None,
        "last_status": None,
        "consecutive_errors": 0,
        "execution_deadline": None,
        "silent_fail": False,
    }
    assert json.loads(json.dumps(kwargs)) == kwargs
    assert CampaignStatusTrigger(**kwargs).serialize() == (classpath, kwargs)


def test_the_wait_so_far_round_trips_as_primitives():
    policy = RetryPolicy(max_retries=4, backoff_initial=0.5, backoff_max=8, retry_after_max=20, deadline=90)
    trigger = make_trigger(
        "camp_A",
        retry_policy=policy.to_kwargs(),
        timeout=12,
        started="2030-01-01T00:00:00Z",
        last_status="Scheduled",
        consecutive_errors=2,
    )
    classpath, kwargs = trigger.serialize()
    assert kwargs["retry_policy"] == {
        "max_retries": 4,
        "backoff_initial": 0.5,
        "backoff_max": 8,
        "retry_after_max": 20,
        "deadline": 90,
    }
    assert (kwargs["timeout"], kwargs["started"]) == (12.0, datetime(2030, 1, 1, tzinfo=UTC).timestamp())
    assert (kwargs["last_status"], kwargs["consecutive_errors"]) == ("Scheduled", 2)
    assert json.loads(json.dumps(kwargs)) == kwargs
    assert CampaignStatusTrigger(**kwargs).serialize() == (classpath, kwargs)
    assert RetryPolicy.from_kwargs(kwargs["retry_policy"]) == policy


def test_kwargs_of_the_previous_release_still_build_a_trigger():
    previous = {
        "campaign_id": "camp_XiQEBcj9cc5TFRB4",
        "sigmamind_conn_id": "sm",
        "target_statuses": ["live"],
        "failure_statuses": [],
        "poll_interval": 10.0,
        "deadline": 1_900_000_000.0,
        "max_consecutive_errors": 2,
        "poll_at_start": False,
    }
    _, kwargs = CampaignStatusTrigger(**previous).serialize()
    assert kwargs == {
        **previous,
        "retry_policy": None,
        "timeout": None,
        "started": None,
        "last_status": None,
        "consecutive_errors": 0,
        "execution_deadline": None,
        "silent_fail": False,
    }


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
        ({"retry_policy": {"backoff_max": -1}}, "RetryPolicy.backoff_max"),
        ({"retry_policy": [1, 2]}, "retry_policy: expected a mapping"),
        ({"timeout": 0}, "timeout must be a number of seconds"),
        ({"timeout": "30"}, "timeout must be a number of seconds"),
        ({"started": "yesterday"}, "started: 'yesterday' is not an epoch time"),
        ({"last_status": 3}, "last_status must be a string"),
        ({"consecutive_errors": -1}, "consecutive_errors"),
        ({"consecutive_errors": 3, "max_consecutive_errors": 3}, "consecutive_errors"),
        ({"execution_deadline": "soon"}, "execution_deadline: 'soon' is not an epoch time"),
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
    assert re.search(r"\(gave up after 3 attempts in \d+\.\ds\); 2 polls in a row failed, giving up$", event["message"])
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
    # Started as the sensor starts it (it has just looked), with less time left than one interval: the
    # trigger sleeps until the deadline, looks once more, and only then gives up. Whatever the load, that
    # is exactly one poll, made at the deadline, and the event comes no earlier than the deadline.
    served = simulator.add_campaign(script=["scheduled"])
    deadline, deadline_monotonic = time.time() + 0.3, time.monotonic() + 0.3
    event = run_trigger(make_trigger(served["campaignId"], poll_interval=60, deadline=deadline, poll_at_start=False))
    assert time.time() >= deadline
    assert event["status"] == "error"
    assert event["error_class"] == "AirflowSensorTimeout"
    assert "did not reach completed or live by the sensor's deadline" in event["message"]
    (last_look,) = simulator.requests_for(served["campaignId"])
    assert last_look.status == 200
    assert last_look.started_at >= deadline_monotonic - 0.005  # the two clocks were read microseconds apart


def test_the_execution_deadline_ends_the_wait_when_it_comes_first(sigmamind_conn, simulator):
    served = simulator.add_campaign(script=["scheduled"])
    ends = time.time() + 0.3
    trigger = make_trigger(
        served["campaignId"], poll_interval=60, poll_at_start=False, deadline=ends + 600, execution_deadline=ends
    )
    event = run_trigger(rebuilt(trigger))
    assert time.time() >= ends
    assert (event["status"], event["error_class"]) == ("error", "AirflowTaskTimeout")
    assert "before the task's execution_timeout" in event["message"]
    assert len(simulator.requests_for(served["campaignId"])) == 1  # the last look


def test_silent_fail_keeps_polling_through_errors_until_the_deadline(sigmamind_conn, simulator):
    served = simulator.add_campaign(script=[Fault.status(404), UNAVAILABLE, Fault.status(401), "live"])
    trigger = make_trigger(served["campaignId"], max_consecutive_errors=1, silent_fail=True, deadline=time.time() + 30)
    assert run_trigger(rebuilt(trigger))["status"] == "success"
    assert [r.status for r in simulator.requests_for(served["campaignId"])] == [404, 503, 401, 200]


def test_silent_fail_still_ends_on_a_failure_status_and_at_the_deadline(sigmamind_conn, simulator):
    paused = simulator.add_campaign(script=[Fault.status(404), "paused"])
    event = run_trigger(make_trigger(paused["campaignId"], failure_statuses=["paused"], silent_fail=True))
    assert event["status"] == "failure"
    gone = simulator.add_campaign(script=[Fault.status(404)])
    soon = time.time() + 0.3
    event = run_trigger(make_trigger(gone["campaignId"], silent_fail=True, poll_interval=0.05, deadline=soon))
    assert event["error_class"] == "AirflowSensorTimeout"


def test_a_poll_never_runs_past_the_deadline_on_the_hooks_retry_budget(simulator, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_SIGMAMIND_DEFAULT", connection_json(simulator.url, timeout=0.5, max_retries=20))
    served = simulator.add_campaign(script=[Fault.slow(30)])
    started = time.monotonic()
    event = run_trigger(make_trigger(served["campaignId"], deadline=time.time() + 1.0, max_consecutive_errors=5))
    assert event["error_class"] == "AirflowSensorTimeout"
    # 1 s to the deadline, then a last look of at most one request timeout (0.5 s): at most four
    # requests of 0.5 s. The hook alone would retry 20 times (10 s) per poll.
    assert len(simulator.requests_for(served["campaignId"])) <= 4
    assert time.monotonic() - started < 1.0 + 0.5 + SLACK


def test_a_trigger_started_by_the_sensor_waits_an_interval_before_its_first_poll(sigmamind_conn, simulator):
    served = simulator.add_campaign(status="live")
    started = time.monotonic()
    event = run_trigger(make_trigger(served["campaignId"], poll_interval=0.3, poll_at_start=False))
    assert event["status"] == "success"
    assert time.monotonic() - started >= 0.3
    assert len(simulator.requests_for(served["campaignId"])) == 1


def test_a_poll_that_answered_late_does_not_push_the_next_one_back(sigmamind_conn, simulator):
    """Polls are due an interval apart, however long each took: 0.3 s answers do not make the
    third poll 0.8 s after the second was due (waits woken late would otherwise bunch for good)."""
    served = simulator.add_campaign(status="scheduled")
    simulator.inject(Fault.slow(0.3), campaign_id=served["campaignId"], times=None)
    began = time.monotonic()  # the simulator's clock
    # The third poll is due at most 1.5 s after the wait began; the deadline leaves room to start late.
    event = run_trigger(make_trigger(served["campaignId"], poll_interval=0.5, deadline=time.time() + 2.5))
    assert event["error_class"] == "AirflowSensorTimeout"
    _, second, third = simulator.requests_for(served["campaignId"])[:3]
    assert second.started_at - began >= 0.5  # due one to two intervals after the wait began
    due = watch_module.poll_place(served["campaignId"], second.started_at - 0.1, 0.5)  # when it was due
    assert due <= second.started_at < due + 0.1
    assert due + 0.5 <= third.started_at < due + 0.5 + 0.2  # not due + 0.3 + 0.5


def test_waits_started_together_poll_at_their_campaigns_places_in_the_interval(sigmamind_conn, simulator):
    """The polls after the first keep the campaign's own place in the interval, not the moment the
    wait began: 40 waits started at once make their second polls spread over the interval, each at
    its campaign's place (``watch.poll_place``), one to two intervals after the wait began.

    Counted from when the wait began, not from its first request: that one is due at once but can
    reach the API late (40 connection lookups at once took a loaded CI machine 0.3 s), and like any
    late poll it does not push the next one back (``watch.next_poll_at``)."""
    interval = 1.0
    ids = [simulator.add_campaign(status="scheduled")["campaignId"] for _ in range(40)]

    async def main() -> float:
        began = time.monotonic()  # the simulator's clock
        deadline = time.time() + 3.0  # after every second poll, even if the waits start late
        triggers = [make_trigger(cid, poll_interval=interval, deadline=deadline) for cid in ids]
        await asyncio.gather(*(collect(t, alone=False) for t in triggers))
        return began

    began = asyncio.run(main())
    seconds = []
    for cid in ids:
        _, second = simulator.requests_for(cid)[:2]
        assert second.started_at - began >= interval  # due one to two intervals after the wait began
        place = watch_module.poll_place(cid, second.started_at - 0.1, interval)
        assert place <= second.started_at < place + 0.1  # at the campaign's place, a little late at most
        seconds.append(second.started_at)
    assert max(seconds) - min(seconds) > interval / 2  # not together: spread over the interval


def rebuilt(trigger: CampaignStatusTrigger) -> CampaignStatusTrigger:
    """The trigger as a (re)started triggerer builds it: from its ``serialize()`` output."""
    _, kwargs = trigger.serialize()
    return CampaignStatusTrigger(**json.loads(json.dumps(kwargs)))


def test_waiting_counts_from_when_the_wait_began_also_after_a_restart(sigmamind_conn, simulator, capsys):
    served = simulator.add_campaign(script=["live"])
    began = time.time() - 100
    event = run_trigger(rebuilt(make_trigger(served["campaignId"], started=began, last_status="scheduled")))
    assert event["status"] == "success"
    ((status, waited),) = waited_figures(capsys.readouterr().out)
    assert status == "live"
    assert 100 <= waited < 100 + 30  # not the few milliseconds since the trigger started


def test_the_status_the_sensor_saw_is_not_logged_again_as_a_change(sigmamind_conn, simulator, capsys):
    served = simulator.add_campaign(script=["archived", "scheduled", "scheduled", "live"])
    trigger = rebuilt(make_trigger(served["campaignId"], last_status="archived"))
    assert run_trigger(trigger)["status"] == "success"
    out = capsys.readouterr().out
    assert [status for status, _ in waited_figures(out)] == ["scheduled", "live"]
    assert "unknown status 'archived'" not in out  # the sensor warned about it already


def test_without_the_sensors_view_a_trigger_counts_from_its_own_start(sigmamind_conn, simulator, capsys):
    served = simulator.add_campaign(script=["scheduled", "live"])
    assert run_trigger(make_trigger(served["campaignId"]))["status"] == "success"
    figures = waited_figures(capsys.readouterr().out)
    assert [status for status, _ in figures] == ["scheduled", "live"]
    assert all(waited < 30 for _, waited in figures)


def test_failed_polls_the_sensor_counted_count_in_the_trigger(sigmamind_conn, simulator):
    served = simulator.add_campaign(script=[UNAVAILABLE])
    event = run_trigger(rebuilt(make_trigger(served["campaignId"], max_consecutive_errors=3, consecutive_errors=2)))
    assert (event["status"], event["error_class"]) == ("error", "SigmaMindServerError")
    assert event["message"].endswith("; 3 polls in a row failed, giving up")
    assert len(simulator.requests_for(served["campaignId"])) == 3  # one poll: the connection's 2 retries


@pytest.mark.parametrize(("max_retries", "attempts"), [(0, 1), (4, 5)])
def test_the_patience_in_the_kwargs_is_the_one_used(sigmamind_conn, simulator, max_retries, attempts):
    served = simulator.add_campaign(script=[UNAVAILABLE])
    policy = {**ZERO_BACKOFF, "max_retries": max_retries}
    event = run_trigger(rebuilt(make_trigger(served["campaignId"], retry_policy=policy, max_consecutive_errors=1)))
    assert event["attempts"] == attempts
    assert len(simulator.requests_for(served["campaignId"])) == attempts  # not the connection's 2 retries


def test_the_request_timeout_in_the_kwargs_is_the_one_used(sigmamind_conn, simulator):
    served = simulator.add_campaign(script=[Fault.slow(30)])
    policy = {**ZERO_BACKOFF, "max_retries": 0}
    started = time.monotonic()
    trigger = make_trigger(served["campaignId"], retry_policy=policy, timeout=0.3, max_consecutive_errors=1)
    event = run_trigger(rebuilt(trigger))
    assert (event["error_class"], event["attempts"]) == ("SigmaMindTransportError", 1)
    assert time.monotonic() - started < 5  # the connection's timeout is 5 s


def test_without_patience_in_the_kwargs_the_connection_decides(simulator, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_SIGMAMIND_DEFAULT",
        connection_json(simulator.url, max_retries=1, backoff_initial=0, backoff_max=0),
    )
    served = simulator.add_campaign(script=[UNAVAILABLE])
    event = run_trigger(CampaignStatusTrigger(campaign_id=served["campaignId"], max_consecutive_errors=1))
    assert event["attempts"] == 2
    assert len(simulator.requests_for(served["campaignId"])) == 2


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
            assert not task.done(), task.result()  # it must still be waiting
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        assert shared_sessions.open_sessions() == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert shared_sessions.open_sessions() == 0

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


def test_a_continued_wait_carries_the_worker_s_clock_status_errors_and_patience():
    import logging

    from airflow_provider_sigmamind.config import SigmaMindConfig
    from airflow_provider_sigmamind.models import CampaignStatus
    from airflow_provider_sigmamind.retry import RetryPolicy
    from airflow_provider_sigmamind.watch import CampaignWatch

    watch = CampaignWatch(
        targets=[CampaignStatus.LIVE],
        failures=[],
        max_consecutive_errors=3,
        log=logging.getLogger("test"),
        started=1_700_000_000.0,
        last_status="scheduled",
        consecutive_errors=2,
    )
    config = SigmaMindConfig(
        base_url="http://127.0.0.1:1",
        api_key="k" * 8,
        timeout=7.0,
        max_retries=1,
        retry_policy=RetryPolicy(max_retries=1),
    )
    trigger = CampaignStatusTrigger.continuing(watch, config, campaign_id="camp_1", max_consecutive_errors=3)
    assert (trigger.started, trigger.last_status, trigger.consecutive_errors) == (1_700_000_000.0, "scheduled", 2)
    assert trigger.poll_at_start is False  # the worker has just looked
    assert (trigger.timeout, trigger.retry_policy) == (7.0, RetryPolicy(max_retries=1).to_kwargs())
    unread = CampaignStatusTrigger.continuing(watch, None, campaign_id="camp_1")
    assert (unread.timeout, unread.retry_policy) == (None, None)  # read in the triggerer
