"""SigmaMind campaigns as Airflow assets: ``sigmamind://campaigns/<campaign id>``.

The scheme is registered in the provider's metadata (``asset-uris``) with :func:`sanitize_uri`, the
normaliser Airflow calls on every ``sigmamind://`` asset, :func:`create_asset` and
:func:`convert_asset_to_openlineage`.

The create, update and get operators and the sensor emit an asset event for the campaign they act
on when it is among their ``outlets``: give them ``outlets=[campaign_asset("camp_...")]`` when the
id is known when the DAG is written, or ``outlets=[campaigns_alias()]`` when it is known only at
run time (a campaign the DAG creates, a templated id); the alias then resolves to the campaign's
asset. Each event's ``extra`` carries the campaign's ``campaignId``, ``campaignName`` and
``campaignStatus``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

if TYPE_CHECKING:
    from urllib.parse import SplitResult

    from airflow.sdk import Asset, AssetAlias
else:
    try:
        from airflow.sdk import Asset, AssetAlias
    except ImportError:  # Airflow 2: datasets
        from airflow.datasets import Dataset as Asset
        from airflow.datasets import DatasetAlias as AssetAlias

__all__ = [
    "CAMPAIGNS_ALIAS",
    "SCHEME",
    "campaign_asset",
    "campaign_asset_uri",
    "campaign_event_extra",
    "campaigns_alias",
    "convert_asset_to_openlineage",
    "create_asset",
    "emit_campaign_events",
    "sanitize_uri",
]

SCHEME = "sigmamind"
_HOST = "campaigns"
#: The asset alias through which tasks emit events for campaigns whose id is known only at run time.
CAMPAIGNS_ALIAS = "sigmamind_campaigns"
#: The fields of a campaign an asset event carries in its ``extra``.
EXTRA_FIELDS = ("campaignId", "campaignName", "campaignStatus")

log = logging.getLogger(__name__)


def campaign_asset_uri(campaign_id: str) -> str:
    """The asset URI of a campaign, ``sigmamind://campaigns/<campaign id>`` (the id percent-encoded)."""
    if not isinstance(campaign_id, str) or not campaign_id.strip():
        raise ValueError(f"campaign_id must be a non-empty string, got {campaign_id!r}")
    return f"{SCHEME}://{_HOST}/{quote(campaign_id, safe='')}"


def campaign_asset(campaign_id: str, *, extra: Mapping[str, Any] | None = None) -> Asset:
    """The asset standing for a campaign: for a DAG's ``schedule`` or a task's ``outlets``.

    :param campaign_id: the campaign's id, as SigmaMind gave it.
    :param extra: the asset's own extra (not an event's).
    """
    return Asset(uri=campaign_asset_uri(campaign_id), extra=dict(extra or {}))


def campaigns_alias() -> AssetAlias:
    """The alias ``sigmamind_campaigns``: put it in ``outlets`` when the campaign id is known only at run time."""
    return AssetAlias(CAMPAIGNS_ALIAS)


def campaign_id_of(uri: str) -> str:
    """The campaign id in a ``sigmamind://campaigns/<id>`` URI.

    :raises ValueError: for any other URI.
    """
    return unquote(sanitize_uri(urlsplit(uri)).path[1:])


def sanitize_uri(uri: SplitResult) -> SplitResult:
    """Airflow's normaliser for ``sigmamind://`` asset URIs: exactly ``sigmamind://campaigns/<id>``.

    :raises ValueError: for another host, an empty or nested id, a query, a fragment or credentials.
    """
    if uri.netloc != _HOST:
        raise ValueError(f"a sigmamind:// asset URI names a campaign: sigmamind://campaigns/<id>, not {uri.geturl()!r}")
    campaign_id = uri.path[1:] if uri.path.startswith("/") else ""
    if not campaign_id or "/" in campaign_id:
        raise ValueError(f"a sigmamind:// asset URI needs one campaign id after campaigns/: {uri.geturl()!r}")
    if uri.query or uri.fragment:
        raise ValueError(f"a sigmamind:// asset URI takes no query or fragment: {uri.geturl()!r}")
    return uri


def create_asset(*, campaign_id: str, extra: Mapping[str, Any] | None = None) -> Asset:
    """The asset factory Airflow's ``asset-uris`` registration names (see :func:`campaign_asset`)."""
    return campaign_asset(campaign_id, extra=extra)


def convert_asset_to_openlineage(asset: Asset, lineage_context: Any) -> Any:
    """The OpenLineage dataset of a ``sigmamind://`` asset (Airflow calls it for the OpenLineage provider)."""
    from airflow_provider_sigmamind.lineage import campaign_dataset

    return campaign_dataset(campaign_id_of(asset.uri))


def campaign_event_extra(payload: Mapping[str, Any]) -> dict[str, Any]:
    """What an asset event for a campaign carries: its id, name and status."""
    return {name: payload.get(name) for name in EXTRA_FIELDS}


def emit_campaign_events(outlets: object, context: Mapping[str, Any], payload: Mapping[str, Any]) -> None:
    """Give the task's asset events for this campaign its id, name and status.

    For each of ``outlets``: the campaign's own asset gets the extra on the event Airflow emits for
    it; the :func:`campaigns_alias` (or any asset alias) gets an event for the campaign's asset.
    Other outlets are left alone; a ``sigmamind://`` asset for another campaign is warned about.

    :param outlets: the task's ``outlets``.
    :param context: the task's context (its ``outlet_events``).
    :param payload: the campaign, as SigmaMind returned it.
    """
    if not outlets or not isinstance(outlets, list | tuple):
        return
    events = context.get("outlet_events")
    campaign_id = payload.get("campaignId")
    if events is None or not isinstance(campaign_id, str) or not campaign_id:
        return
    extra = campaign_event_extra(payload)
    uri = campaign_asset_uri(campaign_id)
    for outlet in outlets:
        if isinstance(outlet, AssetAlias):
            events[outlet].add(campaign_asset(campaign_id), extra=extra)
        elif isinstance(outlet, Asset) and outlet.uri == uri:
            events[outlet].extra.update(extra)
        elif isinstance(outlet, Asset) and outlet.uri.startswith(f"{SCHEME}://"):
            log.warning(
                "Outlet %s is not campaign %r's asset (%s): its event carries no campaign", outlet.uri, campaign_id, uri
            )
