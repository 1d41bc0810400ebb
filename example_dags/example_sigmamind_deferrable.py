"""Wait for a SigmaMind campaign in deferrable mode: the triggerer polls, no worker slot is held.

The sensor checks the campaign once; if it is not live or completed yet, the task defers and
Airflow's triggerer runs a ``CampaignStatusTrigger`` that polls every ``poke_interval`` seconds
(thousands of them share one event loop and one small pool of HTTP connections). When the campaign
is live the task resumes on a worker, pushes the campaign to XCom, and ``report`` runs.

Needs a running ``airflow triggerer`` (``airflow standalone`` starts one); ``airflow dags test``
runs the trigger in-line. Nothing here touches the network at parse time.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum

# Airflow 2.11 and 3.x alike; on Airflow 3 alone this is `from airflow.sdk import DAG, Param, task`.
from airflow.providers.common.compat.sdk import DAG, Param, task

from airflow_provider_sigmamind.sensors.campaign import CampaignStatusSensor

with DAG(
    dag_id="example_sigmamind_deferrable",
    description="Wait in the triggerer until a SigmaMind campaign is live, then report on it.",
    schedule=None,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    params={"campaign_id": Param("camp_DemoSched000001", type="string", minLength=1)},
    tags=["example", "sigmamind", "deferrable"],
) as dag:
    # [START howto_sensor_campaign_status_deferrable]
    wait_until_live = CampaignStatusSensor(
        task_id="wait_until_live",
        campaign_id="{{ params.campaign_id }}",
        target_statuses=["live", "completed"],
        failure_statuses=["paused"],
        deferrable=True,
        # Seconds between two polls from the triggerer (the first one too). Keep it well above the few
        # seconds Airflow needs to record the deferral (docs/deferrable.md, "a trigger that fires early").
        poke_interval=30,
        timeout=timedelta(hours=12),  # the trigger gives up (AirflowSensorTimeout) after this
    )
    # [END howto_sensor_campaign_status_deferrable]

    @task
    def report(campaign: dict) -> str:
        """Use the campaign the sensor pushed to XCom (the API's own camelCase payload)."""
        line = f"{campaign['campaignName']} is {campaign['campaignStatus']}"
        print(line)
        return line

    report(wait_until_live.output)
