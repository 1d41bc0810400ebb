"""Operators for SigmaMind campaigns."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_sigmamind.defaults import DEFAULT_CONN_ID
from airflow_provider_sigmamind.exceptions import SigmaMindContactListError
from airflow_provider_sigmamind.hooks.sigmamind import SigmaMindHook

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = ["GetCampaignOperator"]


class GetCampaignOperator(BaseOperator):
    """Fetch one campaign and push its details to XCom.

    The return value (XCom ``return_value``) is the campaign exactly as SigmaMind sent it, in the
    API's own camelCase: ``campaignId``, ``campaignName``, ``campaignStatus``, ``scheduledDate``,
    ``errors``, ... The task logs a one-line summary, and the contact list's row errors as a
    warning (or fails on them with ``fail_on_csv_errors=True``).

    :param campaign_id: the campaign's id, exactly as SigmaMind gave it (templated).
    :param sigmamind_conn_id: the ``sigmamind`` connection to use (templated).
    :param fail_on_csv_errors: fail the task, listing the rows, when the contact list has errors.
    """

    template_fields: Sequence[str] = ("campaign_id", "sigmamind_conn_id")
    ui_color = "#e8f0fe"

    def __init__(
        self,
        *,
        campaign_id: str,
        sigmamind_conn_id: str = DEFAULT_CONN_ID,
        fail_on_csv_errors: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.campaign_id = campaign_id
        self.sigmamind_conn_id = sigmamind_conn_id
        self.fail_on_csv_errors = fail_on_csv_errors

    @cached_property
    def hook(self) -> SigmaMindHook:
        """The hook for ``sigmamind_conn_id``."""
        return SigmaMindHook(sigmamind_conn_id=self.sigmamind_conn_id)

    def execute(self, context: Context) -> dict[str, Any]:
        with self.hook as hook:
            campaign = hook.get_campaign(self.campaign_id)
        self.log.info("Fetched %s", campaign.summary())
        if campaign.errors:
            rows = "\n".join(f"  - {error}" for error in campaign.errors)
            message = f"campaign {campaign.campaign_id!r} has {len(campaign.errors)} contact-list row error(s):\n{rows}"
            if self.fail_on_csv_errors:
                raise SigmaMindContactListError(message, campaign_id=campaign.campaign_id)
            self.log.warning("%s", message)
        return campaign.payload
