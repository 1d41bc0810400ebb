"""End to end with a real ``airflow triggerer``: the deferred sensor is served by the triggerer process.

Slow (about a minute), so it sits behind the ``triggerer`` marker and is not part of ``make test``::

    make test-triggerer      # = .venv/bin/python -m pytest -m triggerer tests/test_real_triggerer.py

Without ``-m triggerer`` the test is reported as skipped, with that command.

What runs: a private AIRFLOW_HOME with SQLite; ``airflow db migrate`` and ``airflow dags reserialize``
(instead of a long-running dag-processor); then three long-running components, each in its own
process group: ``api-server`` (the Task Execution API that workers and the triggerer talk to, on
127.0.0.1 and a free port), ``scheduler`` (LocalExecutor, two workers) and ``triggerer``. The example
DAG ``example_sigmamind_deferrable`` (copied unchanged but for a 1 s poll interval) is triggered
against the simulator, running in this process on 127.0.0.1.

Every component is stopped gracefully (SIGTERM, so it stops its own children first: executor
workers, the trigger runner), triggerer first, api-server last; anything still alive afterwards is
killed and the test fails. No ``serve-logs`` servers are started.
"""

from __future__ import annotations

import itertools
import json
import os
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import psutil
import pytest

from tests.conftest import CANARY_API_KEY, ROOT, connection_json

pytestmark = pytest.mark.triggerer

DAG_ID = "example_sigmamind_deferrable"
AIRFLOW = str(Path(sys.executable).with_name("airflow"))
#: Longest wait for the DAG run, and for one component to stop.
RUN_TIMEOUT = 150.0
STOP_TIMEOUT = 30.0
#: Seconds between the trigger's polls. The campaign goes live at the trigger's sixth poll, ~12 s after
#: deferral: Airflow 3.3's scheduler fails a task whose trigger fires before it has processed the
#: executor's report of the deferral (see docs/deferrable.md), which a loaded CI machine can take seconds to do.
POLL_INTERVAL = 2


@pytest.fixture(autouse=True)
def only_when_selected(request: pytest.FixtureRequest) -> None:
    """Skipped in the ordinary run; selected with ``-m triggerer``."""
    if "triggerer" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("the real-triggerer check runs on its own: `make test-triggerer`")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Components:
    """Long-running Airflow processes, each in its own session, stopped in reverse start order."""

    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.home = home
        self.env = env
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: dict[str, IO[bytes]] = {}
        self.leftovers: list[str] = []

    def run(self, *args: str) -> str:
        done = subprocess.run([AIRFLOW, *args], env=self.env, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, f"airflow {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return done.stdout

    def start(self, name: str, *args: str) -> None:
        log = self.logs[name] = (self.home / f"{name}.log").open("wb")
        self.procs[name] = subprocess.Popen(
            [AIRFLOW, name, *args], env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def log(self, name: str) -> str:
        return (self.home / f"{name}.log").read_text(errors="replace")

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            assert proc.poll() is None, f"{name} exited with {proc.returncode}:\n{self.log(name)[-3000:]}"

    def stop(self, name: str) -> None:
        """SIGTERM the component and wait: it stops its own children (workers, trigger runner) before
        it exits. Whatever of its process tree is left after that is killed and reported."""
        proc = self.procs.pop(name)
        try:
            tree = psutil.Process(proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            tree = []
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.leftovers.append(f"{name} (pid {proc.pid}) ignored SIGTERM for {STOP_TIMEOUT:.0f}s")
        survivors = [p for p in tree if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        for child in survivors:  # children before the parent
            self.leftovers.append(f"{name} left {child.pid} {child.name()!r} running")
            child.kill()
        psutil.wait_procs(survivors, timeout=10)
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        self.logs.pop(name).close()

    def stop_all(self) -> None:
        for name in reversed(list(self.procs)):
            self.stop(name)


@pytest.fixture
def airflow_home(tmp_path: Path) -> Path:
    """A private AIRFLOW_HOME with a DAGs folder holding the deferrable example, polling every second."""
    dags = tmp_path / "dags"
    dags.mkdir()
    source = (ROOT / "example_dags" / f"{DAG_ID}.py").read_text()
    assert "poke_interval=30," in source
    (dags / f"{DAG_ID}.py").write_text(source.replace("poke_interval=30,", f"poke_interval={POLL_INTERVAL},"))
    return tmp_path


@pytest.fixture
def components(airflow_home: Path, simulator) -> Iterator[Components]:
    port = free_port()
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(airflow_home / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "2",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
        "AIRFLOW_CONN_SIGMAMIND_DEFAULT": connection_json(simulator.url, timeout=5, max_retries=2),
    }
    group = Components(airflow_home, env)
    try:
        yield group
    finally:
        group.stop_all()
    assert not group.leftovers, group.leftovers


def wait_for_run(db: Path, components: Components) -> tuple[str, list[tuple[str, str | None]]]:
    """Poll the metadata DB until the DAG run ends; return its state and the sensor's state history."""
    history: list[tuple[str, str | None]] = []
    end = time.monotonic() + RUN_TIMEOUT
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
        while time.monotonic() < end:
            components.check_alive()
            (sensor_state,) = conn.execute(
                "SELECT state FROM task_instance WHERE dag_id = ? AND task_id = 'wait_until_live'", (DAG_ID,)
            ).fetchone() or (None,)
            if not history or history[-1][1] != sensor_state:
                history.append(("wait_until_live", sensor_state))
            (run_state,) = conn.execute("SELECT state FROM dag_run WHERE dag_id = ?", (DAG_ID,)).fetchone()
            if run_state in ("success", "failed"):
                return run_state, history
            time.sleep(0.25)
    pytest.fail(f"the DAG run did not finish in {RUN_TIMEOUT:.0f}s; sensor states: {history}")


def test_the_triggerer_serves_the_deferred_sensor(components: Components, simulator, airflow_home: Path):
    campaign = simulator.add_campaign(name="Triggerer Demo", script=["scheduled"] * 6 + ["live"])
    cid = campaign["campaignId"]

    components.run("db", "migrate")
    components.run("dags", "reserialize")
    components.start("api-server")
    components.start("scheduler", "--skip-serve-logs")
    components.start("triggerer", "--skip-serve-logs")
    components.run("dags", "trigger", DAG_ID, "--conf", json.dumps({"campaign_id": cid}))

    run_state, history = wait_for_run(airflow_home / "airflow.db", components)

    assert run_state == "success", (history, components.log("scheduler")[-4000:])
    assert ("wait_until_live", "deferred") in history
    with sqlite3.connect(f"file:{airflow_home / 'airflow.db'}?mode=ro", uri=True) as conn:
        rows = dict(
            conn.execute(
                "SELECT task_id, value FROM xcom WHERE dag_id = ? AND key = 'return_value'", (DAG_ID,)
            ).fetchall()
        )
    sensed = json.loads(rows["wait_until_live"])
    assert sensed == simulator.campaign(cid)
    assert sensed["campaignStatus"] == "live"
    assert json.loads(rows["report"]) == "Triggerer Demo is live"
    # One look by the worker before deferring, then the trigger's six polls, POLL_INTERVAL apart, until live.
    polls = simulator.requests_for(cid)
    assert [p.status for p in polls] == [200] * 7
    gaps = [later.started_at - earlier.started_at for earlier, later in itertools.pairwise(polls)]
    assert all(gap >= POLL_INTERVAL - 0.1 for gap in gaps), gaps
    # The trigger's own log, written by the triggerer beside the task's log.
    (trigger_log,) = (airflow_home / "logs").rglob("task_id=wait_until_live/*.log.trigger.*.log")
    lines = [json.loads(line) for line in trigger_log.read_text().splitlines() if line.startswith("{")]
    events = [line["event"] for line in lines]
    assert any(event.startswith(f"Campaign {cid!r} is now 'scheduled' after") for event in events), events
    assert any(event.startswith(f"Done: campaign 'Triggerer Demo' [{cid}] status=live") for event in events)
    assert "Trigger fired event" in events
    components.stop_all()
    for path in airflow_home.rglob("*"):
        if path.is_file() and path.suffix not in (".db", ".db-wal", ".db-shm"):
            assert CANARY_API_KEY not in path.read_text(errors="replace"), path
