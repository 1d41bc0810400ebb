"""Sensors for SigmaMind campaigns."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue, conf
from airflow.sdk.exceptions import AirflowFailException, AirflowSensorTimeout, AirflowSkipException

from airflow_provider_sigmamind import exceptions
from airflow_provider_sigmamind.defaults import DEFAULT_CONN_ID
from airflow_provider_sigmamind.exceptions import SigmaMindCampaignStatusError, SigmaMindError
from airflow_provider_sigmamind.hooks.sigmamind import SigmaMindHook
from airflow_provider_sigmamind.models import DEFAULT_TARGET_STATUSES, CampaignStatus, parse_campaign
from airflow_provider_sigmamind.watch import CampaignWatch, wait_settings

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
    :param deferrable: hand the wait to Airflow's triggerer (see ``docs/deferrable.md``): the sensor
        checks once, and when the campaign is not yet done it frees its worker slot and a
        :class:`~airflow_provider_sigmamind.triggers.campaign.CampaignStatusTrigger` polls every
        ``poke_interval`` seconds until ``timeout``. Same outcomes, XCom and exceptions as poke mode.
        Defaults to ``[operators] default_deferrable``.
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
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.deferrable = deferrable
        self.campaign_id = campaign_id
        self.sigmamind_conn_id = sigmamind_conn_id
        self.target_statuses, self.failure_statuses, self.max_consecutive_errors = wait_settings(
            target_statuses, failure_statuses, max_consecutive_errors
        )
        self._watch: CampaignWatch | None = None  # created at the first poke of this task try

    @cached_property
    def hook(self) -> SigmaMindHook:
        """The hook for ``sigmamind_conn_id``, reused across pokes."""
        return SigmaMindHook(sigmamind_conn_id=self.sigmamind_conn_id)

    def execute(self, context: Context) -> Any:
        if self.deferrable:
            return self._check_then_defer(context)
        try:
            return super().execute(context)
        finally:
            self.hook.close()

    def _check_then_defer(self, context: Context) -> Any:
        """Deferrable mode: look once; when the campaign is not done yet, hand the wait to the triggerer."""
        from airflow_provider_sigmamind.triggers.campaign import CampaignStatusTrigger

        try:
            done = self.poke(context)
        except AirflowFailException as err:  # as the base class does for poke mode
            if self.soft_fail or self.never_fail:
                raise AirflowSkipException(f"Skipping: {err}") from err
            raise
        finally:
            self.hook.close()
        if done:
            return done.xcom_value if isinstance(done, PokeReturnValue) else None
        assert self._watch is not None  # poke() made it
        deadline = self._watch.started + self.timeout
        # A backstop only: the trigger sends its own timeout event at the deadline, after one last look.
        policy_deadline = self.hook.retry_policy_for(self.hook.config).deadline
        backstop = max(0.0, deadline - time.time()) + self.poke_interval + policy_deadline + 60.0
        self.log.info(
            "Campaign %r is not done yet; deferring to the triggerer (polling every %ss)",
            self.campaign_id,
            self.poke_interval,
        )
        self.defer(
            trigger=CampaignStatusTrigger(
                campaign_id=self.campaign_id,
                sigmamind_conn_id=self.sigmamind_conn_id,
                target_statuses=[s.value for s in self.target_statuses],
                failure_statuses=[s.value for s in self.failure_statuses],
                poll_interval=float(self.poke_interval),
                deadline=deadline,
                max_consecutive_errors=max(1, self.max_consecutive_errors - self._watch.consecutive_errors),
                poll_at_start=False,  # the sensor has just looked
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=backstop),
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        """Resume after the trigger fired: the same result, or the same exception, as poke mode.

        :param event: the trigger's event (``status`` ``success``, ``failure`` or ``error``).
        :raises SigmaMindCampaignStatusError: on a ``failure`` event.
        :raises SigmaMindError: the subclass named by an ``error`` event.
        :raises AirflowSensorTimeout: when the trigger reached the sensor's deadline.
        """
        if not isinstance(event, dict) or "status" not in event:
            raise SigmaMindError(f"the trigger sent no usable event for campaign {self.campaign_id!r}: {event!r}")
        campaign_id = event.get("campaign_id") or self.campaign_id
        if event["status"] == "success":
            payload = event.get("campaign")
            self.log.info("Done: %s", parse_campaign(payload, expected_id=self.campaign_id).summary())
            return payload
        message = str(event.get("message") or "no reason given")
        if event["status"] == "failure":
            raise SigmaMindCampaignStatusError(message, campaign_id=campaign_id)
        error_class = str(event.get("error_class") or "")
        if error_class == "AirflowSensorTimeout":
            raise AirflowSensorTimeout(message)
        cls = getattr(exceptions, error_class, None)
        if not (isinstance(cls, type) and issubclass(cls, SigmaMindError)):
            cls = SigmaMindError
            message = f"{error_class or 'error'} in the triggerer: {message}"
        raise cls(message, campaign_id=campaign_id, status_code=event.get("status_code"))

    def poke(self, context: Context) -> bool | PokeReturnValue:
        if self._watch is None:
            self._watch = CampaignWatch(
                targets=self.target_statuses,
                failures=self.failure_statuses,
                max_consecutive_errors=self.max_consecutive_errors,
                log=self.log,
                started=self._wait_started(context),
            )
        try:
            campaign = self.hook.get_campaign(self.campaign_id)
        except SigmaMindError as err:
            self._watch.poll_failed(err)
            return False
        verdict = self._watch.observe(campaign)
        if verdict.outcome == "success":
            return PokeReturnValue(is_done=True, xcom_value=campaign.payload)
        if verdict.outcome == "failure":
            raise SigmaMindCampaignStatusError(verdict.reason, campaign_id=campaign.campaign_id)
        return False

    def _wait_started(self, context: Context) -> float:
        """When this wait began (in reschedule mode, the first poke of the run, not this one)."""
        if self.reschedule:
            first = context["ti"].get_first_reschedule_date(context)
            if first is not None:
                return first.timestamp()
        return time.time()
