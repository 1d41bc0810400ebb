"""CampaignStatusSensor in deferrable mode.

The table-driven test runs the same simulator scripts through ``dag.test()`` (real Airflow on
SQLite, real HTTP to the simulator; ``dag.test`` runs a deferred task's trigger in-line) in poke,
reschedule and deferrable modes, and checks that each gives the same outcome.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.models.taskinstance import TaskInstance
from airflow.models.xcom import XComModel
from airflow.sdk.exceptions import AirflowSensorTimeout, TaskDeferred
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
from airflow_provider_sigmamind.retry import RetryPolicy
from airflow_provider_sigmamind.sensors.campaign import CampaignStatusSensor
from airflow_provider_sigmamind.simulator import Fault
from airflow_provider_sigmamind.triggers.campaign import CampaignStatusTrigger
from tests.conftest import CANARY_API_KEY, ROOT

DAG_ID = "example_sigmamind_deferrable"
MODES = ("poke", "reschedule", "deferrable")
#: 503 with ``Retry-After: 0``: transient, retried by the hook without waiting.
UNAVAILABLE = Fault.status(503, headers={"Retry-After": "0"})


@pytest.fixture(autouse=True)
def zero_backoff(monkeypatch):
    """Triggers retry without waiting (the sync path is kept fast by ``Retry-After: 0``)."""
    monkeypatch.setattr(CampaignStatusTrigger, "retry_policy", RetryPolicy(backoff_initial=0, jitter=lambda: 0))


# -- one sensor, no Airflow run: the decision to defer and the mapping of events ------------------


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
    assert 590 < kwargs["deadline"] - sensor._watch.started <= 600
    assert CANARY_API_KEY not in repr(kwargs)
    assert deferred.value.method_name == "execute_complete"
    assert deferred.value.timeout > timedelta(seconds=600)  # a backstop behind the trigger's own deadline
    assert sensor.hook._session is None  # the check's session is closed before deferring


def test_a_transient_error_on_the_check_is_counted_against_the_trigger(sigmamind_conn, simulator):
    served = simulator.add_campaign(script=[UNAVAILABLE, "live"])
    simulator.inject(UNAVAILABLE, campaign_id=served["campaignId"], times=2)  # the hook's 2 retries fail too
    with pytest.raises(TaskDeferred) as deferred:
        make_sensor(served["campaignId"], max_consecutive_errors=3).execute({})
    assert deferred.value.trigger.max_consecutive_errors == 2


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
    from airflow.sdk.exceptions import AirflowSkipException

    sensor = make_sensor("c", soft_fail=True)
    with pytest.raises(AirflowSkipException):
        sensor.resume_execution("execute_complete", {"event": {"status": "failure", "message": "paused"}}, {})


# -- the table: same scripts, same outcome, in every mode ------------------------------------------


@pytest.fixture(scope="module")
def deferrable_dag(airflow_db):
    bag = DagBag(str(ROOT / "example_dags"))
    assert not bag.import_errors, bag.import_errors
    return bag.get_dag(DAG_ID)


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
    sensor.on_failure_callback = [lambda context: failures.append(type(context["exception"]).__name__)]
    return dag.test(run_conf={"campaign_id": campaign_id}), failures


def sensor_outcome(run_id: str) -> tuple[str | None, Any, Any]:
    """The sensor's state and XCom, and what the downstream ``report`` task returned."""
    with create_session() as session:
        ti = session.scalars(
            select(TaskInstance).where(TaskInstance.run_id == run_id, TaskInstance.task_id == "wait_until_live")
        ).one()
        values = dict(
            session.execute(
                select(XComModel.task_id, XComModel.value).where(
                    XComModel.run_id == run_id, XComModel.key == "return_value"
                )
            ).all()
        )
        return ti.state, values.get("wait_until_live"), values.get("report")


@pytest.mark.integration
@pytest.mark.parametrize(("name", "script", "overrides", "expected"), SEQUENCES, ids=[s[0] for s in SEQUENCES])
def test_same_script_same_outcome_in_every_mode(
    deferrable_dag, sigmamind_conn, simulator, caplog, name, script, overrides, expected
):
    outcomes = {}
    for mode in MODES:
        campaign = simulator.add_campaign(name=f"{name} ({mode})", script=list(script))
        caplog.clear()
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
            outcome = (failures[-1] if failures else None, run.state, state, xcom, None, report)
        outcomes[mode] = outcome
        assert len(polls) >= 2, f"{mode}: the sensor looked only {len(polls)} times"

    if expected == "success":
        want = ("success", DagRunState.SUCCESS, TaskInstanceState.SUCCESS, "live", True, True)
    else:
        want = (expected, DagRunState.FAILED, TaskInstanceState.FAILED, None, None, None)
    assert outcomes == dict.fromkeys(MODES, want)
