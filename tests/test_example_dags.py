"""Real Airflow: the example DAG run with ``dag.test()`` on SQLite against the simulator over HTTP."""

from __future__ import annotations

from datetime import timedelta

import pytest
from airflow.models.renderedtifields import RenderedTaskInstanceFields
from airflow.utils.session import create_session
from airflow.utils.state import DagRunState, TaskInstanceState
from sqlalchemy import select

from airflow_provider_sigmamind.simulator import Fault
from airflow_provider_sigmamind.version_compat import AIRFLOW_V_3_3_PLUS
from tests.dagruns import XComModel, example_dag, run_states, xcoms
from tests.helpers import AIRFLOW_HOME, CANARY_API_KEY, connection_json

pytestmark = pytest.mark.integration

DAG_ID = "example_sigmamind_campaign"


def load_dag(mode: str = "poke"):
    """Parse the example DAG from example_dags/ and speed its sensor up for the test."""
    dag = example_dag(DAG_ID)
    sensor = dag.get_task("wait_until_live")
    sensor.mode = mode
    sensor.poke_interval = 0.1
    return dag


@pytest.mark.parametrize("mode", ["poke", "reschedule"])
def test_example_dag_waits_for_live_and_hands_the_campaign_downstream(airflow_db, sigmamind_conn, simulator, mode):
    campaign = simulator.add_campaign(name="Demo Outreach", script=["scheduled", "scheduled", "scheduled", "live"])
    cid = campaign["campaignId"]

    run = load_dag(mode).test(run_conf={"campaign_id": cid})

    assert run.state == DagRunState.SUCCESS
    assert run_states(run.run_id) == {
        "fetch_campaign": TaskInstanceState.SUCCESS,
        "wait_until_live": TaskInstanceState.SUCCESS,
        "report": TaskInstanceState.SUCCESS,
    }
    values = xcoms(run.run_id)
    fetched = values[("fetch_campaign", "return_value")]
    sensed = values[("wait_until_live", "return_value")]
    assert fetched["campaignId"] == sensed["campaignId"] == cid
    assert fetched["campaignStatus"] == "scheduled"
    assert sensed["campaignStatus"] == "live"
    assert values[("report", "return_value")] == "Demo Outreach is live (since None)"
    assert len(simulator.requests_for(cid)) == 4  # one fetch, three pokes


@pytest.mark.skipif(
    not AIRFLOW_V_3_3_PLUS,
    reason="checked on Airflow 3.3; below it dag.test() runs no failure callback to show the exception",
)
def test_execution_timeout_bounds_an_operators_call(airflow_db, simulator, monkeypatch):
    """A get against an API that never answers ends at the task's execution_timeout (1 s), not after
    the hook's request timeouts and retries (3 attempts of 20 s)."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_SIGMAMIND_DEFAULT",
        connection_json(simulator.url, timeout=20, max_retries=2, backoff_initial=0, backoff_max=0),
    )
    cid = simulator.add_campaign(script=["scheduled"])["campaignId"]
    simulator.inject(Fault.slow(60), campaign_id=cid, times=None)
    dag = load_dag()
    fetch = dag.get_task("fetch_campaign")
    failures: list[BaseException] = []
    monkeypatch.setattr(fetch, "execution_timeout", timedelta(seconds=1))
    monkeypatch.setattr(fetch, "on_failure_callback", [lambda context: failures.append(context["exception"])])
    run = dag.test(run_conf={"campaign_id": cid})
    assert run_states(run.run_id)["fetch_campaign"] == TaskInstanceState.FAILED
    assert [type(f).__name__ for f in failures] == ["AirflowTaskTimeout"]
    # Cut short in its first attempt: without the bound, three attempts would each wait out 20 s.
    assert len(simulator.requests_for(cid)) == 1
    simulator.clear_faults()


def test_example_dag_fails_on_a_failure_status_and_skips_downstream(airflow_db, sigmamind_conn, simulator):
    campaign = simulator.add_campaign(script=["scheduled", "paused"])

    run = load_dag().test(run_conf={"campaign_id": campaign["campaignId"]})

    assert run.state == DagRunState.FAILED
    states = run_states(run.run_id)
    assert states["wait_until_live"] == TaskInstanceState.FAILED
    assert states["report"] == TaskInstanceState.UPSTREAM_FAILED
    assert ("wait_until_live", "return_value") not in xcoms(run.run_id)


def test_example_dag_rides_out_a_transient_fault(airflow_db, sigmamind_conn, simulator):
    campaign = simulator.add_campaign(script=["scheduled", Fault.server_error(503), "live"])

    run = load_dag().test(run_conf={"campaign_id": campaign["campaignId"]})

    assert run.state == DagRunState.SUCCESS
    assert [r.status for r in simulator.requests_for(campaign["campaignId"])] == [200, 503, 200]


def test_example_dag_fails_clearly_for_an_unknown_campaign(airflow_db, sigmamind_conn, simulator, capsys):
    run = load_dag().test(run_conf={"campaign_id": "camp_NoSuchCampaign0"})

    assert run.state == DagRunState.FAILED
    assert run_states(run.run_id)["fetch_campaign"] == TaskInstanceState.FAILED
    assert "campaign 'camp_NoSuchCampaign0' was not found (HTTP 404" in capsys.readouterr().out


def test_the_api_key_leaks_nowhere(airflow_db, sigmamind_conn, simulator, capfd):
    """A full run, a failing run and an auth failure: the canary key is in no log, XCom, rendered
    field, exception text or request line."""
    good = simulator.add_campaign(script=["scheduled", "live"])
    bad = simulator.add_campaign(script=["paused"])
    dag = load_dag()
    runs = [dag.test(run_conf={"campaign_id": cid}) for cid in (good["campaignId"], bad["campaignId"])]
    simulator.inject(Fault.status(401), times=None)
    runs.append(dag.test(run_conf={"campaign_id": good["campaignId"]}))
    assert [r.state for r in runs] == [DagRunState.SUCCESS, DagRunState.FAILED, DagRunState.FAILED]

    captured = capfd.readouterr()
    assert "SigmaMind rejected the API key" in captured.out  # the failure is reported...
    assert CANARY_API_KEY not in captured.out + captured.err  # ...without the key
    for path in AIRFLOW_HOME.rglob("*"):
        if path.is_file() and path.suffix != ".db":
            assert CANARY_API_KEY not in path.read_text(errors="replace"), path
    run_ids = [r.run_id for r in runs]
    with create_session() as session:
        stored = [
            *session.scalars(select(XComModel.value).where(XComModel.run_id.in_(run_ids))),
            *session.scalars(
                select(RenderedTaskInstanceFields.rendered_fields).where(RenderedTaskInstanceFields.run_id.in_(run_ids))
            ),
        ]
    assert stored
    assert all(CANARY_API_KEY not in repr(value) for value in stored)
    assert all(CANARY_API_KEY not in r.raw_path + repr(r.headers) for r in simulator.requests)
    assert all(r.api_key_sent for r in simulator.requests)
