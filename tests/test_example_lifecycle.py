"""Real Airflow: the lifecycle example DAG run with ``dag.test()`` on SQLite against the simulator.

The DAG schedules the campaign a minute ahead; the simulator's lifecycle clock runs four times
faster, so the campaign goes live 15 s later and stays live for one second, and a whole
create → live → completed run takes about twenty seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

import pytest
from airflow.utils.state import DagRunState, TaskInstanceState

from airflow_provider_sigmamind.contacts import schedule_instant
from tests.dagruns import example_dag, run_states, xcoms
from tests.helpers import CANARY_API_KEY, connection_json

pytestmark = pytest.mark.integration

DAG_ID = "example_sigmamind_lifecycle"


#: The simulator's lifecycle clock runs this many times faster than the wall clock: a campaign
#: scheduled a minute ahead (room for the tasks before the create, on a loaded machine too) goes live
#: 15 s later.
CLOCK_SPEED = 4.0


def fast_clock() -> Callable[[], float]:
    start = time.monotonic()
    return lambda: start + (time.monotonic() - start) * CLOCK_SPEED


@pytest.fixture
def lifecycle_simulator(sigmamind_simulator_factory, monkeypatch):
    """A simulator whose created campaigns stay live for one second, as ``sigmamind_default``."""
    simulator = sigmamind_simulator_factory(api_key=CANARY_API_KEY, live_duration=CLOCK_SPEED, clock=fast_clock())
    monkeypatch.setenv("AIRFLOW_CONN_SIGMAMIND_DEFAULT", connection_json(simulator.url, timeout=5, max_retries=2))
    return simulator


def load_dag():
    """Parse the example DAG from example_dags/ and make its sensors poke every 0.2 s."""
    dag = example_dag(DAG_ID)
    for task_id in ("wait_until_live", "wait_until_completed"):
        dag.get_task(task_id).poke_interval = 0.2
    return dag


def test_lifecycle_dag_creates_waits_for_live_then_completed_and_reports(airflow_db, lifecycle_simulator):
    run = load_dag().test(run_conf={"start_in_seconds": 60, "timezone": "Asia/Kolkata"})

    assert run.state == DagRunState.SUCCESS, run_states(run.run_id)
    assert set(run_states(run.run_id).values()) == {TaskInstanceState.SUCCESS}
    values = xcoms(run.run_id)
    plan = {key: values[("plan_schedule", key)] for key in ("scheduled_date", "scheduled_time", "scheduled_timezone")}
    assert plan["scheduled_timezone"] == "Asia/Kolkata"
    launch = schedule_instant(plan["scheduled_date"], plan["scheduled_time"], plan["scheduled_timezone"])

    created = values[("create_campaign", "return_value")]
    cid = created["campaignId"]
    assert cid.startswith("camp_")
    assert created["campaignStatus"] == "scheduled"
    assert created["campaignName"] == f"Lifecycle demo {run.run_id}"
    assert datetime.fromisoformat(created["scheduledDate"]) == launch  # the stored instant is the UTC one
    assert values[("wait_until_live", "return_value")]["campaignStatus"] in ("live", "completed")
    assert values[("wait_until_completed", "return_value")]["campaignStatus"] == "completed"
    assert values[("report", "return_value")] == {
        "campaignId": cid,
        "campaignName": f"Lifecycle demo {run.run_id}",
        "scheduledDate": created["scheduledDate"],
        "statusAtCreation": "scheduled",
        "finalStatus": "completed",
        "rowErrors": 0,
    }

    # One create carrying the three contacts, then polls of that campaign only.
    posts = [r for r in lifecycle_simulator.requests if r.method == "POST"]
    assert len(posts) == 1
    assert b"+14155550101" in posts[0].body
    assert b"Customer Name" in posts[0].body
    polls = lifecycle_simulator.requests_for(cid)
    assert polls
    assert {r.method for r in polls} == {"GET"}
    assert all(CANARY_API_KEY not in r.raw_path for r in lifecycle_simulator.requests)
    assert CANARY_API_KEY not in repr(values)


def test_lifecycle_dag_stops_before_sending_a_schedule_in_an_unknown_time_zone(airflow_db, lifecycle_simulator):
    run = load_dag().test(run_conf={"start_in_seconds": 3, "timezone": "Mars/Olympus_Mons"})

    assert run.state == DagRunState.FAILED
    states = run_states(run.run_id)
    assert states["plan_schedule"] == TaskInstanceState.FAILED
    assert states["create_campaign"] == TaskInstanceState.UPSTREAM_FAILED
    assert lifecycle_simulator.requests == []


def test_lifecycle_dag_rejects_a_bad_contact_list_before_anything_is_sent(airflow_db, lifecycle_simulator, capsys):
    dag = load_dag()
    dag.get_task("create_campaign").required_variables = ["customer_name", "order_id", "loyalty_tier"]

    run = dag.test(run_conf={"start_in_seconds": 3})

    assert run.state == DagRunState.FAILED
    states = run_states(run.run_id)
    assert states["create_campaign"] == TaskInstanceState.FAILED
    assert states["wait_until_live"] == TaskInstanceState.UPSTREAM_FAILED
    assert "Header: no column for required variable 'loyalty_tier'" in capsys.readouterr().out
    assert lifecycle_simulator.requests == []
