"""CampaignStatusTrigger.on_kill, called as Airflow 3.3's triggerer calls it after a user's mark-failed or clear:
the trigger's task is cancelled (with the user-action message), then ``on_kill()`` is awaited."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from airflow_provider_sigmamind.simulator import Fault
from airflow_provider_sigmamind.transport.pool import shared_sessions
from airflow_provider_sigmamind.triggers.campaign import CampaignStatusTrigger

#: What the triggerer passes to ``cancel()`` for a user action (airflow.jobs.triggerer_job_runner).
USER_ACTION = "__airflow_user_action__"


def trigger_for(campaign_id: str, **kwargs: Any) -> CampaignStatusTrigger:
    return CampaignStatusTrigger(
        campaign_id=campaign_id, poll_interval=0.05, retry_policy={"backoff_initial": 0, "backoff_max": 0}, **kwargs
    )


async def kill_while_waiting(simulator: Any, trigger: CampaignStatusTrigger, campaign_id: str, polls: int) -> None:
    """Run the trigger until it has polled ``polls`` times, cancel it as a user action does, then on_kill()."""

    async def consume() -> None:
        async for _ in trigger.run():
            raise AssertionError("the wait must not end by itself")

    task = asyncio.create_task(consume())
    while len(simulator.requests_for(campaign_id)) < polls:
        await asyncio.sleep(0.01)
    task.cancel(USER_ACTION)
    with pytest.raises(asyncio.CancelledError):
        await task
    await trigger.on_kill()
    assert shared_sessions.open_sessions() == 0


def test_on_kill_releases_the_client_and_logs_that_the_campaign_goes_on(sigmamind_conn, simulator, capsys):
    served = simulator.add_campaign(name="dialling", script=["scheduled", "scheduled", "live"])
    cid = served["campaignId"]
    trigger = trigger_for(cid, target_statuses=["completed"])

    asyncio.run(kill_while_waiting(simulator, trigger, cid, polls=3))

    log = capsys.readouterr().out
    assert f"The wait for campaign {cid!r} was stopped by a user action on the task; the campaign is 'live'" in log
    assert "SigmaMind has no endpoint to pause or stop a campaign" in log
    assert {r.method for r in simulator.requests} == {"GET"}  # nothing was changed on SigmaMind's side


def test_on_kill_when_the_api_does_not_answer_ends_in_time(sigmamind_conn, simulator, capsys, monkeypatch):
    monkeypatch.setattr(CampaignStatusTrigger, "KILL_LOOK_TIMEOUT", 0.3)
    served = simulator.add_campaign(script=["scheduled"])
    cid = served["campaignId"]
    trigger = trigger_for(cid)

    async def with_slow_look() -> None:
        async def consume() -> None:
            async for _ in trigger.run():
                raise AssertionError("the wait must not end by itself")

        task = asyncio.create_task(consume())
        while len(simulator.requests_for(cid)) < 2:
            await asyncio.sleep(0.01)
        task.cancel(USER_ACTION)
        with pytest.raises(asyncio.CancelledError):
            await task
        simulator.inject(Fault.slow(30), times=None)  # the last look gets no answer
        loop = asyncio.get_running_loop()
        started = loop.time()
        await trigger.on_kill()
        assert loop.time() - started < 3.0
        assert shared_sessions.open_sessions() == 0

    asyncio.run(with_slow_look())
    simulator.clear_faults()

    log = capsys.readouterr().out
    assert "could not be looked at (TimeoutError" in log
    assert "last seen 'scheduled'" in log


def test_on_kill_of_a_trigger_that_never_ran_still_logs(sigmamind_conn, simulator, capsys):
    served = simulator.add_campaign(status="live")

    async def scenario() -> None:
        await trigger_for(served["campaignId"]).on_kill()
        assert shared_sessions.open_sessions() == 0

    asyncio.run(scenario())
    assert "the campaign is 'live' and is not stopped" in capsys.readouterr().out
