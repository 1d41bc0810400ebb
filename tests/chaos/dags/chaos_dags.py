"""DAGs for tests/chaos: a create retried after a crash, and a deferrable wait for one campaign per run."""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.providers.common.compat.sdk import DAG

from airflow_provider_sigmamind.operators.campaign import CreateCampaignOperator
from airflow_provider_sigmamind.sensors.campaign import CampaignStatusSensor

START = datetime(2026, 1, 1)

with DAG("chaos_create", schedule=None, start_date=START, catchup=False, max_active_runs=50):
    CreateCampaignOperator(
        task_id="create",
        campaign_name="{{ dag_run.conf['name'] }}",
        sip_phone_number="+14155552671",
        agent_id="agent_D5D0p7TUs66TTAEAx",
        contacts="Phone Number,Customer Name\n+14155550101,Michael\n",
        retries=2,
        retry_delay=timedelta(0),
    )

with DAG("chaos_wait", schedule=None, start_date=START, catchup=False, max_active_runs=50):
    CampaignStatusSensor(
        task_id="wait",
        campaign_id="{{ dag_run.conf['campaign_id'] }}",
        target_statuses=["live"],
        deferrable=True,
        poke_interval=1,
        timeout=300,
        max_consecutive_errors=5,  # the error budget: the simulator's 3 s outage costs 2 or 3 polls
        retries=0,
    )
