"""Every example DAG, run as a deployment runs it: triggered, scheduled, executed and resumed by Airflow.

Slow (about a minute), so it sits behind the ``triggerer`` marker and is not part of ``make test``::

    make test-triggerer      # = .venv/bin/python -m pytest -m triggerer tests/test_example_dags_stack.py

Without ``-m triggerer`` the tests are reported as skipped, with that command.

One deployment for all of them (tests/ui/airflow_stack.py), on PostgreSQL (a server of the
test's own, tests/postgres.py; SQLite is what `dag.test()` and the UI check run on): a private AIRFLOW_HOME,
``api-server``, ``dag-processor``, ``scheduler`` (LocalExecutor) and ``triggerer``, each in a session
and process group of its own, parsing ``example_dags/`` exactly as shipped (no setting changed).
The simulator, in this process on 127.0.0.1, serves the campaigns. Each DAG is triggered through the
REST API with a campaign of its own, all at once; each run must succeed, with the journey its
sensors' settings promise (a reschedule, a deferral). Afterwards every process the deployment
started must be gone (SIGTERM, then whatever is left is killed by process group and reported), and
the API key must appear in no file of the home.
"""

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_sigmamind.simulator import SigmaMindSimulator
from airflow_provider_sigmamind.simulator.recording import RecordedRequest
from tests.helpers import CANARY_API_KEY, ROOT, connection_json
from tests.postgres import postgres_server
from tests.ui.airflow_stack import AirflowStack

pytestmark = pytest.mark.triggerer

CAMPAIGN = "example_sigmamind_campaign"
DEFERRABLE = "example_sigmamind_deferrable"
LIFECYCLE = "example_sigmamind_lifecycle"
RESULTS = "example_sigmamind_results"
#: The example DAGs' own poke intervals (seconds), which these runs must honour.
POKE_INTERVAL = 30
#: Longest wait for all runs together: each waits one poke interval or two, plus task start-ups.
RUN_TIMEOUT = 240.0
#: The lifecycle run's schedule: far enough ahead that create_campaign, a few task start-ups after
#: plan_schedule, still sends a future time (the example's default, 120 s, would only make it slower).
START_IN_SECONDS = 30


def only_when_selected(config: pytest.Config) -> None:
    """Skipped in the ordinary run; selected with ``-m triggerer``."""
    if "triggerer" not in (config.getoption("markexpr") or ""):
        pytest.skip("the example DAGs on a real deployment run on their own: `make test-triggerer`")


@dataclass
class Deployment:
    """The finished runs: the stack still serving the REST API, the simulator, what was triggered."""

    stack: AirflowStack
    simulator: SigmaMindSimulator
    campaigns: dict[str, str]  # dag_id -> the campaign id it was given (the lifecycle DAG creates its own)
    runs: dict[str, str]  # dag_id -> run id
    states: dict[str, str]  # dag_id -> the run's final state

    def polls(self, dag_id: str) -> list[RecordedRequest]:
        return self.simulator.requests_for(self.campaigns[dag_id])

    def xcom(self, dag_id: str, task_id: str) -> Any:
        return self.stack.xcom(dag_id, self.runs[dag_id], task_id)


def example_stack(home: Path, dags: Path, simulator: SigmaMindSimulator, database_url: str | None) -> AirflowStack:
    """A started deployment of the example DAGs in ``dags``: dag-processor, scheduler and triggerer
    (and the api-server), its ``sigmamind_default`` pointing at ``simulator``."""
    stack = AirflowStack(
        home=home,
        dags_folder=dags,
        components=("dag-processor", "scheduler", "triggerer"),
        env={"AIRFLOW_CONN_SIGMAMIND_DEFAULT": connection_json(simulator.url, timeout=5, max_retries=2)},
        database_url=database_url,
    )
    stack.start()
    return stack


@pytest.fixture(scope="module")
def deployment(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """Start the deployment (on PostgreSQL), trigger every example DAG at once, wait
    for all runs; afterwards stop everything and check that nothing is left running and the key was
    written nowhere."""
    only_when_selected(request.config)
    home = tmp_path_factory.mktemp("airflow-stack-home")
    from tests.test_events_stack import example_folder  # the event examples run on a deployment of their own

    dags = example_folder(tmp_path_factory.mktemp("stack-dags") / "dags", (CAMPAIGN, DEFERRABLE, LIFECYCLE, RESULTS))
    with contextlib.ExitStack() as resources:
        database_url = resources.enter_context(postgres_server())
        simulator = resources.enter_context(SigmaMindSimulator(api_key=CANARY_API_KEY, live_duration=1.0))
        stack = example_stack(home, dags, simulator, database_url)
        try:
            stack.wait_for_dags([CAMPAIGN, DEFERRABLE, LIFECYCLE, RESULTS])
            # Scheduled at the fetch and at the first poke, live at the poke one interval later.
            campaign = simulator.add_campaign(name="Stack Campaign", script=["scheduled", "scheduled", "live"])
            # Scheduled at the worker's one look before deferring, live at the trigger's first poll.
            deferred = simulator.add_campaign(name="Stack Deferred", script=["scheduled", "live"])
            campaigns = {CAMPAIGN: campaign["campaignId"], DEFERRABLE: deferred["campaignId"]}
            runs = {
                CAMPAIGN: stack.trigger(CAMPAIGN, {"campaign_id": campaigns[CAMPAIGN]}),
                DEFERRABLE: stack.trigger(DEFERRABLE, {"campaign_id": campaigns[DEFERRABLE]}),
                LIFECYCLE: stack.trigger(LIFECYCLE, {"start_in_seconds": START_IN_SECONDS}),
                RESULTS: stack.trigger(RESULTS, {"export_dir": f"file://{home}/exports"}),
            }
            states = stack.wait_for_runs(runs, timeout=RUN_TIMEOUT)
            capture = request.config.pluginmanager.get_plugin("capturemanager")
            with capture.global_and_fixture_disabled():  # each run's outcome in the check's output
                print()
                for dag_id, run_id in runs.items():
                    run = stack.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
                    print(f"    {dag_id}: {run['state']} ({run['start_date']} -> {run['end_date']})")
            yield Deployment(stack, simulator, campaigns, runs, states)
        finally:
            problems = stack.stop()
    assert not problems, problems
    leaked = [
        path
        for path in home.rglob("*")
        if path.is_file() and ".db" not in path.name and CANARY_API_KEY in path.read_text(errors="replace")
    ]
    assert not leaked, f"the API key was written to {leaked}"


def test_every_example_dag_is_run_here():
    from tests.test_events_stack import EXAMPLES  # the event, asset and approval examples: run there

    shipped = {path.stem for path in (ROOT / "example_dags").glob("example_*.py")}
    assert shipped == {CAMPAIGN, DEFERRABLE, LIFECYCLE, RESULTS, *EXAMPLES}


def test_every_run_succeeds_and_none_was_failed_by_the_scheduler(deployment: Deployment):
    assert deployment.states == dict.fromkeys(deployment.runs, "success"), {
        dag_id: deployment.stack.task_states(dag_id, run_id) for dag_id, run_id in deployment.runs.items()
    }
    for dag_id, run_id in deployment.runs.items():
        assert set(deployment.stack.task_states(dag_id, run_id).values()) == {"success"}, dag_id
    # What the scheduler writes when it fails a task whose executor report came late (docs/troubleshooting.md).
    assert deployment.stack.events("state mismatch") == []


def test_the_campaign_example_is_rescheduled_between_pokes(deployment: Deployment):
    polls = deployment.polls(CAMPAIGN)
    assert [(p.status, p.campaign_status) for p in polls] == [(200, "scheduled"), (200, "scheduled"), (200, "live")]
    # On the wall clock: a reschedule date is one (the simulator's monotonic clock ran 0.5% slower
    # than it on CI's machine, and a 30 s reschedule measured 29.4 s on it).
    _fetch, first_poke, second_poke = (p.wall_at for p in polls)
    assert second_poke - first_poke >= POKE_INTERVAL - 0.5  # the reschedule honoured poke_interval
    assert deployment.xcom(CAMPAIGN, "fetch_campaign")["campaignStatus"] == "scheduled"
    assert deployment.xcom(CAMPAIGN, "wait_until_live") == deployment.simulator.campaign(deployment.campaigns[CAMPAIGN])
    assert deployment.xcom(CAMPAIGN, "report") == "Stack Campaign is live (since None)"


def test_the_deferrable_example_is_served_by_the_triggerer(deployment: Deployment):
    cid = deployment.campaigns[DEFERRABLE]
    polls = deployment.polls(DEFERRABLE)
    # One look by the worker before deferring, then the trigger's poll one to two intervals later.
    assert [(p.status, p.campaign_status) for p in polls] == [(200, "scheduled"), (200, "live")]
    gaps = [later.started_at - earlier.started_at for earlier, later in itertools.pairwise(polls)]
    assert all(gap >= POKE_INTERVAL - 0.5 for gap in gaps), gaps
    sensed = deployment.xcom(DEFERRABLE, "wait_until_live")
    assert sensed == deployment.simulator.campaign(cid)
    assert deployment.xcom(DEFERRABLE, "report") == "Stack Deferred is live"
    # The trigger's own log, written by the triggerer beside the task's log.
    run_dir = f"dag_id={DEFERRABLE}/run_id={deployment.runs[DEFERRABLE]}/task_id=wait_until_live"
    (trigger_log,) = (deployment.stack.home / "logs" / run_dir).glob("*.log.trigger.*.log")
    events = [json.loads(line)["event"] for line in trigger_log.read_text().splitlines() if line.startswith("{")]
    assert any(event.startswith(f"Done: campaign 'Stack Deferred' [{cid}] status=live") for event in events), events
    assert "Trigger fired event" in events


def test_the_lifecycle_example_creates_waits_and_reports(deployment: Deployment):
    created = deployment.xcom(LIFECYCLE, "create_campaign")
    assert created["campaignStatus"] == "scheduled"
    assert created["campaignName"] == f"Lifecycle demo {deployment.runs[LIFECYCLE]}"
    polls = deployment.simulator.requests_for(created["campaignId"])
    journey = [status for status, _ in itertools.groupby(p.campaign_status for p in polls)]
    assert journey in (["scheduled", "completed"], ["scheduled", "live", "completed"], ["completed"]), journey
    assert {p.method for p in polls} == {"GET"}
    report = deployment.xcom(LIFECYCLE, "report")
    assert report == {
        "campaignId": created["campaignId"],
        "campaignName": created["campaignName"],
        "scheduledDate": created["scheduledDate"],
        "statusAtCreation": "scheduled",
        "finalStatus": "completed",
        "rowErrors": 0,
    }


def test_the_results_example_waits_until_completed_and_exports_every_call(deployment: Deployment):
    created = deployment.xcom(RESULTS, "create_campaign")
    polls = deployment.simulator.requests_for(created["campaignId"])
    # Live for one second: usually over by the sensor's first look, else the triggerer polls on.
    assert polls[-1].campaign_status == "completed"
    assert {p.method for p in polls} == {"GET"}
    exported = deployment.xcom(RESULTS, "export_calls")
    (written,) = (deployment.stack.home / "exports").iterdir()
    assert exported["path"] == f"file://{written}"
    rows = [json.loads(line) for line in written.read_text().splitlines()]
    assert [row["campaign_id"] for row in rows] == [created["campaignId"]] * 8
    assert "in-progress" not in {row["status"] for row in rows}
    assert deployment.xcom(RESULTS, "report")["calls"] == 8
