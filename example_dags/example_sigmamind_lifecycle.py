"""Own a campaign's whole lifecycle: build a contact list, create the campaign, wait, report.

build_contact_list -> plan_schedule -> create_campaign (checked before anything is sent, scheduled
``start_in_seconds`` ahead in ``timezone``) -> wait_until_live -> wait_until_completed -> report.

Runs against the real API with a ``sigmamind_default`` connection holding your API key (set the
``sip_phone_number`` and ``agent_id`` params to your own), or against the bundled simulator. Nothing
here touches the network, a connection or a Variable at parse time.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum

# Airflow 2.11 and 3.x alike; on Airflow 3 alone this is `from airflow.sdk import DAG, Param, task`.
from airflow.providers.common.compat.sdk import DAG, Param, task

from airflow_provider_sigmamind.contacts import local_schedule
from airflow_provider_sigmamind.operators.campaign import CreateCampaignOperator
from airflow_provider_sigmamind.sensors.campaign import CampaignStatusSensor

CAMPAIGN_ID = "{{ ti.xcom_pull(task_ids='create_campaign')['campaignId'] }}"

with DAG(
    dag_id="example_sigmamind_lifecycle",
    description="Create a SigmaMind campaign from a contact list, wait until it is live and completed, report.",
    schedule=None,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    params={
        "sip_phone_number": Param("+14155552671", type="string", pattern=r"^\+[1-9][0-9]{6,14}$"),
        "agent_id": Param("agent_D5D0p7TUs66TTAEAx", type="string", minLength=1, maxLength=64),
        "timezone": Param("America/Los_Angeles", type="string", minLength=1),
        "start_in_seconds": Param(120, type="integer", minimum=1),
    },
    tags=["example", "sigmamind"],
) as dag:
    # [START howto_build_contact_list]
    @task
    def build_contact_list() -> list[dict[str, str]]:
        """The contacts to call: one row per contact, a phone column and one column per agent variable."""
        return [
            {"Phone Number": "+14155550101", "Customer Name": "Michael", "Order ID": "12345"},
            {"Phone Number": "+14155550102", "Customer Name": "Priya", "Order ID": "12346"},
            {"Phone Number": "+14155550103", "Customer Name": "Sam", "Order ID": "12347"},
        ]

    @task(multiple_outputs=True)
    def plan_schedule(params: dict[str, Any] | None = None) -> dict[str, str]:
        """Launch ``start_in_seconds`` from now, expressed as a local date and time in ``timezone``."""
        assert params is not None
        start = pendulum.now("UTC") + timedelta(seconds=params["start_in_seconds"])
        return local_schedule(start, params["timezone"])

    contacts = build_contact_list()
    schedule = plan_schedule()
    # [END howto_build_contact_list]

    # [START howto_operator_create_campaign]
    create_campaign = CreateCampaignOperator(
        task_id="create_campaign",
        campaign_name="Lifecycle demo {{ run_id }}",  # unique per run: a task retry cannot create it twice
        sip_phone_number="{{ params.sip_phone_number }}",
        agent_id="{{ params.agent_id }}",
        contacts=contacts,  # rows from XCom; a file path or CSV text works too
        concurrent_calls=2,
        scheduled_date=schedule["scheduled_date"],
        scheduled_time=schedule["scheduled_time"],
        scheduled_timezone=schedule["scheduled_timezone"],
        required_variables=["customer_name", "order_id"],
    )
    # [END howto_operator_create_campaign]

    # [START howto_sensor_lifecycle]
    wait_until_live = CampaignStatusSensor(
        task_id="wait_until_live",
        campaign_id=CAMPAIGN_ID,
        target_statuses=["live", "completed"],  # a short campaign may be over before the first poke
        failure_statuses=["paused"],
        mode="reschedule",
        poke_interval=30,
        timeout=timedelta(hours=2),
    )
    wait_until_completed = CampaignStatusSensor(
        task_id="wait_until_completed",
        campaign_id=CAMPAIGN_ID,
        target_statuses=["completed"],
        failure_statuses=["paused"],
        mode="reschedule",
        poke_interval=60,
        timeout=timedelta(hours=12),
    )
    # [END howto_sensor_lifecycle]

    # [START howto_report_lifecycle]
    @task
    def report(created: dict[str, Any], finished: dict[str, Any]) -> dict[str, Any]:
        """Say what happened: the campaign, when it was scheduled to launch, how it ended."""
        summary = {
            "campaignId": finished["campaignId"],
            "campaignName": finished["campaignName"],
            "scheduledDate": created.get("scheduledDate"),
            "statusAtCreation": created["campaignStatus"],
            "finalStatus": finished["campaignStatus"],
            "rowErrors": len(finished.get("errors") or []),
        }
        print(
            f"Campaign {summary['campaignName']!r} [{summary['campaignId']}] was {summary['statusAtCreation']} "
            f"for {summary['scheduledDate']} and is {summary['finalStatus']}, {summary['rowErrors']} row error(s)"
        )
        return summary

    create_campaign >> wait_until_live >> wait_until_completed
    report(create_campaign.output, wait_until_completed.output)
    # [END howto_report_lifecycle]
