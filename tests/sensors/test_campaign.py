"""CampaignStatusSensor.poke against the simulator (the dag.test runs are in tests/test_example_dags.py)."""

from __future__ import annotations

import time

import pytest
from airflow.providers.common.compat.sdk import PokeReturnValue

from airflow_provider_sigmamind.exceptions import (
    SigmaMindAuthError,
    SigmaMindCampaignStatusError,
    SigmaMindServerError,
)
from airflow_provider_sigmamind.models import CampaignStatus
from airflow_provider_sigmamind.sensors.campaign import CampaignStatusSensor
from airflow_provider_sigmamind.simulator import Fault
from tests.helpers import connection_json, logged_warnings
from tests.reliability.harness import FirstTryDate, waited_figures


def make_sensor(campaign_id: str, **kwargs) -> CampaignStatusSensor:
    return CampaignStatusSensor(task_id="wait", campaign_id=campaign_id, **kwargs)


@pytest.fixture
def no_retry_conn(simulator, monkeypatch) -> str:
    """A connection whose hook makes one attempt per poke, so poke-level tolerance is visible."""
    monkeypatch.setenv("AIRFLOW_CONN_SIGMAMIND_DEFAULT", connection_json(simulator.url, max_retries=0))
    return "sigmamind_default"


def test_waits_then_succeeds_with_the_payload(sigmamind_conn, simulator, capsys):
    served = simulator.add_campaign(script=["scheduled", "scheduled", "live"])
    sensor = make_sensor(served["campaignId"])

    results = [sensor.poke({}) for _ in range(3)]

    assert results[:2] == [False, False]
    assert isinstance(results[2], PokeReturnValue)
    assert results[2].is_done
    assert results[2].xcom_value["campaignStatus"] == "live"
    assert results[2].xcom_value["campaignId"] == served["campaignId"]
    changes = [line for line in capsys.readouterr().out.splitlines() if " is now " in line]
    assert len(changes) == 2  # scheduled, then live: one line per change, not per poke
    assert "is now 'scheduled' after" in changes[0]
    assert "is now 'live' after" in changes[1]


def test_completed_counts_by_default(sigmamind_conn, simulator):
    served = simulator.add_campaign(status="completed")
    assert make_sensor(served["campaignId"]).poke({}).is_done


def test_completed_while_waiting_only_for_live_fails_at_once(sigmamind_conn, simulator):
    served = simulator.add_campaign(status="completed")
    sensor = make_sensor(served["campaignId"], target_statuses="live")
    with pytest.raises(SigmaMindCampaignStatusError, match="can never become live again"):
        sensor.poke({})


def test_failure_status_fails_at_once(sigmamind_conn, simulator):
    served = simulator.add_campaign(status="paused")
    sensor = make_sensor(served["campaignId"], failure_statuses=["paused"])
    with pytest.raises(SigmaMindCampaignStatusError, match="is paused, which is a failure status"):
        sensor.poke({})


def test_unknown_status_keeps_waiting_and_warns_once(sigmamind_conn, simulator, capsys, caplog):
    served = simulator.add_campaign(script=["archived", "archived", "ARCHIVED", "live"])
    sensor = make_sensor(served["campaignId"])
    results = [sensor.poke({}) for _ in range(4)]
    assert results[:3] == [False, False, False]
    assert results[3].is_done
    warnings = logged_warnings(capsys, caplog)
    assert len(warnings) == 1
    assert "unknown status 'archived'" in warnings[0]


def test_status_case_is_ignored(sigmamind_conn, simulator):
    served = simulator.add_campaign(script=[" LIVE "])
    assert make_sensor(served["campaignId"], target_statuses=["live"]).poke({}).is_done


def test_one_transient_failure_is_tolerated_consecutive_ones_are_fatal(no_retry_conn, simulator):
    served = simulator.add_campaign(script=[Fault.server_error(503), "scheduled", Fault.server_error(503)])
    sensor = make_sensor(served["campaignId"], max_consecutive_errors=2)

    assert sensor.poke({}) is False  # 503: tolerated
    assert sensor.poke({}) is False  # scheduled: the count starts again
    assert sensor.poke({}) is False  # 503: first of a new run
    with pytest.raises(SigmaMindServerError, match="2 polls in a row failed"):
        sensor.poke({})


def test_permanent_errors_fail_at_once(simulator, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_SIGMAMIND_DEFAULT", connection_json(simulator.url, api_key="wrong-key-0000"))
    served = simulator.add_campaign()
    with pytest.raises(SigmaMindAuthError):
        make_sensor(served["campaignId"]).poke({})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"target_statuses": ["live", "archived"]}, "target_statuses: 'archived' is not a campaign status"),
        ({"target_statuses": []}, "give at least one status"),
        ({"failure_statuses": ["nope"]}, "failure_statuses: 'nope'"),
        ({"target_statuses": ["live"], "failure_statuses": ["live"]}, "overlap: live"),
        ({"max_consecutive_errors": 0}, "max_consecutive_errors"),
    ],
)
def test_bad_arguments_fail_at_dag_parse_time(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_sensor("camp_x", **kwargs)


def test_statuses_accept_enum_and_strings():
    sensor = make_sensor("camp_x", target_statuses=[CampaignStatus.LIVE, "Completed"])
    assert sensor.target_statuses == [CampaignStatus.COMPLETED, CampaignStatus.LIVE]


def test_poke_mode_counts_the_wait_from_the_first_poke(sigmamind_conn, simulator, capsys):
    served = simulator.add_campaign(script=["scheduled", "live"])
    sensor = make_sensor(served["campaignId"])
    before_first = time.time()
    assert sensor.poke({}) is False
    after_first = time.time()
    began = sensor._watch.started
    time.sleep(0.3)  # the poke interval
    before_second = time.time()
    assert sensor.poke({}).is_done
    after_second = time.time()
    (_, first), (status, second) = waited_figures(capsys.readouterr().out)
    rounding = 0.05  # the log prints tenths of a second
    # The wait starts inside the first poke, not at construction and not again at the second
    # poke; bracketed by the test's own clock, so a slow machine cannot fail it.
    assert before_first <= began <= after_first
    assert first <= after_first - before_first + rounding
    assert status == "live"
    assert before_second - after_first - rounding <= second <= after_second - before_first + rounding
    assert sensor._watch.started == began


def test_reschedule_mode_counts_the_wait_from_the_first_try(sigmamind_conn, simulator, capsys):
    served = simulator.add_campaign(script=["live"])
    sensor = make_sensor(served["campaignId"], mode="reschedule")
    assert sensor.poke({"ti": FirstTryDate(offset=600)}).is_done  # a fresh sensor, 600 s into the wait
    ((status, seconds),) = waited_figures(capsys.readouterr().out)
    assert status == "live"
    assert 600 <= seconds < 600 + 30
