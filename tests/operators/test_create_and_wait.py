"""CreateCampaignOperator's wait (``wait_for_status``) has the status semantics of
CampaignStatusSensor in the worker and in the triggerer: success, a failure status, the deadline,
failed polls in a row. Real HTTP to the simulator; deferrable runs go through the trigger the
operator defers to (rebuilt from its serialized kwargs, as a triggerer builds it) and resume on a
fresh operator, as Airflow resumes a task."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta
from typing import Any

import pytest

from airflow_provider_sigmamind.compat import AirflowSensorTimeout, TaskDeferred
from airflow_provider_sigmamind.exceptions import SigmaMindCampaignStatusError, SigmaMindServerError
from airflow_provider_sigmamind.operators.campaign import CreateCampaignOperator
from airflow_provider_sigmamind.simulator import Fault, campaigns
from airflow_provider_sigmamind.triggers.campaign import CampaignStatusTrigger
from tests.helpers import CANARY_API_KEY, connection_json

CSV = "Phone Number,Customer Name\n+14155550101,Michael\n"
MODES = ("poke", "deferrable")
CAMPAIGN_ID = "camp_CreateAndWait00001"


@pytest.fixture
def simulator(sigmamind_simulator_factory, monkeypatch):
    """A simulator whose created campaigns are live for 30 s and get a known id; the connection
    retries a failed request once, without waiting."""
    simulator = sigmamind_simulator_factory(api_key=CANARY_API_KEY, live_duration=30.0)
    monkeypatch.setattr(campaigns, "new_campaign_id", lambda: CAMPAIGN_ID)
    monkeypatch.setenv(
        "AIRFLOW_CONN_SIGMAMIND_DEFAULT",
        connection_json(simulator.url, timeout=5, max_retries=1, backoff_initial=0, backoff_max=0),
    )
    return simulator


def operator(mode: str, **kwargs: Any) -> CreateCampaignOperator:
    return CreateCampaignOperator(
        task_id="create",
        campaign_name="Create and wait",
        sip_phone_number="+14155552671",
        agent_id="agent_D5D0p7TUs66TTAEAx",
        contacts=CSV,
        poll_interval=0.05,
        deferrable=mode == "deferrable",
        **kwargs,
    )


def run(mode: str, **kwargs: Any) -> dict[str, Any]:
    """``execute``, and in deferrable mode the trigger to its event and ``execute_complete``."""
    try:
        return operator(mode, **kwargs).execute({})
    except TaskDeferred as deferred:
        classpath, trigger_kwargs = deferred.trigger.serialize()
        assert classpath.endswith(".CampaignStatusTrigger")
        trigger = CampaignStatusTrigger(**json.loads(json.dumps(trigger_kwargs)))
        (event,) = asyncio.run(_events(trigger))
        resumed = operator(mode, **kwargs)
        return getattr(resumed, deferred.method_name)({}, event, **json.loads(json.dumps(deferred.kwargs or {})))


async def _events(trigger: CampaignStatusTrigger) -> list[dict[str, Any]]:
    return [event.payload async for event in trigger.run()]


def posts(simulator) -> int:
    return sum(r.method == "POST" for r in simulator.requests)


@pytest.mark.parametrize("mode", MODES)
def test_a_campaign_already_at_the_status_ends_the_wait_at_once(simulator, mode):
    result = run(mode, wait_for_status="live")
    assert (result["campaignId"], result["campaignStatus"]) == (CAMPAIGN_ID, "live")
    assert posts(simulator) == 1
    assert len(simulator.requests) == 1  # the create's answer was judged: no poll, no deferral


@pytest.mark.parametrize("mode", MODES)
def test_a_failure_status_fails_the_wait_with_the_sensors_error(simulator, mode):
    paused = Fault.status(200, body={"campaignId": CAMPAIGN_ID, "campaignStatus": "paused"})
    simulator.inject(paused, campaign_id=CAMPAIGN_ID, times=None)  # every look after the create
    with pytest.raises(SigmaMindCampaignStatusError, match="paused") as raised:
        run(mode, wait_for_status="completed", failure_statuses=["paused"], timeout=30)
    assert raised.value.campaign_id == CAMPAIGN_ID
    assert posts(simulator) == 1


@pytest.mark.parametrize("mode", MODES)
def test_the_deadline_ends_the_wait_with_a_sensor_timeout(simulator, mode):
    with pytest.raises(AirflowSensorTimeout):
        run(mode, wait_for_status="completed", timeout=0.5)
    assert posts(simulator) == 1
    assert len(simulator.requests) >= 2  # the create, then it polled until the deadline


@pytest.mark.parametrize("mode", MODES)
def test_failed_polls_in_a_row_fail_the_wait_with_the_last_error(simulator, mode):
    simulator.inject(Fault.server_error(503), campaign_id=CAMPAIGN_ID, times=None)
    with pytest.raises(SigmaMindServerError, match="3 polls in a row failed, giving up") as raised:
        run(mode, wait_for_status="completed", max_consecutive_errors=3, timeout=30)
    assert (raised.value.status_code, raised.value.campaign_id) == (503, CAMPAIGN_ID)
    assert CANARY_API_KEY not in str(raised.value)
    assert posts(simulator) == 1


def test_a_deferred_wait_counts_execution_timeout_from_the_start_of_the_try(simulator):
    """The create's own time is part of the try: the trigger's deadline is not pushed back by it."""
    simulator.inject(Fault.slow(0.5))  # the create takes half a second
    before = time.time()
    with pytest.raises(TaskDeferred) as deferred:
        operator("deferrable", wait_for_status="completed", execution_timeout=timedelta(seconds=60)).execute({})
    _, kwargs = deferred.value.trigger.serialize()
    assert before <= kwargs["execution_deadline"] - 60 < before + 0.5
