"""Sensors for SigmaMind campaigns."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, NoReturn

from airflow_provider_sigmamind.compat import (
    AirflowFailException,
    AirflowSensorTimeout,
    AirflowSkipException,
    AirflowTaskTimeout,
    BaseSensorOperator,
    PokeReturnValue,
    TaskDeferralError,
    TaskDeferralTimeout,
    TaskDeferred,
    conf,
    first_reschedule_date,
)
from airflow_provider_sigmamind.defaults import DEFAULT_CONN_ID, DEFAULT_TIMEOUT
from airflow_provider_sigmamind.events import error_of, outcome
from airflow_provider_sigmamind.exceptions import SigmaMindCampaignStatusError, SigmaMindError
from airflow_provider_sigmamind.hooks.sigmamind import SigmaMindHook
from airflow_provider_sigmamind.lineage import CampaignLineage
from airflow_provider_sigmamind.models import DEFAULT_TARGET_STATUSES, CampaignStatus, parse_campaign
from airflow_provider_sigmamind.watch import CampaignWatch, poll_policy, wait_settings

if TYPE_CHECKING:
    from airflow_provider_sigmamind.compat import Context
    from airflow_provider_sigmamind.config import SigmaMindConfig


__all__ = ["CampaignStatusSensor"]


class CampaignStatusSensor(CampaignLineage, BaseSensorOperator):
    """Wait until a campaign reaches a target status (by default ``live`` or ``completed``).

    On success the XCom ``return_value`` is the campaign payload as SigmaMind sent it. The sensor
    fails at once, without using task retries, when the campaign reaches one of
    ``failure_statuses`` or a status from which no target can be reached any more (a campaign that
    is ``completed`` while only ``live`` was awaited). An unknown status never counts as success:
    the sensor warns and keeps waiting.

    A poke whose request fails transiently (after the hook's own retries) is not fatal; after
    ``max_consecutive_errors`` such pokes in a row the task fails with the last error. Permanent
    errors (bad key, unknown campaign, malformed answers) fail at once.

    ``soft_fail``, ``never_fail`` and ``silent_fail`` give the same outcome in every mode, by the rule
    Airflow's poke loop applies: ``soft_fail`` skips on the timeout and on a failure status, but a
    deleted campaign (404), a refused key or an exhausted error budget still fail the task;
    ``never_fail`` skips on every error, but not on the timeout; ``silent_fail`` keeps waiting after
    errors until the timeout. (Airflow's deferrable sensors otherwise skip on any error after deferring
    with ``soft_fail``.) In deferrable mode ``execution_timeout`` also bounds the time spent deferred.

    Deadlines hold in every mode: a poll retries only until the sensor's ``timeout`` runs out, not for
    the hook's whole retry budget, so a wait ends at most one request timeout after its deadline.

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
        self._execute_started = time.time()  # set again when execute() starts

    @cached_property
    def hook(self) -> SigmaMindHook:
        """The hook for ``sigmamind_conn_id``, reused across pokes."""
        return SigmaMindHook(sigmamind_conn_id=self.sigmamind_conn_id)

    def execute(self, context: Context) -> Any:
        self._execute_started = time.time()
        if self.deferrable:
            return self._check_then_defer(context)
        try:
            return super().execute(context)
        finally:
            self.hook.close()

    # -- deferrable mode ---------------------------------------------------------------------

    def _check_then_defer(self, context: Context) -> Any:
        """Deferrable mode: look once; when the campaign is not done yet, hand the wait to the triggerer."""
        try:
            done = self.poke(context)
        except BaseException as err:
            settled = self._poke_mode_outcome(err)
            if settled is not None:
                self._raise(settled, err)
            done = False  # silent_fail: keep waiting
        finally:
            self.hook.close()
        if done:
            return done.xcom_value if isinstance(done, PokeReturnValue) else None
        assert self._watch is not None  # poke() made it
        self._defer(self._watch)

    def _defer(self, watch: CampaignWatch) -> NoReturn:
        """Hand the wait to the triggerer, or end it as poke mode would when its time is already up."""
        from airflow_provider_sigmamind.triggers.campaign import CampaignStatusTrigger

        trigger = CampaignStatusTrigger.continuing(
            watch,
            self._config_or_none(),
            campaign_id=self.campaign_id,
            sigmamind_conn_id=self.sigmamind_conn_id,
            target_statuses=[s.value for s in self.target_statuses],
            failure_statuses=[s.value for s in self.failure_statuses],
            poll_interval=float(self.poke_interval),
            deadline=watch.started + self.timeout,
            max_consecutive_errors=self.max_consecutive_errors,
            # Airflow does not count deferred time against execution_timeout; the trigger does.
            execution_deadline=None
            if self.execution_timeout is None
            else self._execute_started + self.execution_timeout.total_seconds(),
            silent_fail=self.silent_fail,
        )
        ends = trigger.ends_at()
        assert ends is not None
        if time.time() >= ends:  # poke mode gives up after a poke past the deadline, without another look
            timed_out = error_of(trigger.timeout_event(), campaign_id=self.campaign_id)
            assert timed_out is not None
            self._raise(self._poke_mode_outcome(timed_out) or timed_out, timed_out)
        self.log.info(
            "Campaign %r is not done yet; deferring to the triggerer (polling every %ss)",
            self.campaign_id,
            self.poke_interval,
        )
        # A backstop only: the trigger sends its own timeout event at the deadline, after one last look
        # that takes at most one request timeout.
        backstop = ends - time.time() + (trigger.timeout or DEFAULT_TIMEOUT) + 60.0
        self.defer(trigger=trigger, method_name="execute_complete", timeout=timedelta(seconds=backstop))

    def _config_or_none(self) -> SigmaMindConfig | None:
        """The connection's settings, or ``None`` when they cannot be read (the trigger then reads them)."""
        try:
            return self.hook.config
        except Exception:  # silent_fail let a poke fail on the connection itself: the trigger will report it
            return None

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        """Resume after the trigger fired: the same result, or the same exception, as poke mode.

        :param event: the trigger's event (see :mod:`airflow_provider_sigmamind.events`).
        :raises SigmaMindCampaignStatusError: on a ``failure`` event.
        :raises SigmaMindError: the subclass named by an ``error`` event, with its attributes.
        :raises AirflowSensorTimeout: when the trigger reached the sensor's deadline (``AirflowTaskTimeout``
            when it reached the end of ``execution_timeout`` first).
        """
        payload = outcome(event, campaign_id=self.campaign_id)
        self.log.info("Done: %s", parse_campaign(payload, expected_id=self.campaign_id).summary())
        return self.campaign_done(context, payload)

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Context) -> Any:
        """Resume a deferred wait, ending it as poke mode would (see :meth:`_poke_mode_outcome`).

        Airflow's sensors skip on any error after deferring when ``soft_fail`` is set (and on a timeout
        when ``never_fail`` is), where their poke mode fails; this sensor applies poke mode's rule here too.
        """
        try:
            # BaseOperator's, not BaseSensorOperator's: the rule is applied below.
            return super(BaseSensorOperator, self).resume_execution(next_method, next_kwargs, context)
        except TaskDeferralTimeout as err:  # the backstop: the trigger did not end in time
            timeout = AirflowSensorTimeout(*err.args)
            self._raise(self._poke_mode_outcome(timeout) or timeout, err)
        except BaseException as err:
            if isinstance(err, TaskDeferralError):  # the trigger crashed
                crashed = SigmaMindError(f"the trigger for campaign {self.campaign_id!r} failed: {err}")
                crashed.__cause__, err = err, crashed
            self._raise(self._poke_mode_outcome(err) or err, err)

    @staticmethod
    def _raise(settled: BaseException, err: BaseException) -> NoReturn:
        """Raise ``settled``, what poke mode makes of ``err`` (``err`` itself, or a skip caused by it)."""
        if settled is err:
            raise err
        raise settled from err

    def _poke_mode_outcome(self, err: BaseException) -> AirflowSkipException | BaseException | None:
        """What Airflow's poke loop (``BaseSensorOperator.execute``) makes of ``err``, for deferrable mode.

        The rule, from Airflow's own documentation of its sensor parameters: ``soft_fail`` skips on a
        timeout (``AirflowSensorTimeout``) and on a definitive failure (``AirflowFailException``: a
        failure status, a status that can never become a target); other errors (a deleted campaign, a
        revoked key, an exhausted retry budget) still fail the task. ``never_fail`` skips on every error
        of a poke, but not on the sensor's timeout. ``silent_fail`` keeps waiting after any other error.
        ``execution_timeout`` (``AirflowTaskTimeout``) fails the task, as it does in poke mode when it
        strikes between two pokes.

        :returns: the exception to raise (``err`` itself or a skip), or ``None`` to keep waiting.
        """
        if isinstance(err, AirflowSkipException | AirflowTaskTimeout | TaskDeferred) or not isinstance(err, Exception):
            return err
        if isinstance(err, AirflowSensorTimeout):
            return AirflowSkipException(f"Skipping due to soft_fail is set to True: {err}") if self.soft_fail else err
        if isinstance(err, AirflowFailException):
            if self.soft_fail or self.never_fail:
                setting = "soft_fail" if self.soft_fail else "never_fail"
                return AirflowSkipException(f"Skipping due to {setting} is set to True: {err}")
            return err
        if self.silent_fail:
            self.log.error("Sensor poke failed (silent_fail is set, still waiting): %s", err)
            return None
        if self.never_fail:
            return AirflowSkipException(f"Skipping due to never_fail is set to True: {err}")
        return err

    # -- every mode --------------------------------------------------------------------------

    def poke(self, context: Context) -> bool | PokeReturnValue:
        if self._watch is None:
            self._watch = self._new_watch(self._wait_started(context))
        try:
            config, deadline = self.hook.config, self._watch.started + self.timeout
            policy = poll_policy(config.retry_policy, timeout=config.timeout, deadline=deadline)
            campaign = self.hook.get_campaign(self.campaign_id, policy=policy)
        except SigmaMindError as err:
            self._watch.poll_failed(err)
            return False
        verdict = self._watch.observe(campaign)
        if verdict.outcome == "success":
            return PokeReturnValue(is_done=True, xcom_value=self.campaign_done(context, campaign.payload))
        if verdict.outcome == "failure":
            raise SigmaMindCampaignStatusError(verdict.reason, campaign_id=campaign.campaign_id)
        return False

    def _new_watch(self, started: float) -> CampaignWatch:
        return CampaignWatch(
            targets=self.target_statuses,
            failures=self.failure_statuses,
            max_consecutive_errors=self.max_consecutive_errors,
            log=self.log,
            started=started,
        )

    def _wait_started(self, context: Context) -> float:
        """When this wait began (in reschedule mode, the first poke of the run, not this one)."""
        if self.reschedule:
            first = first_reschedule_date(context)
            if first is not None:
                return first.timestamp()
        return time.time()
