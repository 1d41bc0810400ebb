"""CampaignStatusSensor in deferrable mode.

The table-driven test runs the same simulator scripts through ``dag.test()`` (real Airflow on
SQLite, real HTTP to the simulator; ``dag.test`` runs a deferred task's trigger in-line) in poke,
reschedule and deferrable modes, and checks that each gives the same outcome.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import time
from datetime import timedelta
from typing import Any

import pytest
from airflow.models.taskinstance import TaskInstance
from airflow.providers.common.compat.sdk import AirflowSensorTimeout, TaskDeferred
from airflow.utils.session import create_session
from airflow.utils.state import DagRunState, TaskInstanceState
from sqlalchemy import select

from airflow_provider_sigmamind.exceptions import (
    SigmaMindCampaignStatusError,
    SigmaMindError,
    SigmaMindNotFoundError,
    SigmaMindRateLimitError,
)
from airflow_provider_sigmamind.models import parse_statuses
from airflow_provider_sigmamind.sensors.campaign import CampaignStatusSensor
from airflow_provider_sigmamind.simulator import Fault
from airflow_provider_sigmamind.triggers.campaign import CampaignStatusTrigger
from tests import helpers
from tests.dagruns import example_dag, xcoms
from tests.helpers import CANARY_API_KEY
from tests.reliability.harness import run_deferrable, run_poke, waited_figures

DAG_ID = "example_sigmamind_deferrable"
MODES = ("poke", "reschedule", "deferrable")
#: 503 with ``Retry-After: 0``: transient, retried by the hook without waiting.
UNAVAILABLE = Fault.status(503, headers={"Retry-After": "0"})


# -- one sensor, no Airflow run: the decision to defer and the mapping of events ------------------


async def collect(trigger: CampaignStatusTrigger) -> list[dict[str, Any]]:
    return [event.payload async for event in trigger.run()]


def make_sensor(campaign_id: str = "camp_Deferred000001", **kwargs: Any) -> CampaignStatusSensor:
    return CampaignStatusSensor(task_id="wait", campaign_id=campaign_id, deferrable=True, **kwargs)


def test_deferrable_follows_the_operators_default(monkeypatch):
    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", "True")
    import importlib

    import airflow_provider_sigmamind.sensors.campaign as module

    try:
        reloaded = importlib.reload(module)
        assert reloaded.CampaignStatusSensor(task_id="w", campaign_id="c").deferrable is True
    finally:
        monkeypatch.delenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE")
        importlib.reload(module)
    assert CampaignStatusSensor(task_id="w", campaign_id="c").deferrable is False


def test_a_campaign_already_done_is_not_deferred(sigmamind_conn, simulator):
    served = simulator.add_campaign(status="live")
    assert make_sensor(served["campaignId"]).execute({}) == simulator.campaign(served["campaignId"])
    assert len(simulator.requests_for(served["campaignId"])) == 1


def test_a_campaign_already_failed_fails_without_deferring(sigmamind_conn, simulator):
    served = simulator.add_campaign(status="paused")
    with pytest.raises(SigmaMindCampaignStatusError, match="is paused"):
        make_sensor(served["campaignId"], failure_statuses=["paused"]).execute({})


def test_a_waiting_campaign_defers_with_primitives_and_no_secret(sigmamind_conn, simulator):
    served = simulator.add_campaign(status="scheduled")
    sensor = make_sensor(
        served["campaignId"], target_statuses="live", poke_interval=7, timeout=600, max_consecutive_errors=4
    )
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({})
    trigger = deferred.value.trigger
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_sigmamind.triggers.campaign.CampaignStatusTrigger"
    assert kwargs["campaign_id"] == served["campaignId"]
    assert kwargs["target_statuses"] == ["live"]
    assert kwargs["poll_interval"] == 7.0
    assert kwargs["max_consecutive_errors"] == 4
    assert kwargs["poll_at_start"] is False  # it has just looked itself
    assert kwargs["deadline"] - kwargs["started"] == 600
    assert time.time() - 5 < kwargs["started"] <= time.time()
    assert kwargs["last_status"] == "scheduled"
    assert kwargs["consecutive_errors"] == 0
    # The patience of the sensor's hook, as primitives: the trigger needs no class attribute.
    assert kwargs["retry_policy"] == {
        "max_retries": 2,
        "backoff_initial": 0,
        "backoff_max": 0,
        "retry_after_max": 60.0,
        "deadline": 300.0,
    }
    assert kwargs["timeout"] == 5
    assert (kwargs["execution_deadline"], kwargs["silent_fail"]) == (None, False)
    assert json.loads(json.dumps(kwargs)) == kwargs
    assert CANARY_API_KEY not in repr(kwargs)
    assert deferred.value.method_name == "execute_complete"
    assert deferred.value.timeout > timedelta(seconds=600)  # a backstop behind the trigger's own deadline
    assert sensor.hook._transport._session is None  # the check's session is closed before deferring


def test_the_trigger_goes_on_with_the_sensors_clock_also_after_a_triggerer_restart(sigmamind_conn, simulator, capsys):
    served = simulator.add_campaign(script=["scheduled"])
    cid = served["campaignId"]
    sensor = make_sensor(cid, poke_interval=0.05, timeout=600)
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({})
    began = sensor._watch.started
    assert waited_figures(capsys.readouterr().out) == [("scheduled", pytest.approx(0.0, abs=5))]
    _, kwargs = deferred.value.trigger.serialize()

    async def first_triggerer() -> None:
        """Runs the trigger until it has polled twice, then stops (the triggerer is killed)."""
        task = asyncio.create_task(collect(CampaignStatusTrigger(**json.loads(json.dumps(kwargs)))))
        while len(simulator.requests_for(cid)) < 3:
            assert not task.done(), task.result()  # it must still be waiting
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(first_triggerer())
    time.sleep(0.5)  # the time no triggerer runs: it is part of the wait
    simulator.set_status(cid, "live")
    restarted = CampaignStatusTrigger(**json.loads(json.dumps(kwargs)))  # what the next triggerer builds
    before = time.time()
    (event,) = asyncio.run(collect(restarted))
    assert event["status"] == "success"
    # Neither trigger logged 'scheduled' again (the sensor had seen it); the change to 'live' counts
    # from the sensor's first look, not from the restarted trigger's start.
    ((status, seconds),) = waited_figures(capsys.readouterr().out)
    assert status == "live"
    assert seconds >= 0.5
    assert before - began <= seconds + 0.05 <= time.time() - began + 0.1
    assert sensor.execute_complete({}, event)["campaignStatus"] == "live"


def test_a_transient_error_on_the_check_is_counted_against_the_trigger(sigmamind_conn, simulator):
    served = simulator.add_campaign(script=[UNAVAILABLE, "live"])
    simulator.inject(UNAVAILABLE, campaign_id=served["campaignId"], times=2)  # the hook's 2 retries fail too
    with pytest.raises(TaskDeferred) as deferred:
        make_sensor(served["campaignId"], max_consecutive_errors=3).execute({})
    trigger = deferred.value.trigger
    assert (trigger.max_consecutive_errors, trigger.consecutive_errors) == (3, 1)
    assert trigger.last_status is None  # nothing seen yet


@pytest.mark.parametrize(
    ("event", "expected", "match"),
    [
        ({"status": "failure", "message": "campaign 'c' is paused"}, SigmaMindCampaignStatusError, "is paused"),
        (
            {"status": "error", "error_class": "SigmaMindNotFoundError", "message": "gone"},
            SigmaMindNotFoundError,
            "^gone",
        ),
        (
            {"status": "error", "error_class": "SigmaMindRateLimitError", "message": "429"},
            SigmaMindRateLimitError,
            "429",
        ),
        ({"status": "error", "error_class": "AirflowSensorTimeout", "message": "late"}, AirflowSensorTimeout, "late"),
        ({"status": "error", "error_class": "KeyError", "message": "'x'"}, SigmaMindError, "KeyError in the triggerer"),
        ({"status": "error", "error_class": "Exception", "message": "m"}, SigmaMindError, "Exception in the triggerer"),
        ({"unexpected": True}, SigmaMindError, "no usable event"),
        (None, SigmaMindError, "no usable event"),
    ],
)
def test_execute_complete_raises_what_poke_mode_raises(event, expected, match):
    with pytest.raises(expected, match=match) as raised:
        make_sensor("c").execute_complete({}, event)
    assert type(raised.value) is expected


def test_execute_complete_returns_the_payload():
    payload = {"campaignId": "c", "campaignStatus": "live", "campaignName": "Q4"}
    assert make_sensor("c").execute_complete({}, {"status": "success", "campaign": payload}) == payload


def test_a_soft_fail_sensor_skips_on_a_failure_event():
    from airflow.providers.common.compat.sdk import AirflowSkipException

    sensor = make_sensor("c", soft_fail=True)
    with pytest.raises(AirflowSkipException):
        sensor.resume_execution("execute_complete", {"event": {"status": "failure", "message": "paused"}}, {})


# -- the same exception in poke and deferrable mode, attribute for attribute -----------------------

#: Zero backoff; the number of retries comes from the connection (2).
FAST = dataclasses.replace(helpers.FAST, retry_after_max=1.0, deadline=20)  # Retry-After scenarios wait up to 1 s


#: (name, script, sensor overrides): a campaign seen ``scheduled`` first, so that in deferrable mode the
#: error reaches the sensor through the trigger's event; the last rows fail at the first look instead.
ERRORS = [
    ("401", ["scheduled", Fault.status(401)], {}),
    ("403", ["scheduled", Fault.status(403, body={"message": "key revoked"})], {}),
    ("404", ["scheduled", Fault.status(404)], {}),
    ("422", ["scheduled", Fault.status(422, body={"message": "agentId is unknown"})], {}),
    ("501", ["scheduled", Fault.server_error(501)], {}),
    ("503 forever", ["scheduled", UNAVAILABLE], {"max_consecutive_errors": 2}),
    ("429 forever", ["scheduled", Fault.rate_limit(retry_after=0)], {"max_consecutive_errors": 1}),
    ("dropped", ["scheduled", Fault.drop()], {"max_consecutive_errors": 1}),
    ("html", ["scheduled", Fault.malformed("html")], {}),
    ("redirect", ["scheduled", Fault.redirect("http://127.0.0.1:9/elsewhere")], {}),
    ("paused", ["scheduled", "paused"], {"failure_statuses": ["paused"]}),
    ("completed-not-live", ["scheduled", "completed"], {"target_statuses": ["live"]}),
    ("404 at the first look", [Fault.status(404)], {}),
    ("missing connection", ["scheduled"], {"sigmamind_conn_id": "no_such_connection"}),
]


def comparable(err: BaseException | None) -> tuple[Any, ...]:
    """An exception's class, arguments and attributes; the seconds a give-up took are not compared."""
    assert err is not None

    def timeless(value: Any) -> Any:
        return re.sub(r" in \d+\.\ds\)", " in N s)", value) if isinstance(value, str) else value

    return (
        type(err),
        tuple(timeless(arg) for arg in err.args),
        {name: timeless(value) for name, value in vars(err).items()},
    )


@pytest.mark.parametrize(
    ("name", "script", "overrides"),
    [pytest.param(*row, id=row[0]) for row in ERRORS],
)
def test_poke_and_deferrable_raise_the_same_exception(sigmamind_conn, simulator, name, script, overrides):
    seen = {}
    for mode, run in (("poke", run_poke), ("deferrable", run_deferrable)):
        cid = simulator.add_campaign(name=f"{name} ({mode})", script=list(script))["campaignId"]
        outcome = run(cid, policy=FAST, timeout=30, **overrides)
        if mode == "deferrable" and "first look" not in name and "connection" not in name:
            assert len(outcome.events) == 1, "the error did not come through the trigger"
        assert outcome.error is not None, outcome
        # Equal but for the campaign id, which differs between the two runs' campaigns.
        seen[mode] = json.loads(json.dumps(comparable(outcome.error), default=repr).replace(cid, "<cid>"))
    assert seen["deferrable"] == seen["poke"]
    assert seen["poke"][0].startswith("<class 'airflow")


# -- the table: same scripts, same outcome, in every mode ------------------------------------------


@pytest.fixture(scope="module")
def deferrable_dag(airflow_db):
    return example_dag(DAG_ID)


#: (name, script, sensor overrides, expected outcome: "success" or the exception class name)
SEQUENCES = [
    ("live", ["scheduled", "ARCHIVED", Fault.rate_limit(retry_after=0), "live"], {}, "success"),
    ("paused", ["scheduled", "scheduled", "paused"], {}, "SigmaMindCampaignStatusError"),
    ("completed-not-live", ["scheduled", "completed"], {"target_statuses": ["live"]}, "SigmaMindCampaignStatusError"),
    ("deleted", ["scheduled", Fault.status(404)], {}, "SigmaMindNotFoundError"),
    ("unavailable", ["scheduled", UNAVAILABLE], {"max_consecutive_errors": 1}, "SigmaMindServerError"),
    ("timeout", ["scheduled"], {"timeout": 1.5, "poke_interval": 0.5}, "AirflowSensorTimeout"),
]


def run_in_mode(dag, mode: str, campaign_id: str, overrides: dict[str, Any]) -> tuple[Any, list[str]]:
    sensor = dag.get_task("wait_until_live")
    settings: dict[str, Any] = {
        "deferrable": mode == "deferrable",
        "mode": "reschedule" if mode == "reschedule" else "poke",
        "poke_interval": 0.05,
        "timeout": 60.0,
        "max_consecutive_errors": 3,
        **overrides,
    }
    settings["target_statuses"] = sorted(
        parse_statuses(overrides.get("target_statuses", ["live", "completed"]), what="t")
    )
    for name, value in settings.items():
        setattr(sensor, name, value)
    failures: list[str] = []
    sensor.on_failure_callback = [lambda context: failures.append(_exception_class(context))]
    return dag.test(run_conf={"campaign_id": campaign_id}), failures


def _exception_class(context: Any) -> str:
    """The failed task's exception class. Airflow 3.0 to 3.2 call the callbacks of ``dag.test()``
    without ``context["exception"]``; there the class is the one of the traceback the task printed."""
    if context.get("exception") is not None:
        return type(context["exception"]).__name__
    return ""  # filled in from the printed traceback by the caller


def _printed_exception_class(printed: str) -> str | None:
    """The class of the last exception in a printed traceback (``pkg.module.ClassName: message``)."""
    found = re.findall(r"^(?:\w+\.)*(\w+(?:Error|Timeout|Exception)): ", printed, flags=re.MULTILINE)
    return found[-1] if found else None


def sensor_outcome(run_id: str) -> tuple[str | None, Any, Any]:
    """The sensor's state and XCom, and what the downstream ``report`` task returned."""
    with create_session() as session:
        ti = session.scalars(
            select(TaskInstance).where(TaskInstance.run_id == run_id, TaskInstance.task_id == "wait_until_live")
        ).one()
        state = ti.state
    values = xcoms(run_id)
    return state, values.get(("wait_until_live", "return_value")), values.get(("report", "return_value"))


@pytest.mark.integration
@pytest.mark.parametrize(("name", "script", "overrides", "expected"), SEQUENCES, ids=[s[0] for s in SEQUENCES])
def test_same_script_same_outcome_in_every_mode(
    deferrable_dag, sigmamind_conn, simulator, caplog, capfd, name, script, overrides, expected
):
    outcomes = {}
    for mode in MODES:
        campaign = simulator.add_campaign(name=f"{name} ({mode})", script=list(script))
        caplog.clear()
        capfd.readouterr()
        run, failures = run_in_mode(deferrable_dag, mode, campaign["campaignId"], overrides)
        assert ("running trigger in line" in caplog.text) == (mode == "deferrable"), mode
        state, xcom, report = sensor_outcome(run.run_id)
        polls = simulator.requests_for(campaign["campaignId"])
        if expected == "success":
            outcome = (
                "success",
                run.state,
                state,
                xcom["campaignStatus"],
                xcom["campaignId"] == campaign["campaignId"],
                report == f"{name} ({mode}) is live",
            )
        else:
            failed_with = failures[-1] if failures else None
            if failed_with == "":  # Airflow 3.0 to 3.2 (see _exception_class)
                failed_with = _printed_exception_class(capfd.readouterr().out)
            outcome = (failed_with, run.state, state, xcom, None, report)
        outcomes[mode] = outcome
        assert len(polls) >= 2, f"{mode}: the sensor looked only {len(polls)} times"

    if expected == "success":
        want = ("success", DagRunState.SUCCESS, TaskInstanceState.SUCCESS, "live", True, True)
    else:
        want = (expected, DagRunState.FAILED, TaskInstanceState.FAILED, None, None, None)
    assert outcomes == dict.fromkeys(MODES, want)
