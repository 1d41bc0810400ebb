"""The event, asset and approval examples on a real deployment: scheduler, triggerer, dag-processor.

Behind the ``triggerer`` marker, with the other deployment checks (``make test-triggerer``). One
deployment (tests/ui/airflow_stack.py), on PostgreSQL (tests/postgres.py), parses only these
examples, as shipped:

* ``example_sigmamind_events``: the asset watcher's ``CampaignEventTrigger`` runs in the triggerer;
  once it has taken its baseline, three live campaigns complete, and the DAG must run three times,
  once per campaign, each run reading its own campaign from its triggering asset event;
* beside it, a second watcher of completed campaigns with another interval
  (``tests/dags/sigmamind_second_watcher.py``): it fires the same three campaigns; on
  Airflow 3.3+ the two share one polling loop (at the example's interval), before that each polls;
* ``example_sigmamind_assets``: triggered once, its fetch emits the campaign's asset event and the
  scheduler runs ``example_sigmamind_assets_downstream``, which sees the event's extra;
* ``example_sigmamind_approval`` (Airflow 3.1+): two runs wait for a person; one is approved and
  creates its campaign, the other is rejected and creates nothing. The answers go through the REST
  API, as the UI sends them.
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from airflow.exceptions import AirflowOptionalProviderFeatureException

from airflow_provider_sigmamind.simulator import SigmaMindSimulator
from airflow_provider_sigmamind.simulator.recording import RecordedRequest
from tests.helpers import CANARY_API_KEY, ROOT
from tests.postgres import postgres_server
from tests.test_example_dags_stack import example_stack, only_when_selected
from tests.ui.airflow_stack import AirflowStack

pytestmark = pytest.mark.triggerer

EVENTS = "example_sigmamind_events"
ASSETS = "example_sigmamind_assets"
DOWNSTREAM = "example_sigmamind_assets_downstream"
SECOND = "sigmamind_second_watcher"
SECOND_ASSET = "sigmamind_completed_campaigns_second"  # what it watches
APPROVAL = "example_sigmamind_approval"
#: The example files run here.
EXAMPLES = ("example_sigmamind_events", "example_sigmamind_assets", "example_sigmamind_approval")
ASSET_CAMPAIGN = "camp_DemoLive0000001"  # example_sigmamind_assets.py's
DONE_BEFORE = "camp_DoneBefore00001"
TIMEOUT = 120.0

try:
    from airflow.providers.standard.operators.hitl import ApprovalOperator  # noqa: F401

    HAS_HITL = True
except (ImportError, AirflowOptionalProviderFeatureException):  # Airflow < 3.1 (the module refuses to load)
    HAS_HITL = False
try:
    from airflow.triggers.shared_stream import SharedStreamManager  # noqa: F401

    HAS_SHARED_STREAMS = True
except ImportError:
    HAS_SHARED_STREAMS = False
#: What the triggerer logs once per polling loop of the campaign list, and once per watcher's baseline.
POLLING = "Polling the campaigns in completed through 'sigmamind_default'"
WATCHING = "Watching campaigns reaching completed"


def example_folder(path: Path, names: tuple[str, ...]) -> Path:
    """A DAGs folder with only the named example files, copied as shipped."""
    path.mkdir()
    for name in names:
        shutil.copy(ROOT / "example_dags" / f"{name}.py", path)
    return path


@dataclass
class Deployment:
    stack: AirflowStack
    simulator: SigmaMindSimulator
    completed: list[dict[str, Any]]
    event_runs: list[dict[str, Any]]
    second_events: list[dict[str, Any]]  # the asset events of the second watcher's asset
    downstream_runs: list[dict[str, Any]]
    approval_runs: dict[str, str] = field(default_factory=dict)  # the answer -> run id
    fired: int = 0  # events the triggerer logged as fired


def runs_of(stack: AirflowStack, dag_id: str) -> list[dict[str, Any]]:
    return list(stack.api("GET", f"/api/v2/dags/{dag_id}/dagRuns?limit=100")["dag_runs"])


def completed_polls(simulator: SigmaMindSimulator) -> list[RecordedRequest]:
    """The answered list requests for completed campaigns, the watchers' polls, oldest first."""
    return [
        r for r in simulator.requests if r.path == "/v1/campaigns" and r.query.get("status") == "completed" and r.status
    ]


def asset_events(stack: AirflowStack, name: str) -> list[dict[str, Any]]:
    """The asset events of the asset called ``name``, as the REST API lists them."""
    (asset,) = [a for a in stack.api("GET", "/api/v2/assets?limit=100")["assets"] if a["name"] == name]
    return list(stack.api("GET", f"/api/v2/assets/events?asset_id={asset['id']}&limit=100")["asset_events"])


def answer_when_asked(stack: AirflowStack, run_id: str, option: str) -> None:
    """Wait until the approval task asks, then answer it as the UI does."""
    path = f"/api/v2/dags/{APPROVAL}/dagRuns/{run_id}/taskInstances/approve_dialing/-1/hitlDetails"

    def asking() -> Any:
        try:
            return stack.api("GET", path)
        except OSError:  # 404 until the task has deferred and written its request
            return None

    detail = stack.wait_for(asking, timeout=TIMEOUT, what=f"the approval request of {run_id}")
    # A person answers minutes later; a test must first let the scheduler read the executor's report that
    # the asking process ended, or it fails the resumed task (the race of docs/troubleshooting.md).
    finished = f"TaskInstance Finished: dag_id={APPROVAL}, task_id=approve_dialing, run_id={run_id},"
    stack.wait_for(lambda: finished in stack.log("scheduler"), timeout=TIMEOUT, what="the executor's report")
    # The pre-flight report, rendered into the request a person sees.
    assert detail["body"] == "**2 contacts**, phone column `Phone Number`, variables customer_name; no problems found."
    stack.api("PATCH", path, {"chosen_options": [option]})


@pytest.fixture(scope="module")
def deployment(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    only_when_selected(request.config)
    home = tmp_path_factory.mktemp("airflow-events-home")
    dags = example_folder(tmp_path_factory.mktemp("events-dags") / "dags", EXAMPLES)
    shutil.copy(ROOT / "tests" / "dags" / f"{SECOND}.py", dags)
    # Campaigns created here stay live: only the three completed by the test complete. On PostgreSQL
    # (as the other examples do, tests/test_example_dags_stack.py).
    with (
        postgres_server() as database_url,
        SigmaMindSimulator(api_key=CANARY_API_KEY, live_duration=10**6) as simulator,
    ):
        simulator.add_campaign(ASSET_CAMPAIGN, name="Demo Live Campaign", status="live")
        simulator.add_campaign(DONE_BEFORE, name="Done before", status="completed")
        stack = example_stack(home, dags, simulator, database_url)
        try:
            stack.wait_for_dags([EVENTS, SECOND, ASSETS, DOWNSTREAM, *([APPROVAL] if HAS_HITL else [])])
            live = [simulator.add_campaign(name=f"Event {n}", status="live") for n in range(3)]
            stack.wait_for(
                lambda: stack.log("triggerer").count(WATCHING) == 2, timeout=TIMEOUT, what="both watchers' baselines"
            )
            approval_runs = {}
            if HAS_HITL:
                approval_runs = {answer: stack.trigger(APPROVAL) for answer in ("Approve", "Reject")}
            stack.trigger(ASSETS)
            # One at a time: events that reach the scheduler before it creates a run share that run. The
            # first completes now, the others once its run exists (the approvals are answered meanwhile).
            simulator.set_status(live[0]["campaignId"], "completed")
            for answer, run_id in approval_runs.items():
                answer_when_asked(stack, run_id, answer)
            for n, campaign in enumerate(live, start=1):
                if n > 1:
                    simulator.set_status(campaign["campaignId"], "completed")
                stack.wait_for(lambda n=n: len(runs_of(stack, EVENTS)) >= n, timeout=TIMEOUT, what=f"event run {n}")

            def all_done() -> bool:
                events, downstream = runs_of(stack, EVENTS), runs_of(stack, DOWNSTREAM)
                finished = [r for r in events + downstream if r["state"] in ("success", "failed")]
                approvals = [stack.run_state(APPROVAL, run_id) for run_id in approval_runs.values()]
                return (
                    len(finished) >= 4
                    and all(state in ("success", "failed") for state in approvals)
                    and len(asset_events(stack, SECOND_ASSET)) >= 3
                )

            stack.wait_for(all_done, timeout=TIMEOUT, what="the event, asset and approval runs")
            # Another poll of the list, all three still completed, must fire nothing more: counted once the
            # poll after it has begun (the watcher logs what a poll fires before it sleeps until the next).
            polls = len(completed_polls(simulator))
            stack.wait_for(lambda: len(completed_polls(simulator)) >= polls + 2, timeout=TIMEOUT, what="two more polls")
            # The watchers' events (named by trigger id; Airflow 3.1 logs the approval task's trigger here too).
            fired = sum(
                "Trigger fired event" in line and "name='ID " in line for line in stack.log("triggerer").splitlines()
            )
            yield Deployment(
                stack,
                simulator,
                [simulator.campaign(c["campaignId"]) for c in live],
                runs_of(stack, EVENTS),
                asset_events(stack, SECOND_ASSET),
                runs_of(stack, DOWNSTREAM),
                approval_runs,
                fired,
            )
        finally:
            problems = stack.stop()
    assert not problems, problems
    leaked = [
        p
        for p in home.rglob("*")
        if p.is_file() and ".db" not in p.name and CANARY_API_KEY in p.read_text(errors="replace")
    ]
    assert not leaked, f"the API key was written to {leaked}"


def test_one_run_per_completed_campaign_each_with_its_campaign(deployment: Deployment):
    runs = deployment.event_runs
    assert sorted(r["state"] for r in runs) == ["success"] * 3, runs
    assert all(r["run_type"] == "asset_triggered" for r in runs), runs
    assert deployment.fired == 6  # three for each watcher
    per_run = [deployment.stack.xcom(EVENTS, r["dag_run_id"], "report") for r in runs]
    assert [len(campaigns) for campaigns in per_run] == [1, 1, 1], per_run
    reported = [campaign for campaigns in per_run for campaign in campaigns]
    expected = [{k: c[k] for k in ("campaignId", "campaignName", "campaignStatus")} for c in deployment.completed]
    key = lambda item: item["campaignId"]  # noqa: E731
    assert sorted(reported, key=key) == sorted(expected, key=key)
    # The demo campaign completed before the watcher started: it fired nothing.
    assert DONE_BEFORE not in {item["campaignId"] for item in reported}


def test_a_second_watcher_gets_the_same_campaigns_and_shares_the_poll_where_airflow_can(deployment: Deployment):
    # Its asset events: its DAG never runs (it also waits for an asset nothing updates).
    fired = [event["extra"]["payload"]["campaignId"] for event in deployment.second_events]
    assert sorted(fired) == sorted(c["campaignId"] for c in deployment.completed)
    log = deployment.stack.log("triggerer")
    assert log.count(WATCHING) == 2  # two watchers, each with its own baseline
    if HAS_SHARED_STREAMS:  # one loop, at the example's 10 s (the shorter interval)
        assert log.count(POLLING) == 1
        polls = [r.started_at for r in completed_polls(deployment.simulator)]
        assert min(b - a for a, b in itertools.pairwise(polls)) >= 9.0, polls
    else:  # Airflow 3.0 to 3.2: each watcher polls on its own
        assert log.count(POLLING) == 2


def test_the_campaigns_asset_event_schedules_the_downstream_dag(deployment: Deployment):
    (run,) = deployment.downstream_runs
    assert run["state"] == "success"
    extras = deployment.stack.xcom(DOWNSTREAM, run["dag_run_id"], "report")
    demo = deployment.simulator.campaign(ASSET_CAMPAIGN)
    assert extras == [{k: demo[k] for k in ("campaignId", "campaignName", "campaignStatus")}]


@pytest.mark.skipif(not HAS_HITL, reason="human-in-the-loop operators need Airflow 3.1+")
def test_only_the_approved_run_creates_its_campaign(deployment: Deployment):
    stack, runs = deployment.stack, deployment.approval_runs
    approved = stack.task_states(APPROVAL, runs["Approve"])
    rejected = stack.task_states(APPROVAL, runs["Reject"])
    assert approved == dict.fromkeys(approved, "success"), approved
    assert rejected["create_campaign"] == "skipped", rejected
    created = stack.xcom(APPROVAL, runs["Approve"], "create_campaign")
    assert created["campaignName"] == f"Approval demo {runs['Approve']}"
    posts = [r for r in deployment.simulator.requests if r.method == "POST"]
    assert len(posts) == 1  # nothing was dialed for the rejected run
    assert stack.events("state mismatch") == []
