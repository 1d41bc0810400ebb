"""Fetch a SigmaMind campaign, wait until it is live (or already completed), then use it downstream.

Runs against the real API with a ``sigmamind_default`` connection holding your API key, or against
the bundled simulator (``make demo``). Nothing here touches the network, a connection or a
Variable at parse time: the campaign id comes from the run's params.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum

# Airflow 2.11 and 3.x alike; on Airflow 3 alone this is `from airflow.sdk import DAG, Param, task`.
from airflow.providers.common.compat.sdk import DAG, Param, task

from airflow_provider_sigmamind.operators.campaign import GetCampaignOperator
from airflow_provider_sigmamind.sensors.campaign import CampaignStatusSensor

with DAG(
    dag_id="example_sigmamind_campaign",
    description="Fetch a SigmaMind campaign, wait until it is live, then report on it.",
    schedule=None,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    params={"campaign_id": Param("camp_DemoSched000001", type="string", minLength=1)},
    tags=["example", "sigmamind"],
) as dag:
    # [START howto_operator_get_campaign]
    fetch_campaign = GetCampaignOperator(
        task_id="fetch_campaign",
        campaign_id="{{ params.campaign_id }}",
    )
    # [END howto_operator_get_campaign]

    # [START howto_sensor_campaign_status]
    wait_until_live = CampaignStatusSensor(
        task_id="wait_until_live",
        campaign_id="{{ params.campaign_id }}",
        target_statuses=["live", "completed"],
        failure_statuses=["paused"],
        mode="reschedule",
        # Between pokes the worker slot is free. Keep this well above the few seconds Airflow needs to
        # record that a poke ended (docs/troubleshooting.md: "finished with state success, but ... queued").
        poke_interval=30,
        timeout=timedelta(hours=6),
    )
    # [END howto_sensor_campaign_status]

    # [START howto_use_sensor_xcom]
    @task
    def report(campaign: dict) -> str:
        """Use the campaign the sensor pushed to XCom (the API's own camelCase payload)."""
        line = f"{campaign['campaignName']} is {campaign['campaignStatus']} (since {campaign.get('scheduledDate')})"
        print(line)
        return line

    fetch_campaign >> wait_until_live
    report(wait_until_live.output)
    # [END howto_use_sensor_xcom]
