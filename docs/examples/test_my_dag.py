"""Testing a DAG that uses the SigmaMind provider: run it for real, against the simulator.

``sigmamind_simulator`` comes with the package (a pytest plugin): a simulator of its own for each
test, on 127.0.0.1, stopped afterwards. ``dag.test()`` runs every task in this process.
"""

from __future__ import annotations

import json

import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.utils.state import DagRunState

from airflow_provider_sigmamind.simulator import Fault, SigmaMindSimulator

# [START docs_test_fixtures]
DAG_ID = "example_sigmamind_campaign"


@pytest.fixture
def simulator(sigmamind_simulator: SigmaMindSimulator, monkeypatch: pytest.MonkeyPatch) -> SigmaMindSimulator:
    """The simulator, with ``sigmamind_default`` pointing at it."""
    connection = {"conn_type": "sigmamind", "host": sigmamind_simulator.url, "password": sigmamind_simulator.api_key}
    monkeypatch.setenv("AIRFLOW_CONN_SIGMAMIND_DEFAULT", json.dumps(connection))
    return sigmamind_simulator


def load_dag():
    """The DAG as Airflow parses it, with the sensor poking every 0.1 s instead of every 2 s."""
    bag = DagBag()  # parses the DAGS_FOLDER
    assert not bag.import_errors
    dag = bag.get_dag(DAG_ID)
    dag.get_task("wait_until_live").poke_interval = 0.1
    return dag


# [END docs_test_fixtures]


# [START docs_test_happy_path]
def test_waits_until_the_campaign_is_live(airflow_db, simulator):
    # Each GET of this campaign serves the next status; the last one repeats.
    campaign = simulator.add_campaign(name="Spring Outreach", script=["scheduled", "scheduled", "live"])

    run = load_dag().test(run_conf={"campaign_id": campaign["campaignId"]})

    assert run.state == DagRunState.SUCCESS
    assert len(simulator.requests_for(campaign["campaignId"])) == 3  # one fetch, two pokes


# [END docs_test_happy_path]


# [START docs_test_faults]
def test_rides_out_a_rate_limit(airflow_db, simulator):
    campaign = simulator.add_campaign(script=["scheduled", "live"])
    # The next request for this campaign gets HTTP 429 with Retry-After: 0; the hook retries it.
    simulator.inject(Fault.rate_limit(retry_after=0), campaign_id=campaign["campaignId"], times=1)

    run = load_dag().test(run_conf={"campaign_id": campaign["campaignId"]})

    assert run.state == DagRunState.SUCCESS
    assert [r.status for r in simulator.requests_for(campaign["campaignId"])] == [429, 200, 200]


def test_fails_fast_when_the_campaign_is_paused(airflow_db, simulator):
    campaign = simulator.add_campaign(script=["scheduled", "paused"])

    run = load_dag().test(run_conf={"campaign_id": campaign["campaignId"]})

    assert run.state == DagRunState.FAILED  # the example DAG lists "paused" as a failure status


# [END docs_test_faults]
