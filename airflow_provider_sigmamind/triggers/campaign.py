"""Triggers for SigmaMind campaigns: the triggerer's side of a deferred wait."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime
from typing import Any, ClassVar

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_sigmamind.defaults import DEFAULT_CONN_ID
from airflow_provider_sigmamind.exceptions import SigmaMindError
from airflow_provider_sigmamind.hooks.sigmamind import SigmaMindHook, validate_campaign_id
from airflow_provider_sigmamind.models import DEFAULT_TARGET_STATUSES, CampaignStatus, parse_statuses
from airflow_provider_sigmamind.retry import RetryPolicy
from airflow_provider_sigmamind.watch import CampaignWatch, wait_settings

__all__ = ["TIMEOUT_ERROR_CLASS", "CampaignStatusTrigger"]

#: ``error_class`` of the event sent when the deadline passes (the sensor raises ``AirflowSensorTimeout``).
TIMEOUT_ERROR_CLASS = "AirflowSensorTimeout"


def _epoch(deadline: float | int | str | datetime | None) -> float | None:
    """An absolute deadline as seconds since the epoch, from a number, an ISO-8601 string or a datetime."""
    if deadline is None:
        return None
    if isinstance(deadline, datetime):
        if deadline.tzinfo is None:
            raise ValueError("deadline: a datetime must carry a time zone")
        return deadline.timestamp()
    if isinstance(deadline, str):
        try:
            parsed = datetime.fromisoformat(deadline.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"deadline: {deadline!r} is not an epoch time or an ISO-8601 instant") from None
        return _epoch(parsed)
    if isinstance(deadline, bool) or not isinstance(deadline, int | float) or not math.isfinite(deadline):
        raise ValueError(f"deadline: expected seconds since the epoch, got {deadline!r}")
    return float(deadline)


class CampaignStatusTrigger(BaseTrigger):
    """Poll a campaign from the triggerer until it reaches a target status, a failure, or the deadline.

    Takes only primitives and never the API key: the key is read from the connection, asynchronously,
    when the trigger runs. Polls go through :meth:`SigmaMindHook.aget_campaign` (the same retry policy
    and errors as the sync path) on an HTTP client pooled per event loop and released on every exit
    path. Status semantics are :func:`airflow_provider_sigmamind.models.judge`'s, as in poke mode.

    Yields exactly one event, a small JSON object:

    - ``{"status": "success", "campaign": <payload as SigmaMind sent it>}``
    - ``{"status": "failure", "message": ..., "campaign_id": ...}``: a failure status, or one that can
      never become a target.
    - ``{"status": "error", "message": ..., "error_class": ..., "campaign_id": ..., "status_code": ...}``:
      a permanent error, ``max_consecutive_errors`` failed polls in a row, an unexpected exception, or
      the deadline (``error_class`` ``"AirflowSensorTimeout"``).

    :param campaign_id: the campaign's id.
    :param sigmamind_conn_id: the ``sigmamind`` connection holding the key.
    :param target_statuses: statuses that end the wait successfully (names, e.g. ``["live"]``).
    :param failure_statuses: statuses that end it as a failure.
    :param poll_interval: seconds between two polls.
    :param deadline: when to give up, as seconds since the epoch or an ISO-8601 instant; ``None`` for
        never. Absolute, so a trigger restarted on another triggerer keeps the same deadline. At the
        deadline the campaign is looked at once more, as poke mode does.
    :param max_consecutive_errors: polls in a row that may fail transiently (after the hook's own
        retries) before the trigger gives up.
    :param poll_at_start: poll as soon as the trigger starts; ``False`` waits ``poll_interval`` first
        (the sensor's choice: it has just looked, and a wait of its own keeps the poll cadence of poke mode).
    """

    #: Backoff settings for the trigger's requests; the number of retries comes from the connection.
    #: A class attribute, never serialized (tests set a zero backoff here).
    retry_policy: ClassVar[RetryPolicy | None] = None

    def __init__(
        self,
        *,
        campaign_id: str,
        sigmamind_conn_id: str = DEFAULT_CONN_ID,
        target_statuses: Iterable[str | CampaignStatus] | str = DEFAULT_TARGET_STATUSES,
        failure_statuses: Iterable[str | CampaignStatus] | str | None = None,
        poll_interval: float = 60.0,
        deadline: float | str | datetime | None = None,
        max_consecutive_errors: int = 3,
        poll_at_start: bool = True,
    ) -> None:
        super().__init__()
        self.campaign_id = validate_campaign_id(campaign_id)
        self.sigmamind_conn_id = sigmamind_conn_id
        targets, failures, self.max_consecutive_errors = wait_settings(
            target_statuses, failure_statuses, max_consecutive_errors
        )
        self.target_statuses = [status.value for status in targets]
        self.failure_statuses = [status.value for status in failures]
        if (
            isinstance(poll_interval, bool)
            or not isinstance(poll_interval, int | float)
            or not math.isfinite(poll_interval)
            or poll_interval < 0
        ):
            raise ValueError(f"poll_interval must be a number of seconds >= 0, got {poll_interval!r}")
        self.poll_interval = float(poll_interval)
        self.deadline = _epoch(deadline)
        self.poll_at_start = bool(poll_at_start)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """The class path and the primitives to rebuild this trigger (no secret among them)."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "campaign_id": self.campaign_id,
                "sigmamind_conn_id": self.sigmamind_conn_id,
                "target_statuses": list(self.target_statuses),
                "failure_statuses": list(self.failure_statuses),
                "poll_interval": self.poll_interval,
                "deadline": self.deadline,
                "max_consecutive_errors": self.max_consecutive_errors,
                "poll_at_start": self.poll_at_start,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll until the wait is decided, then yield its one event.

        ``asyncio.CancelledError`` (the triggerer stopping, or the task being cleared) propagates
        after the HTTP client is released; any other exception becomes an ``error`` event.
        """
        hook = SigmaMindHook(sigmamind_conn_id=self.sigmamind_conn_id, retry_policy=self.retry_policy)
        try:
            event = await self._watch(hook)
        except Exception as exc:  # a bug or a missing connection must still end the wait with an event
            self.log.exception("Watching campaign %r failed unexpectedly", self.campaign_id)
            event = self._error_event(exc)
        finally:
            try:
                await hook.aclose()
            except Exception:
                self.log.warning("Closing the HTTP client failed", exc_info=True)
        yield TriggerEvent(event)

    async def _watch(self, hook: SigmaMindHook) -> dict[str, Any]:
        """The polling loop; returns the event payload."""
        watch = CampaignWatch(
            targets=parse_statuses(self.target_statuses, what="target_statuses"),
            failures=parse_statuses(self.failure_statuses, what="failure_statuses"),
            max_consecutive_errors=self.max_consecutive_errors,
            log=self.log,
        )
        first = True
        while True:
            if not (first and self.poll_at_start):
                delay = self.poll_interval
                if self.deadline is not None:
                    left = self.deadline - time.time()
                    if left <= 0 and not first:
                        return self._timeout_event()
                    delay = max(0.0, min(delay, left))
                await asyncio.sleep(delay)
            first = False
            try:
                # A task of its own for the request: the triggerer runs each trigger under a greenback
                # portal, whose shim on every suspension of this task would add to the CPU of every
                # poll; the request needs no portal. Cancelling this task cancels the request too.
                campaign = await asyncio.create_task(hook.aget_campaign(self.campaign_id))
            except SigmaMindError as err:
                try:
                    watch.poll_failed(err)
                except SigmaMindError as final:
                    return self._error_event(final)
                continue
            verdict = watch.observe(campaign)
            if verdict.outcome == "success":
                return {"status": "success", "campaign": campaign.payload}
            if verdict.outcome == "failure":
                return {"status": "failure", "message": verdict.reason, "campaign_id": campaign.campaign_id}

    def _timeout_event(self) -> dict[str, Any]:
        when = datetime.fromtimestamp(self.deadline or 0, UTC).isoformat(timespec="seconds")
        return {
            "status": "error",
            "error_class": TIMEOUT_ERROR_CLASS,
            "message": f"campaign {self.campaign_id!r} did not reach {' or '.join(self.target_statuses)} "
            f"by the sensor's deadline ({when})",
            "campaign_id": self.campaign_id,
            "status_code": None,
        }

    def _error_event(self, exc: Exception) -> dict[str, Any]:
        return {
            "status": "error",
            "error_class": type(exc).__name__,
            "message": str(exc) or type(exc).__name__,
            "campaign_id": self.campaign_id,
            "status_code": getattr(exc, "status_code", None) if isinstance(exc, SigmaMindError) else None,
        }
