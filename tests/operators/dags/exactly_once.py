"""DAGs for tests/operators/test_exactly_once.py: one CreateCampaignOperator each, retried at once."""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.providers.common.compat.sdk import DAG

from airflow_provider_sigmamind.operators.campaign import CreateCampaignOperator

CSV = "Phone Number,Customer Name\n+14155550101,Michael\n"
COMMON = {
    "campaign_name": "{{ dag_run.conf['name'] }}",
    "sip_phone_number": "+14155552671",
    "agent_id": "agent_D5D0p7TUs66TTAEAx",
    "contacts": CSV,
    "retry_delay": timedelta(0),
}
START = datetime(2026, 1, 1)

with DAG("exactly_once_create", schedule=None, start_date=START, catchup=False):
    CreateCampaignOperator(task_id="create", retries=2, **COMMON)

for mode in ("poke", "deferrable"):
    with DAG(f"exactly_once_wait_{mode}", schedule=None, start_date=START, catchup=False):
        # The campaign completes 3 s after its create: try 1 runs out of execution_timeout (2 s) while
        # waiting, and try 2 must resume that wait, not create again.
        CreateCampaignOperator(
            task_id="create",
            retries=1,
            execution_timeout=timedelta(seconds=2),
            wait_for_status=["completed"],
            poll_interval=0.1,
            timeout=60,
            deferrable=mode == "deferrable",
            **COMMON,
        )
