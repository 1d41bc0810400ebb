"""OpenLineage: the facets of the create and get operators and the sensor, and the events a run sends.

Needs the OpenLineage provider (``pip install airflow-provider-sigmamind[openlineage]``); skipped
without it. The last test runs real ``dag.test()`` runs (a get, a create from a file and a sensor) in a
process of its own, with the OpenLineage provider's file transport configured, and reads the events
they sent.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("airflow.providers.openlineage", reason="needs the OpenLineage provider (extra 'openlineage')")

from airflow_provider_sigmamind.assets import campaign_asset, convert_asset_to_openlineage
from airflow_provider_sigmamind.events import success_event
from airflow_provider_sigmamind.lineage import campaign_dataset
from airflow_provider_sigmamind.operators.campaign import CreateCampaignOperator, GetCampaignOperator
from airflow_provider_sigmamind.sensors.campaign import CampaignStatusSensor
from tests.helpers import CANARY_API_KEY, ROOT, connection_json

FIELDS = {"sip_phone_number": "+14155552671", "agent_id": "agent_D5D0p7TUs66TTAEAx"}
CSV = "Phone Number,Customer Name\n+14155550101,Michael\n"


def names(datasets: list) -> list[tuple[str, str]]:
    return [(d.namespace, d.name) for d in datasets]


def test_create_reads_the_contact_file_and_writes_the_campaign(sigmamind_conn, simulator, tmp_path):
    path = tmp_path / "contacts.csv"
    path.write_text(CSV)
    operator = CreateCampaignOperator(task_id="create", campaign_name="Lineage", contacts=str(path), **FIELDS)
    created = operator.execute({})
    lineage = operator.get_openlineage_facets_on_complete(None)
    assert names(lineage.inputs) == [("file", str(path.resolve()))]
    assert names(lineage.outputs) == [("sigmamind", f"campaigns/{created['campaignId']}")]


def test_a_create_that_waited_deferred_still_reads_the_contact_file(sigmamind_conn, simulator, tmp_path):
    path = tmp_path / "contacts.csv"
    path.write_text(CSV)
    operator = CreateCampaignOperator(
        task_id="create", campaign_name="Lineage", contacts=str(path), wait_for_status="live", deferrable=True, **FIELDS
    )
    payload = {"campaignId": "c-1", "campaignName": "Lineage", "campaignStatus": "live"}
    operator.execute_complete({}, success_event(payload), campaign_id="c-1")  # a fresh instance resumes
    lineage = operator.get_openlineage_facets_on_complete(None)
    assert names(lineage.inputs) == [("file", str(path.resolve()))]
    assert names(lineage.outputs) == [("sigmamind", "campaigns/c-1")]


def test_create_from_rows_has_no_input(sigmamind_conn, simulator):
    rows = [{"Phone Number": "+14155550101", "Customer Name": "Michael"}]
    operator = CreateCampaignOperator(task_id="create", campaign_name="Rows", contacts=rows, **FIELDS)
    created = operator.execute({})
    lineage = operator.get_openlineage_facets_on_complete(None)
    assert lineage.inputs == []
    assert names(lineage.outputs) == [("sigmamind", f"campaigns/{created['campaignId']}")]


def test_get_and_the_sensor_read_the_campaign(sigmamind_conn, simulator):
    campaign = simulator.add_campaign(name="Read", status="live")
    expected = [("sigmamind", f"campaigns/{campaign['campaignId']}")]
    for operator in (
        GetCampaignOperator(task_id="get", campaign_id=campaign["campaignId"]),
        CampaignStatusSensor(task_id="sense", campaign_id=campaign["campaignId"]),
    ):
        operator.execute({})
        lineage = operator.get_openlineage_facets_on_complete(None)
        assert names(lineage.inputs) == expected, operator.task_id
        assert lineage.outputs == []


def test_a_task_that_did_nothing_reports_nothing():
    lineage = GetCampaignOperator(task_id="get", campaign_id="camp_X").get_openlineage_facets_on_complete(None)
    assert (lineage.inputs, lineage.outputs) == ([], [])


def test_the_asset_and_the_facets_name_one_dataset():
    assert convert_asset_to_openlineage(campaign_asset("camp_A1"), None) == campaign_dataset("camp_A1")


RUN = """
import sys

from airflow import settings

from tests.dagruns import DagBag, activate_assets, example_dag
from tests.helpers import ROOT

dag = example_dag("example_sigmamind_assets")
activate_assets(dag)
assert dag.test().state == "success", "example_sigmamind_assets"
settings.DAGS_FOLDER = str(ROOT / "tests" / "dags")  # dag.test() syncs that folder as the DAG bundle
made = DagBag(str(ROOT / "tests" / "dags" / "sigmamind_lineage.py")).get_dag("sigmamind_lineage")
assert made.test(run_conf={"contacts": sys.argv[1]}).state == "success", "sigmamind_lineage"
"""


def datasets(event: dict, side: str) -> list[tuple[str, str]]:
    return [(d["namespace"], d["name"]) for d in event[side]]


@pytest.mark.integration
def test_runs_send_the_contact_file_and_the_campaign_as_inputs_and_outputs(
    airflow_db, sigmamind_simulator_factory, tmp_path: Path
):
    """The OpenLineage provider's file transport captures what real runs send: a get, a create, a sensor."""
    simulator = sigmamind_simulator_factory(api_key=CANARY_API_KEY, seed_demo=True)
    events_file = tmp_path / "openlineage.jsonl"
    contacts = tmp_path / "contacts.csv"
    contacts.write_text(CSV)
    env = {
        **os.environ,
        "AIRFLOW_CONN_SIGMAMIND_DEFAULT": connection_json(simulator.url, timeout=5, max_retries=0),
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
            {"type": "file", "log_file_path": str(events_file), "append": True}
        ),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "sigmamind-tests",
    }
    done = subprocess.run(
        [sys.executable, "-c", RUN, str(contacts)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    events = [json.loads(line) for line in events_file.read_text().splitlines() if line.strip()]
    complete = {e["job"]["name"]: e for e in events if e["eventType"] == "COMPLETE"}
    jobs = ["example_sigmamind_assets.fetch_campaign", "sigmamind_lineage.create", "sigmamind_lineage.sense"]
    assert set(jobs) <= set(complete), [(e["eventType"], e["job"]["name"]) for e in events]
    assert datasets(complete[jobs[0]], "inputs") == [("sigmamind", "campaigns/camp_DemoLive0000001")]
    assert datasets(complete[jobs[1]], "inputs") == [("file", str(contacts.resolve()))]
    (campaign,) = datasets(complete[jobs[1]], "outputs")  # the campaign the run created
    assert campaign[0] == "sigmamind"
    assert simulator.campaign(campaign[1].removeprefix("campaigns/"))["campaignName"] == "Lineage run"
    assert (datasets(complete[jobs[2]], "inputs"), datasets(complete[jobs[2]], "outputs")) == ([campaign], [])
    assert CANARY_API_KEY not in events_file.read_text()
