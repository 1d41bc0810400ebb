"""A second watcher of completed campaigns beside ``example_sigmamind_events``'s (tests/test_events_stack.py).

The same connection and statuses, another ``poll_interval``: a different trigger, which on Airflow
3.3+ shares the example's polling loop (a shared trigger stream) and elsewhere polls on its own. Its
events are what the test reads. The DAG exists so that Airflow runs the watcher (only assets a DAG
is scheduled on are watched), and never runs: it also waits for an asset nothing updates.
"""

from __future__ import annotations

import pendulum
from airflow.providers.common.compat.sdk import DAG
from airflow.providers.standard.operators.empty import EmptyOperator

from airflow_provider_sigmamind.triggers.campaign import CampaignEventTrigger

try:
    from airflow.sdk import Asset, AssetWatcher
except ImportError:  # Airflow 2.11: no asset watchers
    AssetWatcher = None

#: Longer than the example's 10 s: in a shared stream the example's interval is the group's.
POLL_INTERVAL = 20

if AssetWatcher is not None:
    completed = Asset(
        "sigmamind_completed_campaigns_second",
        watchers=[
            AssetWatcher(
                name="sigmamind_completed_campaigns_second_watcher",
                trigger=CampaignEventTrigger(
                    sigmamind_conn_id="sigmamind_default", statuses=["completed"], poll_interval=POLL_INTERVAL
                ),
            )
        ],
    )

    with DAG(
        dag_id="sigmamind_second_watcher",
        schedule=(completed & Asset("sigmamind_second_watcher_never_updated")),
        start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
        catchup=False,
    ):
        EmptyOperator(task_id="never_runs")
