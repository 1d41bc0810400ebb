"""``sigmamind://`` assets: the scheme's registration and normaliser, and the asset events tasks emit.

The events are those a real ``dag.test()`` run (SQLite, real HTTP to the simulator) writes to the
metadata DB, read back from its ``asset_event`` table.
"""

from __future__ import annotations

import pytest

pytest.importorskip("airflow.sdk.definitions.asset", reason="assets need Airflow 3")

from airflow.models.asset import AssetDagRunQueue, AssetEvent, AssetModel
from airflow.models.dag import DagModel
from airflow.providers_manager import ProvidersManager
from airflow.sdk import Asset
from airflow.sdk.execution_time.context import OutletEventAccessors
from airflow.utils.session import create_session
from sqlalchemy import select, update

from airflow_provider_sigmamind.assets import (
    campaign_asset,
    campaign_asset_uri,
    campaign_id_of,
    campaigns_alias,
)
from airflow_provider_sigmamind.operators.campaign import (
    CreateCampaignOperator,
    GetCampaignOperator,
    UpdateCampaignOperator,
)
from airflow_provider_sigmamind.sensors.campaign import CampaignStatusSensor
from tests.dagruns import activate_assets, example_dag
from tests.helpers import CANARY_API_KEY, connection_json

CAMPAIGN_ID = "camp_DemoLive0000001"  # example_dags/example_sigmamind_assets.py's
DOWNSTREAM = "example_sigmamind_assets_downstream"

FIELDS = {"sip_phone_number": "+14155552671", "agent_id": "agent_D5D0p7TUs66TTAEAx"}


def test_the_scheme_is_registered_with_its_normaliser():
    manager = ProvidersManager()
    assert manager.asset_uri_handlers["sigmamind"].__name__ == "sanitize_uri"
    assert "sigmamind" in manager.asset_factories
    assert Asset(uri="sigmamind://campaigns/camp_A1").uri == "sigmamind://campaigns/camp_A1"
    for bad in (
        "sigmamind://campaigns/",
        "sigmamind://other/camp_A1",
        "sigmamind://campaigns/a/b",
        "sigmamind://campaigns/x?y=1",
    ):
        with pytest.raises(ValueError, match="sigmamind://"):
            Asset(uri=bad)


def test_a_campaign_id_round_trips_through_its_uri():
    for campaign_id in ("camp_A1", "odd id/with?chars"):
        uri = campaign_asset_uri(campaign_id)
        assert campaign_id_of(uri) == campaign_id
        assert campaign_asset(campaign_id).uri == uri
    with pytest.raises(ValueError, match="campaign_id"):
        campaign_asset_uri("")


def events_for(campaign_id: str) -> list[dict]:
    """The extra of every asset event of a campaign's asset, oldest first."""
    with create_session() as session:
        rows = session.scalars(
            select(AssetEvent)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.uri == campaign_asset_uri(campaign_id))
            .order_by(AssetEvent.id)
        ).all()
        return [dict(row.extra) for row in rows]


def extra_of(payload: dict) -> dict:
    return {key: payload[key] for key in ("campaignId", "campaignName", "campaignStatus")}


def test_each_task_gives_its_campaign_to_its_outlets(sigmamind_conn, simulator, tmp_path):
    """The accessors Airflow hands a task (``outlet_events``), filled as a run fills them."""
    known = simulator.add_campaign(name="Known", status="live")
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("Phone Number,Customer Name\n+14155550101,Michael\n")
    alias, own, other = campaigns_alias(), campaign_asset(known["campaignId"]), campaign_asset("camp_Other")
    tasks = [
        CreateCampaignOperator(
            task_id="create", campaign_name="Asset demo", contacts=str(contacts), outlets=[alias], **FIELDS
        ),
        GetCampaignOperator(task_id="get", campaign_id=known["campaignId"], outlets=[own, other]),
        UpdateCampaignOperator(
            task_id="update", campaign_id=known["campaignId"], campaign_name="Renamed", outlets=[alias]
        ),
        CampaignStatusSensor(task_id="sense", campaign_id=known["campaignId"], outlets=[alias]),
    ]
    seen = []
    for operator in tasks:
        events = OutletEventAccessors()
        result = operator.execute({"outlet_events": events})
        seen.append((result, events))
    (created, created_events), (_, get_events), (updated, update_events), (sensed, sense_events) = seen
    (alias_event,) = created_events[alias].asset_alias_events
    assert alias_event.dest_asset_key.uri == campaign_asset_uri(created["campaignId"])
    assert alias_event.extra == extra_of(created) == {**extra_of(created), "campaignName": "Asset demo"}
    assert get_events[own].extra == extra_of(known)
    assert get_events[other].extra == {}  # another campaign's asset: left alone
    assert [e.extra for e in update_events[alias].asset_alias_events] == [extra_of(updated)]
    assert updated["campaignName"] == "Renamed"
    assert [e.extra for e in sense_events[alias].asset_alias_events] == [extra_of(sensed)]


def test_tasks_without_outlets_emit_nothing(sigmamind_conn, simulator):
    known = simulator.add_campaign(name="Quiet", status="live")
    events = OutletEventAccessors()
    GetCampaignOperator(task_id="get", campaign_id=known["campaignId"]).execute({"outlet_events": events})
    assert not list(events)


@pytest.mark.integration
def test_the_example_emits_an_event_that_schedules_the_downstream_dag(airflow_db, monkeypatch, simulator_factory_demo):
    simulator = simulator_factory_demo
    monkeypatch.setenv("AIRFLOW_CONN_SIGMAMIND_DEFAULT", connection_json(simulator.url, timeout=5, max_retries=0))
    dag = example_dag("example_sigmamind_assets")
    activate_assets(dag, example_dag(DOWNSTREAM))
    before = events_for(CAMPAIGN_ID)
    assert dag.test().state == "success"
    assert events_for(CAMPAIGN_ID)[len(before) :] == [extra_of(simulator.campaign(CAMPAIGN_ID))]
    # The first run wrote both DAGs to the DB, paused (as new DAGs are): unpaused, the next event queues a run.
    with create_session() as session:
        session.execute(update(DagModel).where(DagModel.dag_id == DOWNSTREAM).values(is_paused=False))
    assert dag.test().state == "success"
    with create_session() as session:
        queued = session.scalars(select(AssetDagRunQueue.target_dag_id)).all()
    assert DOWNSTREAM in queued


@pytest.fixture
def simulator_factory_demo(sigmamind_simulator_factory):
    """A simulator serving the demo campaigns, the example's among them."""
    return sigmamind_simulator_factory(api_key=CANARY_API_KEY, seed_demo=True)
