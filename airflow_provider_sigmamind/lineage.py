"""What a campaign task did, for Airflow's assets and OpenLineage.

:class:`CampaignLineage` is mixed into the create, update and get operators and the sensor. When
their work is done they call :meth:`CampaignLineage.campaign_done`, which emits the asset events
of :mod:`airflow_provider_sigmamind.assets` and remembers the campaign for
:meth:`CampaignLineage.get_openlineage_facets_on_complete`, which the OpenLineage provider calls
when it is installed (``pip install airflow-provider-sigmamind[openlineage]``):

* create: input the contact list when it came from a file (``file`` namespace), output the campaign;
* update: output the campaign;
* get and the sensor: input the campaign.

A campaign is the dataset ``sigmamind`` / ``campaigns/<campaign id>``, as the ``sigmamind://``
asset of the same campaign is translated.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from airflow_provider_sigmamind.assets import emit_campaign_events

__all__ = ["NAMESPACE", "CampaignLineage", "campaign_dataset", "file_dataset"]

#: The OpenLineage namespace of SigmaMind campaigns.
NAMESPACE = "sigmamind"


def campaign_dataset(campaign_id: str) -> Any:
    """The OpenLineage dataset of a campaign (needs the OpenLineage provider)."""
    from airflow.providers.common.compat.openlineage.facet import Dataset

    return Dataset(namespace=NAMESPACE, name=f"campaigns/{campaign_id}")


def file_dataset(path: str | os.PathLike[str]) -> Any:
    """The OpenLineage dataset of a local file, as Airflow's own providers name it."""
    from airflow.providers.common.compat.openlineage.facet import Dataset

    return Dataset(namespace="file", name=os.path.abspath(os.fspath(path)))


class CampaignLineage:
    """Asset events and OpenLineage facets for a task acting on one campaign (a mixin for operators).

    ``lineage_role`` says what the task does to the campaign: ``"creates"`` and ``"updates"`` make
    it an output, ``"reads"`` an input.
    """

    lineage_role: ClassVar[Literal["creates", "updates", "reads"]] = "reads"
    _sigmamind_campaign: Mapping[str, Any] | None = None
    _sigmamind_contacts_file: str | None = None

    def campaign_done(
        self,
        context: Mapping[str, Any],
        payload: dict[str, Any],
        *,
        contacts: object = None,
    ) -> dict[str, Any]:
        """Record the campaign the task acted on and emit its asset events; returns ``payload``.

        :param context: the task's context.
        :param payload: the campaign, as SigmaMind returned it.
        :param contacts: what the contact list was read from (a path makes it a lineage input).
        """
        self._sigmamind_campaign = payload
        if isinstance(contacts, os.PathLike):
            self._sigmamind_contacts_file = os.fspath(contacts)
        emit_campaign_events(getattr(self, "outlets", None), context, payload)
        return payload

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """The task's lineage, for the OpenLineage provider: the contact file and the campaign."""
        from airflow.providers.openlineage.extractors import OperatorLineage

        campaign = self._sigmamind_campaign or {}
        campaign_id = campaign.get("campaignId")
        if not isinstance(campaign_id, str) or not campaign_id:
            return OperatorLineage()
        inputs = [file_dataset(self._sigmamind_contacts_file)] if self._sigmamind_contacts_file else []
        if self.lineage_role == "reads":
            return OperatorLineage(inputs=[*inputs, campaign_dataset(campaign_id)])
        return OperatorLineage(inputs=inputs, outputs=[campaign_dataset(campaign_id)])
