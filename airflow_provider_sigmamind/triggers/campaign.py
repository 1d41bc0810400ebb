"""Triggers for SigmaMind campaigns: the triggerer's side of a deferred wait."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Hashable, Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow_provider_sigmamind import events
from airflow_provider_sigmamind.campaign_feed import SHARED_INTERVALS, CampaignFeed, Snapshot, poll_snapshots
from airflow_provider_sigmamind.compat import BaseTrigger, TriggerEvent
from airflow_provider_sigmamind.defaults import DEFAULT_CONN_ID
from airflow_provider_sigmamind.events import TIMEOUT_ERROR_CLASS
from airflow_provider_sigmamind.exceptions import SigmaMindError
from airflow_provider_sigmamind.hooks.sigmamind import SigmaMindHook, validate_campaign_id
from airflow_provider_sigmamind.models import DEFAULT_TARGET_STATUSES, CampaignStatus, parse_statuses
from airflow_provider_sigmamind.retry import RetryPolicy
from airflow_provider_sigmamind.watch import CampaignWatch, next_poll_at, poll_place, poll_policy, wait_settings

if TYPE_CHECKING:
    from airflow.triggers.base import BaseEventTrigger

    from airflow_provider_sigmamind.config import SigmaMindConfig
else:
    try:
        from airflow.triggers.base import BaseEventTrigger
    except ImportError:  # Airflow 2: no event-driven scheduling; the class still imports
        BaseEventTrigger = BaseTrigger

__all__ = ["TIMEOUT_ERROR_CLASS", "CampaignEventTrigger", "CampaignStatusTrigger"]


def _epoch(value: float | int | str | datetime | None, name: str = "deadline") -> float | None:
    """An instant as seconds since the epoch, from a number, an ISO-8601 string or a datetime."""
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"{name}: a datetime must carry a time zone")
        return value.timestamp()
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{name}: {value!r} is not an epoch time or an ISO-8601 instant") from None
        return _epoch(parsed, name)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name}: expected seconds since the epoch, got {value!r}")
    return float(value)


def _seconds(value: object, name: str, *, minimum: float, allow_none: bool = False) -> float | None:
    """A finite number of seconds >= ``minimum`` (or ``None`` when allowed)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < minimum:
        raise ValueError(f"{name} must be a number of seconds >= {minimum:g}, got {value!r}")
    return float(value)


class CampaignStatusTrigger(BaseTrigger):
    """Poll a campaign from the triggerer until it reaches a target status, a failure, or the deadline.

    Takes only primitives and never the API key: the key is read from the connection, asynchronously,
    when the trigger runs. Polls go through :meth:`SigmaMindHook.aget_campaign` (the same retry policy
    and errors as the sync path) on an HTTP client pooled per event loop and released on every exit
    path. Status semantics are :func:`airflow_provider_sigmamind.models.judge`'s, as in poke mode.

    Yields exactly one event, a small JSON object (the protocol is :mod:`airflow_provider_sigmamind.events`):
    ``success`` with the campaign payload, ``failure`` (a failure status, or one that can never become
    a target), or ``error`` (a permanent error, ``max_consecutive_errors`` failed polls in a row, an
    unexpected exception, or the deadline: ``error_class`` ``"AirflowSensorTimeout"``).

    Everything after ``poll_at_start`` is optional and filled in by
    :class:`~airflow_provider_sigmamind.sensors.campaign.CampaignStatusSensor` when it defers, so that
    the wait goes on where the sensor left it; a trigger serialized by an earlier release, without
    them, still runs.

    :param campaign_id: the campaign's id.
    :param sigmamind_conn_id: the ``sigmamind`` connection holding the key.
    :param target_statuses: statuses that end the wait successfully (names, e.g. ``["live"]``).
    :param failure_statuses: statuses that end it as a failure.
    :param poll_interval: seconds between two polls, counted from when the first was due, so a poll
        that ran late or long does not push the rest back (:func:`~airflow_provider_sigmamind.watch.next_poll_at`).
        The polls after the first keep the campaign's own place in the interval
        (:func:`~airflow_provider_sigmamind.watch.poll_place`): the second comes one to two intervals
        after the wait began, so that waits started together do not poll together.
    :param deadline: when to give up, as seconds since the epoch or an ISO-8601 instant; ``None`` for
        never. Absolute, so a trigger restarted on another triggerer keeps the same deadline. At the
        deadline the campaign is looked at once more, as poke mode does.
    :param max_consecutive_errors: polls in a row that may fail transiently (after the hook's own
        retries) before the trigger gives up.
    :param poll_at_start: poll as soon as the trigger starts; ``False`` waits for the wait's next
        place, one to two ``poll_interval`` away (the sensor's choice: it has just looked).
    :param retry_policy: the hook's retry policy as :meth:`RetryPolicy.to_kwargs` gives it (the
        sensor passes its own hook's); ``None`` reads it from the connection's extras.
    :param timeout: seconds allowed per request; ``None`` reads it from the connection.
    :param started: when the wait began (epoch seconds or an ISO-8601 instant), for "after N s of
        waiting" in the log, also after a triggerer restart; ``None`` counts from the trigger's start.
    :param last_status: the raw status the sensor saw last; the same status is then not logged again
        as a change.
    :param consecutive_errors: failed polls in a row the sensor had already counted.
    :param execution_deadline: when the task's ``execution_timeout`` ends (epoch seconds or an ISO-8601
        instant), which Airflow does not enforce while a task is deferred; reaching it first ends the
        wait with ``error_class`` ``"AirflowTaskTimeout"``.
    :param silent_fail: keep polling after a failed poll that would end the wait (as the sensor's
        ``silent_fail`` does in poke mode), until the deadline.
    """

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
        retry_policy: Mapping[str, Any] | None = None,
        timeout: float | None = None,
        started: float | str | datetime | None = None,
        last_status: str | None = None,
        consecutive_errors: int = 0,
        execution_deadline: float | str | datetime | None = None,
        silent_fail: bool = False,
    ) -> None:
        super().__init__()
        self.campaign_id = validate_campaign_id(campaign_id)
        self.sigmamind_conn_id = sigmamind_conn_id
        targets, failures, self.max_consecutive_errors = wait_settings(
            target_statuses, failure_statuses, max_consecutive_errors
        )
        # Tuples of strings: the garbage collector stops tracking them (at thousands of waits, every
        # object a trigger keeps is one more that each full collection walks).
        self.target_statuses = tuple(status.value for status in targets)
        self.failure_statuses = tuple(status.value for status in failures)
        self.poll_interval = float(_seconds(poll_interval, "poll_interval", minimum=0) or 0.0)
        self.deadline = _epoch(deadline)
        self.poll_at_start = bool(poll_at_start)
        # Checked now, so that a bad policy fails the deferral rather than the triggerer's run.
        self.retry_policy = None if retry_policy is None else RetryPolicy.from_kwargs(retry_policy).to_kwargs()
        self.timeout = _seconds(timeout, "timeout", minimum=0.001, allow_none=True)
        self.started = _epoch(started, "started")
        if last_status is not None and not isinstance(last_status, str):
            raise ValueError(f"last_status must be a string or None, got {last_status!r}")
        self.last_status = last_status
        if (
            isinstance(consecutive_errors, bool)
            or not isinstance(consecutive_errors, int)
            or not 0 <= consecutive_errors < self.max_consecutive_errors
        ):
            raise ValueError(
                f"consecutive_errors must be a whole number from 0 to max_consecutive_errors - 1, "
                f"got {consecutive_errors!r}"
            )
        self.consecutive_errors = consecutive_errors
        self.execution_deadline = _epoch(execution_deadline, "execution_deadline")
        self.silent_fail = bool(silent_fail)
        self._running_hook: SigmaMindHook | None = None  # the HTTP client run() holds, for on_kill()
        self._seen_status: str | None = None  # the status run() saw last, for on_kill()

    @property
    def log(self) -> Any:  # the type of Airflow's logger differs between versions
        """The class's one logger, shared by every wait.

        Airflow 3 builds each instance a logger of its own on first use (about nine objects that
        every full garbage collection walks, thousands of times in a busy triggerer). Sharing one
        loses nothing: the triggerer routes a line to its trigger's log by context, not by logger.
        """
        return type(self).logger()

    @classmethod
    def continuing(
        cls,
        watch: CampaignWatch,
        config: SigmaMindConfig | None,
        **settings: Any,
    ) -> CampaignStatusTrigger:
        """The rest of a wait a worker began (a sensor, or an operator waiting for its campaign):
        its clock, last status and errors so far from ``watch``, the connection's patience from
        ``config`` (``None``: read it in the triggerer), no look at the start (the worker has just
        looked). ``settings`` are the other arguments of the trigger.
        """
        return cls(
            poll_at_start=False,
            retry_policy=None if config is None else config.retry_policy.to_kwargs(),
            timeout=None if config is None else config.timeout,
            started=watch.started,
            last_status=watch.last_status,
            consecutive_errors=watch.consecutive_errors,
            **settings,
        )

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
                "retry_policy": None if self.retry_policy is None else dict(self.retry_policy),
                "timeout": self.timeout,
                "started": self.started,
                "last_status": self.last_status,
                "consecutive_errors": self.consecutive_errors,
                "execution_deadline": self.execution_deadline,
                "silent_fail": self.silent_fail,
            },
        )

    def _hook(self) -> SigmaMindHook:
        """A hook with the patience the trigger was given (what is not given comes from the connection)."""
        policy = None if self.retry_policy is None else RetryPolicy.from_kwargs(self.retry_policy)
        return SigmaMindHook(sigmamind_conn_id=self.sigmamind_conn_id, timeout=self.timeout, retry_policy=policy)

    #: Seconds :meth:`on_kill` gives its last look at the campaign (Airflow allows on_kill 30 s by default).
    KILL_LOOK_TIMEOUT = 5.0

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll until the wait is decided, then yield its one event.

        ``asyncio.CancelledError`` (the triggerer stopping, or the task being cleared) propagates
        after the HTTP client is released; any other exception becomes an ``error`` event.
        """
        hook = self._hook()
        self._running_hook = hook
        try:
            event = await self._watch(hook)
        except Exception as exc:  # a bug or a missing connection must still end the wait with an event
            self.log.exception("Watching campaign %r failed unexpectedly", self.campaign_id)
            event = events.error_event(exc, self.campaign_id)
        finally:
            self._running_hook = None
            try:
                await hook.aclose()
            except Exception:
                self.log.warning("Closing the HTTP client failed", exc_info=True)
        yield TriggerEvent(event)

    async def on_kill(self) -> None:
        """A user marked the deferred task failed or succeeded, or cleared it (Airflow 3.3+): stop watching.

        Releases the HTTP client if :meth:`run` still holds it, then looks at the campaign once (at most
        :attr:`KILL_LOOK_TIMEOUT` seconds) and logs what happens to it: SigmaMind has no endpoint to
        pause or stop a campaign, so a campaign that is dialling goes on dialling; stop it from the
        SigmaMind dashboard if that was the intent. Never raises.
        """
        held, self._running_hook = self._running_hook, None
        if held is not None:
            try:
                await held.aclose()
            except Exception:
                self.log.warning("Closing the HTTP client failed", exc_info=True)
        seen = self._seen_status or self.last_status
        hook = self._hook()
        try:
            campaign = await asyncio.wait_for(hook.aget_campaign(self.campaign_id), timeout=self.KILL_LOOK_TIMEOUT)
            now = f"is {campaign.raw_status!r}"
        except Exception as exc:  # the look is a courtesy: a kill must end cleanly
            now = f"could not be looked at ({type(exc).__name__}: {exc}); last seen {seen!r}"
        finally:
            try:
                await hook.aclose()
            except Exception:
                self.log.warning("Closing the HTTP client failed", exc_info=True)
        self.log.warning(
            "The wait for campaign %r was stopped by a user action on the task; the campaign %s and is not "
            "stopped: SigmaMind has no endpoint to pause or stop a campaign, so stop it from the SigmaMind "
            "dashboard if it must not dial",
            self.campaign_id,
            now,
        )

    async def _watch(self, hook: SigmaMindHook) -> dict[str, Any]:
        """The polling loop; returns the event payload."""
        watch = CampaignWatch(
            targets=parse_statuses(self.target_statuses, what="target_statuses"),
            failures=parse_statuses(self.failure_statuses, what="failure_statuses"),
            max_consecutive_errors=self.max_consecutive_errors,
            log=self.log,
            started=self.started,
            last_status=self.last_status,
            consecutive_errors=self.consecutive_errors,
        )
        ends = self.ends_at()
        loop = asyncio.get_running_loop()
        due = poll_place(self.campaign_id, loop.time(), self.poll_interval)  # polls are due from here on
        first = True
        while True:
            if not (first and self.poll_at_start):
                now = loop.time()
                due = next_poll_at(due, now, self.poll_interval)
                delay = due - now
                if ends is not None:
                    left = ends - time.time()
                    if left <= 0 and not first:
                        return self.timeout_event()
                    delay = min(delay, left)
                await asyncio.sleep(max(0.0, delay))
            first = False
            event = await self._poll(hook, watch, ends)
            if event is not None:
                return event

    async def _poll(self, hook: SigmaMindHook, watch: CampaignWatch, ends: float | None) -> dict[str, Any] | None:
        """One poll, judged: the event payload when it decides the wait, else ``None``.

        A method of its own so that nothing of the poll (its answer, its verdict) is held through
        the sleep that follows.
        """
        try:
            config = await hook.aget_config()
            policy = poll_policy(config.retry_policy, timeout=config.timeout, deadline=ends)
            # A task of its own for the request: the triggerer runs each trigger under a greenback
            # portal, whose shim on every suspension of this task would add to the CPU of every
            # poll; the request needs no portal. Cancelling this task cancels the request too.
            # Waits on the same campaign share one request per interval (coalesce.py).
            poll = hook.aget_campaign(self.campaign_id, policy=policy, max_age=self.poll_interval)
            campaign = await asyncio.create_task(poll)
        except SigmaMindError as err:
            try:
                watch.poll_failed(err)
            except SigmaMindError as final:
                if not self.silent_fail:
                    return events.error_event(final, self.campaign_id)
                self.log.error("Poll failed (silent_fail is set, still waiting): %s", final)
            return None
        except Exception:
            if not self.silent_fail:
                raise  # run() ends the wait with an error event
            self.log.exception("Poll failed (silent_fail is set, still waiting)")
            return None
        verdict = watch.observe(campaign)
        self._seen_status = watch.last_status
        if verdict.outcome == "success":
            return events.success_event(campaign.payload)
        if verdict.outcome == "failure":
            return events.failure_event(verdict.reason, campaign.campaign_id)
        return None

    def ends_at(self) -> float | None:
        """When the wait ends (epoch seconds): the deadline or the execution deadline, whichever is first."""
        return min((d for d in (self.deadline, self.execution_deadline) if d is not None), default=None)

    def timeout_event(self) -> dict[str, Any]:
        """The event sent at :meth:`ends_at`: the sensor's timeout, or the end of ``execution_timeout``."""
        ends = self.ends_at() or 0.0
        when = datetime.fromtimestamp(ends, UTC).isoformat(timespec="seconds")
        wanted = " or ".join(self.target_statuses)
        if self.execution_deadline is not None and (self.deadline is None or self.execution_deadline <= self.deadline):
            return events.timeout_event(
                f"campaign {self.campaign_id!r} did not reach {wanted} before the task's execution_timeout ({when})",
                self.campaign_id,
                error_class="AirflowTaskTimeout",
            )
        return events.timeout_event(
            f"campaign {self.campaign_id!r} did not reach {wanted} by the sensor's deadline ({when})",
            self.campaign_id,
        )


class CampaignEventTrigger(BaseEventTrigger):
    """Fire an event each time one of the account's campaigns reaches one of ``statuses``.

    For an ``AssetWatcher`` (Airflow 3): the DAG scheduled on the watched asset runs once per event,
    and the event's payload (the campaign, as SigmaMind returned it) is in the triggering asset
    event's ``extra["payload"]``. Polls list the campaigns in each status through the list
    endpoint's ``status`` filter (:mod:`airflow_provider_sigmamind.campaign_feed`).

    A campaign fires once per status in a trigger's run. Campaigns already in a watched status when
    the trigger starts do not fire: after a triggerer restart (or a redeploy) the watch starts over,
    so a campaign that completed while no triggerer ran fires no event (catch up on those with a
    DAG that lists them, ``SigmaMindHook.list_campaigns("completed")``). Failed polls are retried
    by the hook, then counted: ``max_consecutive_errors`` in a row, or a permanent error, end the
    watch with the error (as for the sensor's trigger); a failed poll is followed by the usual
    ``poll_interval`` wait, never by a quicker one.

    Takes only primitives and never the API key. On Airflow versions with shared streams (3.3+),
    watchers on the same connection and statuses share one polling loop, which polls at the
    shortest ``poll_interval`` among them (:meth:`shared_stream_key`).

    :param sigmamind_conn_id: the ``sigmamind`` connection holding the key.
    :param statuses: the statuses that fire (names, e.g. ``["completed"]``).
    :param poll_interval: seconds between two polls of the list.
    :param max_consecutive_errors: polls in a row that may fail transiently before the watch ends.
    :param retry_policy: the hook's retry policy as :meth:`RetryPolicy.to_kwargs` gives it; ``None``
        reads it from the connection's extras.
    :param timeout: seconds allowed per request; ``None`` reads it from the connection.
    """

    def __init__(
        self,
        *,
        sigmamind_conn_id: str = DEFAULT_CONN_ID,
        statuses: Iterable[str | CampaignStatus] | str = ("completed",),
        poll_interval: float = 60.0,
        max_consecutive_errors: int = 3,
        retry_policy: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> None:
        super().__init__()
        self.sigmamind_conn_id = sigmamind_conn_id
        wanted, _, self.max_consecutive_errors = wait_settings(statuses, None, max_consecutive_errors)
        self.statuses = [status.value for status in wanted]
        self.poll_interval = float(_seconds(poll_interval, "poll_interval", minimum=0) or 0.0)
        self.retry_policy = None if retry_policy is None else RetryPolicy.from_kwargs(retry_policy).to_kwargs()
        self.timeout = _seconds(timeout, "timeout", minimum=0.001, allow_none=True)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """The class path and the primitives to rebuild this trigger (no secret among them)."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "sigmamind_conn_id": self.sigmamind_conn_id,
                "statuses": list(self.statuses),
                "poll_interval": self.poll_interval,
                "max_consecutive_errors": self.max_consecutive_errors,
                "retry_policy": None if self.retry_policy is None else dict(self.retry_policy),
                "timeout": self.timeout,
            },
        )

    def shared_stream_key(self) -> Hashable | None:
        """Watchers on the same connection and statuses, with the same error and request settings, share one poll.

        Not the interval: a group polls at the shortest ``poll_interval`` of its watchers
        (:class:`~airflow_provider_sigmamind.campaign_feed.SharedIntervals`). Watchers whose settings
        are all the same are one trigger already (Airflow stores an asset's trigger once per
        class path and arguments).
        """
        policy = None if self.retry_policy is None else tuple(sorted(self.retry_policy.items()))
        return (
            "sigmamind-campaigns",
            self.sigmamind_conn_id,
            tuple(self.statuses),
            self.max_consecutive_errors,
            policy,
            self.timeout,
        )

    @classmethod
    async def open_shared_stream(cls, kwargs: dict[str, Any]) -> AsyncIterator[Any]:
        """Poll the campaign list for the group, as often as its most impatient watcher asks."""
        key, default = cls(**kwargs).shared_stream_key(), kwargs["poll_interval"]
        async for snapshot in cls._snapshots(kwargs, interval_of=lambda: SHARED_INTERVALS.shortest(key, default)):
            yield snapshot

    @staticmethod
    def _snapshots(kwargs: dict[str, Any], **more: Any) -> AsyncIterator[Snapshot]:
        """:func:`~airflow_provider_sigmamind.campaign_feed.poll_snapshots` with a trigger's arguments."""
        return poll_snapshots(
            sigmamind_conn_id=kwargs["sigmamind_conn_id"],
            statuses=parse_statuses(kwargs["statuses"], what="statuses"),
            poll_interval=kwargs["poll_interval"],
            max_consecutive_errors=kwargs["max_consecutive_errors"],
            retry_policy=kwargs.get("retry_policy"),
            timeout=kwargs.get("timeout"),
            **more,
        )

    async def filter_shared_stream(self, shared_stream: AsyncIterator[Any]) -> AsyncIterator[TriggerEvent]:
        """This watcher's events from its group's stream; its interval counts while it reads."""
        with SHARED_INTERVALS.joined(self.shared_stream_key(), self, self.poll_interval):
            async for event in self._fire(shared_stream):
                yield event

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll and fire on its own (Airflow versions without shared streams, and unit tests)."""
        async for event in self._fire(self._snapshots(self.serialize()[1])):
            yield event

    async def _fire(self, snapshots: AsyncIterator[Any]) -> AsyncIterator[TriggerEvent]:
        """One event per campaign newly seen in a watched status; the first snapshot is the baseline."""
        feed = CampaignFeed()
        first = True
        async for snapshot in snapshots:
            entries: Snapshot = snapshot
            fired = feed.new(entries)
            if first:
                self.log.info(
                    "Watching campaigns reaching %s; %d already there do not fire",
                    " or ".join(self.statuses),
                    len(entries),
                )
                first = False
            for campaign_id, status, payload in fired:
                self.log.info("Campaign %r is now %r", campaign_id, status)
                yield TriggerEvent(payload)
