"""Run a DAG once for every SigmaMind campaign that completes: event-driven scheduling (Airflow 3).

The asset's watcher runs a ``CampaignEventTrigger`` in Airflow's triggerer: it lists the account's
completed campaigns every ``poll_interval`` seconds and fires one event per campaign that completes
after it started. Each event becomes an asset event, which schedules a run of this DAG; its task
reads the campaign from the triggering asset events (``extra["payload"]`` is the campaign, as
SigmaMind returned it). Campaigns completed before the watcher started do not fire.

Needs Airflow 3.0+ (asset watchers; on Airflow 2.11 this file defines no DAG) and a running
``airflow triggerer``. Nothing here touches the network at parse time.
"""

from __future__ import annotations

import pendulum
from airflow.providers.common.compat.sdk import DAG, task

from airflow_provider_sigmamind.triggers.campaign import CampaignEventTrigger

try:
    from airflow.sdk import Asset, AssetWatcher
except ImportError:  # Airflow 2.11: no asset watchers
    AssetWatcher = None

if AssetWatcher is not None:
    # [START howto_trigger_campaign_event]
    completed_campaigns = Asset(
        "sigmamind_completed_campaigns",
        watchers=[
            AssetWatcher(
                name="sigmamind_completed_campaigns_watcher",
                trigger=CampaignEventTrigger(
                    sigmamind_conn_id="sigmamind_default", statuses=["completed"], poll_interval=10
                ),
            )
        ],
    )

    with DAG(
        dag_id="example_sigmamind_events",
        description="Report on each SigmaMind campaign as it completes.",
        schedule=[completed_campaigns],
        start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
        catchup=False,
        tags=["example", "sigmamind", "events"],
    ) as dag:

        @task
        def report(*, triggering_asset_events=None) -> list[dict[str, str]]:
            """The campaigns this run is for: the payloads of the events that triggered it.

            Usually one; campaigns completing close together (before the scheduler creates the next run)
            share a run, so a run handles every event it was given.
            """
            done = []
            for event in triggering_asset_events[completed_campaigns]:
                campaign = event.extra["payload"]
                print(f"{campaign['campaignName']} [{campaign['campaignId']}] is {campaign['campaignStatus']}")
                done.append({key: campaign[key] for key in ("campaignId", "campaignName", "campaignStatus")})
            return done

        report()
    # [END howto_trigger_campaign_event]
