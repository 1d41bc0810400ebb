"""Sensors for SigmaMind campaigns."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue

from airflow_provider_sigmamind.defaults import DEFAULT_CONN_ID
from airflow_provider_sigmamind.exceptions import SigmaMindCampaignStatusError, SigmaMindError
from airflow_provider_sigmamind.hooks.sigmamind import SigmaMindHook
from airflow_provider_sigmamind.models import (
    DEFAULT_TARGET_STATUSES,
    Campaign,
    CampaignStatus,
    judge,
    parse_statuses,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = ["CampaignStatusSensor"]


class CampaignStatusSensor(BaseSensorOperator):
    """Wait until a campaign reaches a target status (by default ``live`` or ``completed``).

    On success the XCom ``return_value`` is the campaign payload as SigmaMind sent it. The sensor
    fails at once, without using task retries, when the campaign reaches one of
    ``failure_statuses`` or a status from which no target can be reached any more (a campaign that
    is ``completed`` while only ``live`` was awaited). An unknown status never counts as success:
    the sensor warns and keeps waiting.

    A poke whose request fails transiently (after the hook's own retries) is not fatal; after
    ``max_consecutive_errors`` such pokes in a row the task fails with the last error. Permanent
    errors (bad key, unknown campaign, malformed answers) fail at once.

    In ``reschedule`` mode Airflow keeps no state between pokes (it clears a task's XComs when it
    is rescheduled), so there the consecutive-error count starts afresh at every poke, and only
    ``timeout`` bounds a run of failing pokes.

    :param campaign_id: the campaign's id (templated).
    :param sigmamind_conn_id: the ``sigmamind`` connection to use (templated).
    :param target_statuses: statuses that end the wait successfully.
    :param failure_statuses: statuses that fail the task at once (default: none).
    :param max_consecutive_errors: failing pokes in a row after which the task fails.
    """

    template_fields: Sequence[str] = ("campaign_id", "sigmamind_conn_id")
    ui_color = "#e8f0fe"

    def __init__(
        self,
        *,
        campaign_id: str,
        sigmamind_conn_id: str = DEFAULT_CONN_ID,
        target_statuses: Iterable[str | CampaignStatus] | str = DEFAULT_TARGET_STATUSES,
        failure_statuses: Iterable[str | CampaignStatus] | str | None = None,
        max_consecutive_errors: int = 3,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.campaign_id = campaign_id
        self.sigmamind_conn_id = sigmamind_conn_id
        self.target_statuses = sorted(parse_statuses(target_statuses, what="target_statuses"))
        self.failure_statuses = sorted(parse_statuses(failure_statuses, what="failure_statuses"))
        if not self.target_statuses:
            raise ValueError("target_statuses: give at least one status to wait for")
        overlap = set(self.target_statuses) & set(self.failure_statuses)
        if overlap:
            raise ValueError(
                f"target_statuses and failure_statuses overlap: {', '.join(sorted(s.value for s in overlap))}"
            )
        if not isinstance(max_consecutive_errors, int) or max_consecutive_errors < 1:
            raise ValueError(f"max_consecutive_errors must be a whole number >= 1, got {max_consecutive_errors!r}")
        self.max_consecutive_errors = max_consecutive_errors
        self._consecutive_errors = 0
        self._last_status: str | None = None
        self._warned_unknown = False
        self._started: float | None = None

    @cached_property
    def hook(self) -> SigmaMindHook:
        """The hook for ``sigmamind_conn_id``, reused across pokes."""
        return SigmaMindHook(sigmamind_conn_id=self.sigmamind_conn_id)

    def execute(self, context: Context) -> Any:
        try:
            return super().execute(context)
        finally:
            self.hook.close()

    def poke(self, context: Context) -> bool | PokeReturnValue:
        if self._started is None:
            self._started = self._wait_started(context)
        try:
            campaign = self.hook.get_campaign(self.campaign_id)
        except SigmaMindError as err:
            if not err.retryable:
                raise
            self._consecutive_errors += 1
            if self._consecutive_errors >= self.max_consecutive_errors:
                err.add_detail(f"; {self._consecutive_errors} polls in a row failed, giving up")
                raise
            self.log.warning(
                "Poll failed (%d of %d in a row tolerated): %s",
                self._consecutive_errors,
                self.max_consecutive_errors - 1,
                err,
            )
            return False
        self._consecutive_errors = 0
        return self.evaluate(campaign)

    def _wait_started(self, context: Context) -> float:
        """When this wait began (in reschedule mode, the first poke of the run, not this one)."""
        if self.reschedule:
            first = context["ti"].get_first_reschedule_date(context)
            if first is not None:
                return first.timestamp()
        return time.time()

    def evaluate(self, campaign: Campaign) -> bool | PokeReturnValue:
        """Turn one observation into the sensor's answer: done, not yet, or an exception."""
        verdict = judge(
            campaign.status,
            targets=self.target_statuses,
            failures=self.failure_statuses,
            raw_status=campaign.raw_status,
            campaign_id=campaign.campaign_id,
        )
        status = campaign.raw_status
        if status != self._last_status:
            waited = time.time() - (self._started or time.time())
            self.log.info("Campaign %r is now %r after %.1fs of waiting", campaign.campaign_id, status, waited)
            self._last_status = status
        if verdict.outcome == "success":
            self.log.info("Done: %s", campaign.summary())
            return PokeReturnValue(is_done=True, xcom_value=campaign.payload)
        if verdict.outcome == "failure":
            raise SigmaMindCampaignStatusError(verdict.reason, campaign_id=campaign.campaign_id)
        if campaign.status is CampaignStatus.UNKNOWN and not self._warned_unknown:
            self.log.warning("%s", verdict.reason)
            self._warned_unknown = True
        return False
