"""Drivers that run one wait on a campaign in each mode and report what came of it.

Every driver talks real HTTP to the simulator and runs the provider's real code paths:

- ``hook``: one :meth:`SigmaMindHook.get_campaign` (the sync request funnel and its retries).
- ``poke``: :meth:`CampaignStatusSensor.execute` in poke mode, i.e. Airflow's own poke loop.
- ``reschedule``: Airflow's reschedule cycle: every try is a *fresh* sensor (Airflow loads the task
  anew and clears its XComs between tries), its ``execute`` raises ``AirflowRescheduleException``
  until the wait is decided. Only the time between tries is virtual: try ``n`` happens
  ``n * poke_interval`` seconds after the first (what ``ti.get_first_reschedule_date`` tells the
  sensor), so a sensor ``timeout`` is reached after a known number of tries without waiting for it.
- ``deferrable``: the sensor's ``execute`` (one look, then ``TaskDeferred``), the trigger rebuilt from
  its ``serialize()`` output as the triggerer does, ``trigger.run()`` to its one event, and
  ``resume_execution("execute_complete", ...)`` on a fresh sensor, as a worker does after the event.

The few ``dag.test()`` runs in ``test_fault_matrix.py`` check these drivers against real Airflow.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

try:  # Airflow 3
    from airflow.sdk.exceptions import AirflowRescheduleException, AirflowTaskTimeout, TaskDeferred
except ImportError:  # Airflow 2.11
    from airflow.exceptions import AirflowRescheduleException, AirflowTaskTimeout, TaskDeferred  # type: ignore[no-redef]

from airflow_provider_sigmamind.hooks.sigmamind import SigmaMindHook
from airflow_provider_sigmamind.models import Campaign
from airflow_provider_sigmamind.retry import RetryPolicy
from airflow_provider_sigmamind.sensors.campaign import CampaignStatusSensor
from airflow_provider_sigmamind.triggers.campaign import CampaignStatusTrigger
from airflow_provider_sigmamind.version_compat import AIRFLOW_V_3_0_PLUS

SENSOR_MODES = ("poke", "reschedule", "deferrable")
MODES = ("hook", *SENSOR_MODES)
#: Virtual seconds between two reschedule tries.
RESCHEDULE_INTERVAL = 600.0


@dataclass
class Outcome:
    """What one wait came to.

    :param result: ``"live"``/``"unknown"``/... (the status a hook call returned, or that a sensor
        succeeded on), ``"rescheduled"`` when tries ran out undecided, or the exception's class name.
    :param error: the exception, when there was one.
    :param value: the campaign (hook) or the XCom value (sensors).
    :param tries: sensor executions (reschedule tries; 1 or 2 for deferrable: check, then resume).
    :param events: the trigger's events (deferrable).
    :param elapsed: wall-clock seconds the wait took.
    """

    result: str
    error: BaseException | None = None
    value: Any = None
    tries: int = 1
    events: list[dict[str, Any]] = field(default_factory=list)
    elapsed: float = 0.0


class FirstTryDate:
    """What of Airflow's task instance a reschedule-mode sensor reads, on a virtual clock: Airflow 3's
    ``get_first_reschedule_date``, and the fields with which Airflow 2.11's ``BaseSensorOperator``
    looks its first reschedule row up (that lookup is answered by :meth:`reschedule_rows`).

    :param offset: seconds between the first try and this one.
    """

    max_tries, dag_id, task_id, run_id, map_index = 0, "harness", "wait", "harness_run", -1

    def __init__(self, offset: float) -> None:
        self.offset = offset

    @contextlib.contextmanager
    def reschedule_rows(self) -> Iterator[None]:
        """On Airflow 2.11, its sensors' query for the first reschedule row answered from this clock."""
        if AIRFLOW_V_3_0_PLUS:
            yield
            return
        with mock.patch("airflow.sensors.base._orig_start_date", return_value=self.get_first_reschedule_date(None)):
            yield

    def get_first_reschedule_date(self, context: Any) -> datetime | None:
        """``None`` on the first try (no reschedule recorded yet), else when the first try started."""
        if self.offset == 0:
            return None
        return datetime.now(UTC) - timedelta(seconds=self.offset)


def waited_figures(log: str) -> list[tuple[str, float]]:
    """(status, seconds) of every "Campaign ... is now <status> after <N>s of waiting" line in ``log``."""
    return [(m[0], float(m[1])) for m in re.findall(r"is now '([^']*)' after ([0-9.]+)s of waiting", log)]


def make_sensor(
    campaign_id: str, mode: str, *, policy: RetryPolicy, poke_interval: float, timeout: float, **kwargs: Any
) -> CampaignStatusSensor:
    """A sensor for ``mode`` whose hook uses ``policy`` (and so does its trigger: the sensor passes it on)."""
    sensor = CampaignStatusSensor(
        task_id="wait",
        campaign_id=campaign_id,
        mode="reschedule" if mode == "reschedule" else "poke",
        deferrable=mode == "deferrable",
        poke_interval=poke_interval,
        timeout=timeout,
        **kwargs,
    )
    # The sensor's hook is a cached_property: seed it with the zero-backoff policy of the scenario.
    sensor.__dict__["hook"] = SigmaMindHook(sigmamind_conn_id=sensor.sigmamind_conn_id, retry_policy=policy)
    return sensor


def _failed(err: BaseException, started: float, **kwargs: Any) -> Outcome:
    return Outcome(type(err).__name__, error=err, elapsed=time.monotonic() - started, **kwargs)


def run_hook(campaign_id: str, *, policy: RetryPolicy) -> Outcome:
    """One ``get_campaign`` with a fresh hook."""
    started = time.monotonic()
    try:
        with SigmaMindHook(retry_policy=policy) as hook:
            campaign: Campaign = hook.get_campaign(campaign_id)
    except Exception as err:
        return _failed(err, started)
    return Outcome(campaign.status.value, value=campaign, elapsed=time.monotonic() - started)


def _success(value: Any, started: float, **kwargs: Any) -> Outcome:
    status = value.get("campaignStatus") if isinstance(value, dict) else None
    return Outcome(f"success:{status}", value=value, elapsed=time.monotonic() - started, **kwargs)


def run_poke(campaign_id: str, *, policy: RetryPolicy, timeout: float, **kwargs: Any) -> Outcome:
    """Airflow's poke loop: ``execute`` until done, failed or timed out."""
    started = time.monotonic()
    sensor = make_sensor(campaign_id, "poke", policy=policy, poke_interval=0.02, timeout=timeout, **kwargs)
    try:
        value = sensor.execute({})
    except (Exception, AirflowTaskTimeout) as err:
        return _failed(err, started)
    return _success(value, started)


def run_reschedule(campaign_id: str, *, policy: RetryPolicy, max_tries: int = 4, **kwargs: Any) -> Outcome:
    """Airflow's reschedule cycle, a fresh sensor per try; the sensor times out after ``max_tries``."""
    started = time.monotonic()
    timeout = (max_tries - 1.5) * RESCHEDULE_INTERVAL  # try max_tries-1 (0-based) is past it
    for n in range(max_tries + 1):
        sensor = make_sensor(
            campaign_id, "reschedule", policy=policy, poke_interval=RESCHEDULE_INTERVAL, timeout=timeout, **kwargs
        )
        ti = FirstTryDate(n * RESCHEDULE_INTERVAL)
        try:
            with ti.reschedule_rows():
                value = sensor.execute({"ti": ti})
        except AirflowRescheduleException:
            continue
        except Exception as err:
            return _failed(err, started, tries=n + 1)
        return _success(value, started, tries=n + 1)
    return Outcome("rescheduled", tries=max_tries + 1, elapsed=time.monotonic() - started)


async def _events(trigger: CampaignStatusTrigger) -> list[dict[str, Any]]:
    return [event.payload async for event in trigger.run()]


def run_deferrable(
    campaign_id: str, *, policy: RetryPolicy, timeout: float, max_deferrals: int = 50, **kwargs: Any
) -> Outcome:
    """Check, defer, run the trigger as the triggerer would, resume on a fresh sensor (again, while it defers)."""
    started = time.monotonic()

    def sensor() -> CampaignStatusSensor:
        return make_sensor(campaign_id, "deferrable", policy=policy, poke_interval=0.02, timeout=timeout, **kwargs)

    events: list[dict[str, Any]] = []
    try:
        try:
            return _success(sensor().execute({}), started)
        except TaskDeferred as first:
            deferred = first
        for tries in range(2, max_deferrals + 2):
            classpath, trigger_kwargs = deferred.trigger.serialize()
            assert classpath == "airflow_provider_sigmamind.triggers.campaign.CampaignStatusTrigger"
            # The trigger's patience is the sensor hook's ``policy``, passed in its kwargs.
            passed = RetryPolicy.from_kwargs(trigger_kwargs["retry_policy"])
            assert passed == replace(policy, max_retries=passed.max_retries), (passed, policy)
            new = asyncio.run(_events(CampaignStatusTrigger(**json.loads(json.dumps(trigger_kwargs)))))
            assert len(new) == 1, new
            events += new
            # As Airflow resumes a task: the deferral's kwargs, and the event.
            next_kwargs = {**json.loads(json.dumps(deferred.kwargs or {})), "event": new[0]}
            try:
                return _success(
                    sensor().resume_execution(deferred.method_name, next_kwargs, {}),
                    started,
                    tries=tries,
                    events=events,
                )
            except TaskDeferred as again:
                deferred = again
            except (Exception, AirflowTaskTimeout) as err:
                return _failed(err, started, tries=tries, events=events)
        return Outcome("deferred", tries=max_deferrals + 1, events=events, elapsed=time.monotonic() - started)
    except (Exception, AirflowTaskTimeout) as err:
        return _failed(err, started)


def run_mode(mode: str, campaign_id: str, *, policy: RetryPolicy, timeout: float, **kwargs: Any) -> Outcome:
    """Run one wait in ``mode`` (see :data:`MODES`)."""
    runners: dict[str, Callable[..., Outcome]] = {
        "hook": lambda: run_hook(campaign_id, policy=policy),
        "poke": lambda: run_poke(campaign_id, policy=policy, timeout=timeout, **kwargs),
        "reschedule": lambda: run_reschedule(campaign_id, policy=policy, **kwargs),
        "deferrable": lambda: run_deferrable(campaign_id, policy=policy, timeout=timeout, **kwargs),
    }
    return runners[mode]()
