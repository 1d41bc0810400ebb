"""Chaos on a real stack: api-server, scheduler, dag-processor, triggerer and LocalExecutor on PostgreSQL
(Debian's server, started here by ``initdb`` into a temporary directory), and the simulator with a state file.

What is killed, and what must hold:

(a) ``kill -9`` of the worker (the task process) right after the create POST reached SigmaMind, then
    the task's retry: exactly one campaign of that name exists, and the run succeeds with its id.
(b) ``kill -9`` of the triggerer while N sensors are deferred, a new triggerer started: every run
    succeeds and each log's "waited" figure counts from the start of its wait.
(c) the simulator stopped for less than the error budget and started again with its state: the waits
    succeed.
(d) the scheduler killed and restarted mid-run: every run succeeds.

Every process started here is stopped, by process group (log-server children included).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import psutil
import pytest

from airflow_provider_sigmamind.simulator import Fault, SigmaMindSimulator
from tests.helpers import CANARY_API_KEY, connection_json
from tests.postgres import postgres_server
from tests.ui.airflow_stack import AirflowStack, free_port

pytestmark = pytest.mark.chaos

DAGS = Path(__file__).parent / "dags"
#: Deferred sensors during the triggerer's kill.
N = 50


@pytest.fixture(scope="module")
def postgres(pytestconfig) -> Iterator[str]:
    """A PostgreSQL server of its own (tests/postgres.py); yields the SQLAlchemy URL."""
    if "chaos" not in (pytestconfig.getoption("markexpr") or ""):
        pytest.skip("chaos on a real stack runs on its own: `make test-chaos`")
    with postgres_server() as url:
        yield url


@pytest.fixture(scope="module")
def simulator_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def state_file(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("chaos-sim") / "state.json"


def start_simulator(port: int, state_file: Path) -> SigmaMindSimulator:
    return SigmaMindSimulator(api_key=CANARY_API_KEY, port=port, state_file=state_file, live_duration=3600).start()


@pytest.fixture(scope="module")
def stack(postgres, simulator_port, tmp_path_factory) -> Iterator[AirflowStack]:
    url = f"http://127.0.0.1:{simulator_port}"
    env = {
        "AIRFLOW_CONN_SIGMAMIND_DEFAULT": connection_json(
            url, timeout=5, max_retries=2, backoff_initial=0.2, backoff_max=0.5
        ),
        # A task whose process died is noticed in seconds, not minutes.
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "15",
        "AIRFLOW__CORE__PARALLELISM": "64",
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "64",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
        "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
        # A killed triggerer's triggers go to the new one once its heartbeat is this old (seconds).
        "AIRFLOW__SCHEDULER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "5",
        "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "5",
    }
    home = tmp_path_factory.mktemp("chaos-airflow")
    stack = AirflowStack(
        home=home,
        components=("api-server", "dag-processor", "scheduler", "triggerer"),
        dags_folder=DAGS,
        env=env,
        database_url=postgres,
        startup_timeout=180,
    )
    with stack:
        stack.wait_for_dags(["chaos_create", "chaos_wait"], timeout=120)
        yield stack
        left = stack.stop()
    assert not left, left


TASK_TITLE = re.compile(r"airflow worker -- [0-9a-f]{8}-[0-9a-f]{4}-")


def task_processes() -> list[psutil.Process]:
    """The processes running a task: the task runner titles itself ``airflow worker -- <ti id>`` (the
    LocalExecutor's worker processes, its parents, are ``airflow worker -- LocalExecutor: ...``)."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        with contextlib.suppress(psutil.Error):
            if TASK_TITLE.match(" ".join(process.info["cmdline"] or [])):
                found.append(process)
    return found


def named(simulator: SigmaMindSimulator, name: str) -> list[str]:
    """The ids of the simulator's campaigns called ``name``."""
    with simulator._lock:
        return [cid for cid, campaign in simulator._campaigns.items() if campaign.name == name]


def test_a_worker_killed_right_after_the_create_post_leaves_exactly_one_campaign(stack, simulator_port, state_file):
    simulator = start_simulator(simulator_port, state_file)
    try:
        simulator.inject(Fault.answer_late(60), times=1)  # the campaign is made; its answer waits
        run_id = stack.trigger("chaos_create", {"name": "chaos create"})
        stack.wait_for(lambda: named(simulator, "chaos create"), timeout=120, what="the create POST")
        victims = stack.wait_for(task_processes, timeout=10, what="the task process")
        for process in victims:
            os.kill(process.pid, signal.SIGKILL)
        states = stack.wait_for_runs({"chaos_create": run_id}, timeout=120)

        assert states == {"chaos_create": "success"}
        (campaign_id,) = named(simulator, "chaos create")
        assert stack.xcom("chaos_create", run_id, "create")["campaignId"] == campaign_id
        assert sum(r.method == "POST" for r in simulator.requests) == 1
    finally:
        simulator.stop()


def logs_of(home: Path, run_id: str) -> str:
    """Every task log of one run, the triggers' included, and the lines of the triggerer's own log
    that name the run: Airflow 3.3's triggerer at times writes a trigger's last lines, logged just
    before it fires, to its own log instead of the trigger's file (seen once in CI: the "is now
    'live'" and "Done" lines of 2 of 20 triggers that fired in the same instant)."""
    files = [p.read_text(errors="replace") for p in home.glob(f"logs/**/run_id={run_id}/**/*.log")]
    triggerer = home / "triggerer.log"
    text = triggerer.read_text(errors="replace") if triggerer.exists() else ""
    return "\n".join([*files, *(line for line in text.splitlines() if f"run_id={run_id}" in line)])


#: When a line was logged: a task log's JSON field, or the triggerer log's leading timestamp.
_STAMP = re.compile(r'"timestamp": ?"([^"]+)"|^(\d{4}-\d\d-\d\dT[0-9:.]+Z) ')


def wait_starts(home: Path, run_id: str) -> list[tuple[str, float]]:
    """(status, when the wait began) of each "is now <status> after N s of waiting" line in one run's
    logs (:func:`logs_of`): the line's timestamp less its figure."""
    found = []
    for line in logs_of(home, run_id).splitlines():
        figure = re.search(r"is now '([^']*)' after ([0-9.]+)s of waiting", line)
        stamp = _STAMP.search(line)
        if figure and stamp:
            when = datetime.fromisoformat((stamp[1] or stamp[2]).replace("Z", "+00:00")).timestamp()
            found.append((figure[1], when - float(figure[2])))
    return found


def test_triggerer_simulator_and_scheduler_restarts_mid_wait(stack, simulator_port, state_file):
    simulator = start_simulator(simulator_port, state_file)
    live_after = 90.0
    try:
        campaigns = [simulator.add_campaign(name=f"wait {i}", live_after=live_after) for i in range(N)]
        live_at = time.time() + live_after
        runs = {f"r{i}": stack.trigger("chaos_wait", {"campaign_id": c["campaignId"]}) for i, c in enumerate(campaigns)}

        def all_deferred() -> bool:
            states = [stack.task_states("chaos_wait", run_id).get("wait") for run_id in runs.values()]
            return all(state == "deferred" for state in states)

        stack.wait_for(all_deferred, timeout=live_after - 20, what=f"{N} deferred sensors")
        # (b) the triggerer dies with every wait in it; a new one takes them over
        stack.kill("triggerer")
        stack.restart("triggerer")
        polled = len(simulator.requests)
        stack.wait_for(lambda: len(simulator.requests) >= polled + N, timeout=45, what="the new triggerer to poll")
        # (c) the API goes away for 3 s (less than the error budget) and comes back with its campaigns
        simulator.stop()
        time.sleep(3)  # the outage itself
        simulator = start_simulator(simulator_port, state_file)
        # (d) the scheduler dies mid-run and is started again
        stack.kill("scheduler")
        stack.restart("scheduler")
        assert time.time() < live_at, "the chaos took longer than the wait: raise live_after"

        states = {}
        for key, run_id in runs.items():
            states[key] = stack.wait_for_runs({"chaos_wait": run_id}, timeout=180)["chaos_wait"]
        assert set(states.values()) == {"success"}, states
        for run_id in runs.values():
            starts = wait_starts(stack.home, run_id)
            statuses = [status for status, _ in starts]
            assert "scheduled" in statuses, (run_id, starts)  # seen by the sensor before it deferred
            assert "live" in statuses, (run_id, starts)  # seen by the new triggerer
            # Every figure counts from one start: the sensor's first look, not the new triggerer's.
            assert max(s for _, s in starts) - min(s for _, s in starts) < 2.0, (run_id, starts)
        tolerated = [run_id for run_id in runs.values() if "Poll failed (" in logs_of(stack.home, run_id)]
        assert tolerated, "no poll failed during the simulator's outage: the outage tested nothing"
    finally:
        simulator.stop()
