"""Real Airflow: the results example DAG (check, create, wait deferred, export, report) with ``dag.test()``.

The simulator keeps a created campaign live for one second, in which it dials the eight contacts
three at a time; the deferrable sensor's trigger runs in-line, and the export writes a real file.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest
from airflow.utils.state import DagRunState, TaskInstanceState

from tests.dagruns import example_dag, run_states, xcoms
from tests.helpers import CANARY_API_KEY, connection_json

pytestmark = pytest.mark.integration

DAG_ID = "example_sigmamind_results"


@pytest.fixture
def results_simulator(sigmamind_simulator_factory, monkeypatch):
    """A simulator whose created campaigns stay live for one second, as ``sigmamind_default``."""
    simulator = sigmamind_simulator_factory(api_key=CANARY_API_KEY, live_duration=1.0)
    monkeypatch.setenv("AIRFLOW_CONN_SIGMAMIND_DEFAULT", connection_json(simulator.url, timeout=5, max_retries=2))
    return simulator


def load_dag():
    dag = example_dag(DAG_ID)
    dag.get_task("wait_until_completed").poke_interval = 0.2
    return dag


def test_the_results_dag_runs_from_contact_list_to_exported_calls(airflow_db, results_simulator, tmp_path):
    run = load_dag().test(run_conf={"export_dir": f"file://{tmp_path}"})

    assert run.state == DagRunState.SUCCESS, run_states(run.run_id)
    assert set(run_states(run.run_id).values()) == {TaskInstanceState.SUCCESS}
    values = xcoms(run.run_id)
    cid = values[("create_campaign", "return_value")]["campaignId"]
    assert values[("wait_until_completed", "return_value")]["campaignStatus"] == "completed"
    assert values[("check_contact_list", "return_value")] == {"contacts": 8, "variables": ["customer_name", "order_id"]}

    exported = values[("export_calls", "return_value")]
    (written,) = tmp_path.iterdir()
    assert exported["path"] == f"file://{written}"
    assert written.name.startswith("calls-")
    assert written.suffix == ".jsonl"
    rows = [json.loads(line) for line in written.read_text().splitlines()]
    assert len(rows) == 8
    assert {row["campaign_id"] for row in rows} == {cid}
    assert [row["variables"]["customer_name"] for row in rows] == [
        "Michael",
        "Priya",
        "Sam",
        "Ana",
        "Kofi",
        "Mei",
        "Lars",
        "Noor",
    ]
    assert sorted(row["phone_number"].lstrip("+") for row in rows) == [f"1415555{101 + n:04d}" for n in range(8)]
    assert "in-progress" not in {row["status"] for row in rows}  # exported after the campaign completed
    assert exported["byStatus"] == dict(Counter(row["status"] for row in rows))

    report = values[("report", "return_value")]
    assert (report["contacts"], report["calls"]) == (8, 8)
    assert report["connected"] == sum(1 for row in rows if row["status"] in ("ended", "completed"))
    assert report["totalDurationSeconds"] == sum(row["duration_seconds"] for row in rows)
    assert report["path"] == exported["path"]

    assert len(results_simulator.requests_for(cid)) >= 2  # the sensor's check, then the trigger's polls
    assert [r.method for r in results_simulator.requests if r.path == "/v1/campaigns"] == ["POST"]
    assert {r.path for r in results_simulator.requests} == {"/v1/campaigns", f"/v1/campaigns/{cid}", "/v1/calls"}
    assert CANARY_API_KEY not in repr(values) + written.read_text()


def test_a_bad_contact_list_stops_the_run_before_anything_is_sent(airflow_db, results_simulator, tmp_path, capsys):
    dag = load_dag()
    dag.get_task("build_contact_list").python_callable = lambda: [
        {"Phone Number": "+14155550101", "Customer Name": "Michael", "Order ID": "1"},
        {"Phone Number": "+1234", "Customer Name": "", "Order ID": "2"},
    ]

    run = dag.test(run_conf={"export_dir": f"file://{tmp_path}"})

    assert run.state == DagRunState.FAILED
    states = run_states(run.run_id)
    assert states["check_contact_list"] == TaskInstanceState.FAILED
    assert states["create_campaign"] == TaskInstanceState.UPSTREAM_FAILED
    assert states["export_calls"] == TaskInstanceState.UPSTREAM_FAILED
    out = capsys.readouterr().out
    assert "Row 2: invalid phone number '+1234'" in out
    assert "Row 2: missing required variable 'customer_name'" in out
    assert results_simulator.requests == []
    assert list(tmp_path.iterdir()) == []
