"""From contact list to results: check the list, create the campaign, wait, export its calls, report.

build_contact_list -> check_contact_list -> create_campaign -> wait_until_completed (deferrable)
-> export_calls -> report.

The export writes one file per run (``{{ params.export_dir }}/calls-<run id>.jsonl``): JSON
Lines here, CSV or Parquet by changing ``format``; any fsspec store works (``s3://bucket/calls``
with ``storage_conn_id="aws_default"``). Runs against the real API with a ``sigmamind_default``
connection holding your API key (set the ``sip_phone_number`` and ``agent_id`` params to your own),
or against the bundled simulator, whose campaigns dial their contacts while they are live. Nothing
here touches the network, a connection or a Variable at parse time.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.providers.common.compat.sdk import DAG, Param, task

from airflow_provider_sigmamind.operators.calls import ExportCampaignCallsOperator
from airflow_provider_sigmamind.operators.campaign import CreateCampaignOperator
from airflow_provider_sigmamind.sensors.campaign import CampaignStatusSensor

CAMPAIGN_ID = "{{ ti.xcom_pull(task_ids='create_campaign')['campaignId'] }}"
REQUIRED_VARIABLES = ["customer_name", "order_id"]

with DAG(
    dag_id="example_sigmamind_results",
    description="Run a SigmaMind campaign from a checked contact list, export the calls it made, report.",
    schedule=None,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    params={
        "sip_phone_number": Param("+14155552671", type="string", pattern=r"^\+[1-9][0-9]{6,14}$"),
        "agent_id": Param("agent_D5D0p7TUs66TTAEAx", type="string", minLength=1, maxLength=64),
        "export_dir": Param("file:///tmp/sigmamind-exports", type="string", minLength=1),
    },
    tags=["example", "sigmamind"],
) as dag:
    # [START howto_check_contact_list]
    @task
    def build_contact_list() -> list[dict[str, str]]:
        """The contacts to call: a phone column and one column per agent variable."""
        names = ["Michael", "Priya", "Sam", "Ana", "Kofi", "Mei", "Lars", "Noor"]
        return [
            {"Phone Number": f"+1415555{101 + n:04d}", "Customer Name": name, "Order ID": str(12345 + n)}
            for n, name in enumerate(names)
        ]

    @task
    def check_contact_list(rows: list[dict[str, str]]) -> dict[str, Any]:
        """The pre-flight check, on its own: fail before anything is sent if any row is wrong."""
        from airflow_provider_sigmamind.contacts import check_contacts, rows_to_csv
        from airflow_provider_sigmamind.exceptions import SigmaMindContactListError

        report = check_contacts(rows_to_csv(rows), required_variables=REQUIRED_VARIABLES)
        if not report.ok:
            raise SigmaMindContactListError("The contact list has problems:\n" + "\n".join(report.problems))
        return {"contacts": report.contacts, "variables": list(report.variables)}

    contacts = build_contact_list()
    checked = check_contact_list(contacts)
    # [END howto_check_contact_list]

    create_campaign = CreateCampaignOperator(
        task_id="create_campaign",
        campaign_name="Results demo {{ run_id }}",  # unique per run: a task retry cannot create it twice
        sip_phone_number="{{ params.sip_phone_number }}",
        agent_id="{{ params.agent_id }}",
        contacts=contacts,
        concurrent_calls=3,
        required_variables=REQUIRED_VARIABLES,  # checked again, as the create always does
    )

    wait_until_completed = CampaignStatusSensor(
        task_id="wait_until_completed",
        campaign_id=CAMPAIGN_ID,
        target_statuses=["completed"],
        failure_statuses=["paused"],
        deferrable=True,  # the triggerer polls; no worker slot is held while the campaign dials
        poke_interval=30,
        timeout=timedelta(hours=12),
    )

    # [START howto_operator_export_calls]
    export_calls = ExportCampaignCallsOperator(
        task_id="export_calls",
        campaign_id=CAMPAIGN_ID,
        # One file per run. A manual run has no logical date (no {{ ds }}) in Airflow 3: name it by run.
        path="{{ params.export_dir }}/calls-{{ run_id | replace(':', '_') | replace('+', '_') }}.jsonl",
        format="jsonl",  # or "csv", or "parquet" where pyarrow is installed
    )
    # [END howto_operator_export_calls]

    # [START howto_report_results]
    @task
    def report(checked: dict[str, Any], export: dict[str, Any]) -> dict[str, Any]:
        """Say what the campaign produced: calls by outcome, talk time, and where the file is."""
        connected = sum(export["byStatus"].get(status, 0) for status in ("ended", "completed"))
        summary = {
            "contacts": checked["contacts"],
            "calls": export["calls"],
            "connected": connected,
            "byStatus": export["byStatus"],
            "byTerminationReason": export["byTerminationReason"],
            "totalDurationSeconds": export["totalDurationSeconds"],
            "medianDurationSeconds": export["medianDurationSeconds"],
            "path": export["path"],
        }
        print(
            f"{summary['calls']} calls for {summary['contacts']} contacts, {connected} connected; "
            f"{summary['totalDurationSeconds']}s of talk, median {summary['medianDurationSeconds']}s; "
            f"written to {summary['path']}"
        )
        return summary

    checked >> create_campaign >> wait_until_completed >> export_calls
    report(checked, export_calls.output)
    # [END howto_report_results]
