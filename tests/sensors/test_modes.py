"""The same outcome in every mode: ``soft_fail``, ``never_fail`` and ``silent_fail`` in poke, reschedule and
deferrable mode, for the failures a wait meets (a deleted campaign, a revoked key, a failure status, ...).

The rule is Airflow's own, as ``BaseSensorOperator`` documents and applies it in its poke loop:
``soft_fail`` skips on the sensor's timeout and on a definitive failure (``AirflowFailException``, here a
failure status), and fails on other errors; ``never_fail`` skips on every error of a poke, but not on
the timeout; ``silent_fail`` keeps waiting after errors other than those. The table states it; every
cell runs for real against the simulator (see ``tests/reliability/harness.py`` for the drivers).
"""

from __future__ import annotations

import dataclasses
import time
from datetime import timedelta
from typing import Any

import pytest
from airflow.utils.state import DagRunState, TaskInstanceState

from airflow_provider_sigmamind.compat import AirflowSensorTimeout
from airflow_provider_sigmamind.retry import RetryPolicy
from airflow_provider_sigmamind.simulator import Fault
from airflow_provider_sigmamind.version_compat import AIRFLOW_V_3_3_PLUS
from tests import helpers
from tests.dagruns import example_dag, run_states
from tests.helpers import connection_json
from tests.reliability.harness import (
    SENSOR_MODES,
    FirstTryDate,
    make_sensor,
    run_deferrable,
    run_poke,
    run_reschedule,
)

FAST = dataclasses.replace(helpers.FAST, retry_after_max=0, deadline=20)
UNAVAILABLE = Fault.status(503, headers={"Retry-After": "0"})
SKIP, TIMEOUT = "AirflowSkipException", "AirflowSensorTimeout"
SETTINGS = ("plain", "soft_fail", "never_fail", "silent_fail")

#: scenario -> (script, sensor arguments, the outcome under each of SETTINGS)
TABLE: dict[str, tuple[list[Any], dict[str, Any], tuple[str, str, str, str]]] = {
    "404 at the first look": (
        [Fault.status(404)],
        {},
        ("SigmaMindNotFoundError", "SigmaMindNotFoundError", SKIP, TIMEOUT),
    ),
    "404 after deferring": (
        ["scheduled", Fault.status(404)],
        {},
        ("SigmaMindNotFoundError", "SigmaMindNotFoundError", SKIP, TIMEOUT),
    ),
    "revoked key": (
        ["scheduled", Fault.status(401)],
        {},
        ("SigmaMindAuthError", "SigmaMindAuthError", SKIP, TIMEOUT),
    ),
    "5xx until the error budget is spent": (
        ["scheduled", UNAVAILABLE],
        {"max_consecutive_errors": 1},
        ("SigmaMindServerError", "SigmaMindServerError", SKIP, TIMEOUT),
    ),
    "failure status": (
        ["scheduled", "paused"],
        {"failure_statuses": ["paused"]},
        ("SigmaMindCampaignStatusError", SKIP, SKIP, "SigmaMindCampaignStatusError"),
    ),
    "never done": (["scheduled"], {}, (TIMEOUT, SKIP, TIMEOUT, TIMEOUT)),
}
#: The sensor timeout, in poke and deferrable mode, of the rows that end by timing out.
SHORT = 0.4


def run(mode: str, campaign_id: str, timeout: float, **kwargs: Any) -> str:
    if mode == "poke":
        outcome = run_poke(campaign_id, policy=FAST, timeout=timeout, **kwargs)
    elif mode == "reschedule":  # virtual time: the timeout falls between the third and fourth try
        outcome = run_reschedule(campaign_id, policy=FAST, **kwargs)
    else:
        outcome = run_deferrable(campaign_id, policy=FAST, timeout=timeout, **kwargs)
    return outcome.result


@pytest.mark.parametrize("setting", SETTINGS)
@pytest.mark.parametrize("scenario", list(TABLE))
def test_the_same_outcome_in_every_mode(sigmamind_conn, simulator, scenario, setting):
    script, arguments, expected = TABLE[scenario]
    want = expected[SETTINGS.index(setting)]
    flags = {} if setting == "plain" else {setting: True}
    timeout = SHORT if want == TIMEOUT or scenario == "never done" else 30.0
    outcomes = {}
    for mode in SENSOR_MODES:
        cid = simulator.add_campaign(name=f"{scenario} ({mode}, {setting})", script=list(script))["campaignId"]
        outcomes[mode] = run(mode, cid, timeout, **arguments, **flags)
    assert outcomes == dict.fromkeys(SENSOR_MODES, want)


# -- the two cases the issue found, in real Airflow (dag.test, the trigger run in line) --------------


@pytest.fixture(scope="module")
def deferrable_dag(airflow_db):
    return example_dag("example_sigmamind_deferrable")


@pytest.mark.integration
@pytest.mark.parametrize(
    ("script", "setting", "state"),
    [
        (["scheduled", Fault.status(404)], "soft_fail", TaskInstanceState.FAILED),  # skipped before
        ([Fault.status(404)], "never_fail", TaskInstanceState.SKIPPED),  # failed before
    ],
    ids=["soft_fail, 404 after deferring", "never_fail, 404 at the first look"],
)
def test_real_airflow_deferrable_follows_the_rule(
    deferrable_dag, sigmamind_conn, simulator, monkeypatch, script, setting, state
):
    cid = simulator.add_campaign(name=f"{setting} in real Airflow", script=script)["campaignId"]
    sensor = deferrable_dag.get_task("wait_until_live")
    for name, value in {"deferrable": True, "poke_interval": 0.05, "timeout": 30.0, setting: True}.items():
        monkeypatch.setattr(sensor, name, value)
    run = deferrable_dag.test(run_conf={"campaign_id": cid})
    assert run_states(run.run_id)["wait_until_live"] == state
    assert run.state == (DagRunState.FAILED if state == TaskInstanceState.FAILED else DagRunState.SUCCESS)


# -- deadlines hold in every mode --------------------------------------------------------------------

#: No backoff, and the default retry budget (300 s): only the wait's deadline can cut a poll short.
PATIENT = RetryPolicy(backoff_initial=0, backoff_max=0, jitter=lambda: 0)


def test_an_api_that_never_answers_does_not_outlast_the_sensors_timeout(simulator, monkeypatch):
    """Each poll is bounded by the time left to the deadline, not by the hook's whole retry budget."""
    monkeypatch.setenv(  # 1 s per request, 5 retries, the default 300 s retry budget
        "AIRFLOW_CONN_SIGMAMIND_DEFAULT", connection_json(simulator.url, timeout=1, max_retries=5, backoff_initial=0)
    )
    for mode, runner in (("poke", run_poke), ("deferrable", run_deferrable)):
        cid = simulator.add_campaign(name=f"never answers ({mode})", script=["scheduled", Fault.slow(30)])
        outcome = runner(cid["campaignId"], policy=PATIENT, timeout=1.5)
        assert outcome.result == TIMEOUT, (mode, outcome)
        # The deadline, then at most one request timeout for a last look (before: 6 s per poll, 12 s in all).
        assert outcome.elapsed < 1.5 + 1 + helpers.SLACK, (mode, outcome.elapsed)


def test_a_reschedule_try_near_the_deadline_against_an_api_that_never_answers_ends_at_the_deadline(
    simulator, monkeypatch
):
    """In reschedule mode too: a try that starts 1.5 s before the sensor's timeout polls for those
    1.5 s and one request timeout for a last look, not for the hook's whole retry budget (11 s)."""
    monkeypatch.setenv(  # 1 s per request, 10 retries
        "AIRFLOW_CONN_SIGMAMIND_DEFAULT", connection_json(simulator.url, timeout=1, max_retries=10, backoff_initial=0)
    )
    cid = simulator.add_campaign(name="never answers (reschedule)", script=[Fault.slow(30)])["campaignId"]
    sensor = make_sensor(cid, "reschedule", policy=PATIENT, poke_interval=60, timeout=600)
    ti = FirstTryDate(600 - 1.5)  # the first try was 598.5 s ago
    started = time.monotonic()
    with ti.reschedule_rows(), pytest.raises(AirflowSensorTimeout):
        sensor.execute({"ti": ti})
    assert time.monotonic() - started < 1.5 + 1 + helpers.SLACK


def test_execution_timeout_bounds_a_deferred_wait(sigmamind_conn, simulator):
    cid = simulator.add_campaign(script=["scheduled"])["campaignId"]
    outcome = run_deferrable(cid, policy=FAST, timeout=60, execution_timeout=timedelta(seconds=0.5))
    assert outcome.result == "AirflowTaskTimeout"
    assert outcome.tries == 2  # it deferred, and the trigger's deadline was the execution timeout
    assert 0.5 <= outcome.elapsed < 0.5 + helpers.SLACK  # not the sensor's 60 s timeout


@pytest.mark.integration
@pytest.mark.skipif(
    not AIRFLOW_V_3_3_PLUS,
    reason="checked on Airflow 3.3; on 3.2 dag.test() records the timed-out deferred task without its exception",
)
def test_real_airflow_honours_execution_timeout_while_deferred(deferrable_dag, sigmamind_conn, simulator, monkeypatch):
    cid = simulator.add_campaign(name="execution_timeout in real Airflow", script=["scheduled"])["campaignId"]
    sensor = deferrable_dag.get_task("wait_until_live")
    settings = {"deferrable": True, "poke_interval": 0.05, "timeout": 60.0, "execution_timeout": timedelta(seconds=1)}
    for name, value in settings.items():
        monkeypatch.setattr(sensor, name, value)
    failures: list[BaseException] = []
    monkeypatch.setattr(sensor, "on_failure_callback", [lambda context: failures.append(context["exception"])])
    run = deferrable_dag.test(run_conf={"campaign_id": cid})
    assert run_states(run.run_id)["wait_until_live"] == TaskInstanceState.FAILED
    assert [type(f).__name__ for f in failures] == ["AirflowTaskTimeout"]
    polls = simulator.requests_for(cid)
    assert polls[-1].started_at - polls[0].started_at < 1 + helpers.SLACK  # not the sensor's 60 s timeout
