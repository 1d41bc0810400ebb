"""A campaign as an Airflow asset: one DAG emits events for it, another is scheduled on it.

``example_sigmamind_assets`` fetches a campaign with ``outlets=[campaign_asset(...)]``, so a
successful fetch emits an asset event for ``sigmamind://campaigns/<id>`` carrying the campaign's
id, name and status in its ``extra``. ``example_sigmamind_assets_downstream`` is scheduled on that
asset and runs after each such event. When the id is known only at run time (a campaign the DAG
creates, a templated id), put ``campaigns_alias()`` in ``outlets`` instead: the event then goes to
the campaign's own asset through the alias.

Nothing here touches the network at parse time.
"""

from __future__ import annotations

import pendulum
from airflow.providers.common.compat.sdk import DAG, task

from airflow_provider_sigmamind.assets import campaign_asset
from airflow_provider_sigmamind.operators.campaign import GetCampaignOperator

#: The campaign both DAGs are about (one of the simulator's demo campaigns).
CAMPAIGN_ID = "camp_DemoLive0000001"

# [START howto_asset_campaign_outlet]
with DAG(
    dag_id="example_sigmamind_assets",
    description="Fetch a SigmaMind campaign and emit an asset event for it.",
    schedule=None,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    tags=["example", "sigmamind", "assets"],
):
    GetCampaignOperator(task_id="fetch_campaign", campaign_id=CAMPAIGN_ID, outlets=[campaign_asset(CAMPAIGN_ID)])
# [END howto_asset_campaign_outlet]

# [START howto_asset_campaign_schedule]
with DAG(
    dag_id="example_sigmamind_assets_downstream",
    description="Runs after each asset event of the SigmaMind campaign.",
    schedule=[campaign_asset(CAMPAIGN_ID)],
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    tags=["example", "sigmamind", "assets"],
):

    @task
    def report(*, triggering_asset_events=None, triggering_dataset_events=None) -> list[dict]:
        """What the upstream task said about the campaign: its id, name and status.

        (Airflow 2.11 names the events ``triggering_dataset_events``.)
        """
        events = triggering_asset_events if triggering_asset_events is not None else triggering_dataset_events
        return [dict(event.extra) for event in events[campaign_asset(CAMPAIGN_ID)]]

    report()
# [END howto_asset_campaign_schedule]
