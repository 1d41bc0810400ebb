"""A create from a contact file, then a sensor on the campaign: what tests/test_lineage.py's runs send.

The file's path comes in the run's conf (``{"contacts": "/path/to/contacts.csv"}``).
"""

from __future__ import annotations

import pendulum
from airflow.providers.common.compat.sdk import DAG

from airflow_provider_sigmamind.operators.campaign import CreateCampaignOperator
from airflow_provider_sigmamind.sensors.campaign import CampaignStatusSensor

with DAG("sigmamind_lineage", schedule=None, start_date=pendulum.datetime(2025, 1, 1, tz="UTC")):
    create = CreateCampaignOperator(
        task_id="create",
        campaign_name="Lineage run",
        contacts="{{ dag_run.conf['contacts'] }}",
        sip_phone_number="+14155552671",
        agent_id="agent_D5D0p7TUs66TTAEAx",
    )
    create >> CampaignStatusSensor(task_id="sense", campaign_id="{{ ti.xcom_pull('create')['campaignId'] }}")
