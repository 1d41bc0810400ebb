"""The README's demo: run the example DAG end to end against the local SigmaMind simulator.

Starts the simulator on 127.0.0.1 with a fresh random API key, adds a campaign that goes live a few
seconds later, points the ``sigmamind_default`` connection at the simulator, and runs ``airflow dags
test`` on an SQLite metadata DB under ``.airflow/demo``. What it prints is the campaign's journey as
the DAG saw it (each request, when, and the status served), each task's outcome and what ``report``
made of it; Airflow's own output goes to ``.airflow/demo/airflow.log``, whose path it prints.
Exits non-zero unless the run succeeds.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

from airflow_provider_sigmamind.simulator import SigmaMindSimulator
from airflow_provider_sigmamind.simulator.recording import RecordedRequest

ROOT = Path(__file__).resolve().parent.parent
HOME = ROOT / ".airflow" / "demo"
LOG = HOME / "airflow.log"
DAG_ID = "example_sigmamind_campaign"
LIVE_AFTER = 15.0  # seconds: the fetch and the sensor's first poke see it scheduled, a later poke live
COMPLETE_AFTER = 600.0
RUN_TIMEOUT = 300.0
#: A line of Airflow's log worth showing when the run fails: a Python exception, or an error-level line.
ERROR_LINE = re.compile(r"^[\w.]+(Error|Exception|Timeout)\b: |\[error\s*\]")


def main() -> int:
    """Run the demo; return the exit code of ``airflow dags test`` (1 if it did not finish in time)."""
    HOME.mkdir(parents=True, exist_ok=True)
    api_key = "demo-" + secrets.token_urlsafe(16)
    airflow = str(Path(sys.executable).with_name("airflow"))
    with SigmaMindSimulator(api_key=api_key) as simulator, LOG.open("w", encoding="utf-8") as log:
        env = {
            **os.environ,
            "AIRFLOW_HOME": str(HOME),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "example_dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{HOME / 'airflow.db'}",
            "AIRFLOW_CONN_SIGMAMIND_DEFAULT": json.dumps(
                {"conn_type": "sigmamind", "host": simulator.url, "password": api_key}
            ),
        }
        say(f"Preparing Airflow's metadata DB in {HOME.relative_to(ROOT)}/ (Airflow's output: {LOG})")
        migrate = subprocess.run([airflow, "db", "migrate"], env=env, stdout=log, stderr=subprocess.STDOUT, check=False)
        if migrate.returncode != 0:
            return failed(f"`airflow db migrate` failed (exit {migrate.returncode})", migrate.returncode)
        campaign = simulator.add_campaign(name="Demo Outreach", live_after=LIVE_AFTER, complete_after=COMPLETE_AFTER)
        cid = campaign["campaignId"]
        say(f"SigmaMind simulator at {simulator.url}: campaign {cid} is scheduled, goes live in {LIVE_AFTER:.0f}s")
        say(f"Running {DAG_ID} (fetch_campaign >> wait_until_live >> report) with `airflow dags test`")
        started = time.monotonic()
        code = run_and_narrate(
            [airflow, "dags", "test", DAG_ID, "-c", json.dumps({"campaign_id": cid})], env, log, simulator, cid
        )
    elapsed = time.monotonic() - started
    state = show_outcome(cid)
    if code != 0 or state != "success":
        return failed(f"The DAG run FAILED (state {state}, exit {code}) after {elapsed:.1f}s", code)
    say(f"The DAG run succeeded in {elapsed:.1f}s. Airflow's full log: {LOG}")
    return 0


def run_and_narrate(
    command: list[str], env: dict[str, str], log: IO[str], simulator: SigmaMindSimulator, campaign_id: str
) -> int:
    """Run ``command`` with its output in ``log``, printing each request for the campaign as it is served."""
    proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    shown: list[RecordedRequest] = []
    deadline = time.monotonic() + RUN_TIMEOUT
    while True:
        try:
            code = proc.wait(timeout=0.2)  # returns as soon as the run ends
        except subprocess.TimeoutExpired:
            code = None
        for request in simulator.requests_for(campaign_id)[len(shown) :]:
            narrate(request, shown)
            shown.append(request)
        if code is not None:
            return code
        if time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            print(f"    (no result after {RUN_TIMEOUT:.0f}s; stopped)", flush=True)
            return 1


def narrate(request: RecordedRequest, earlier: list[RecordedRequest]) -> None:
    """One line of the journey: when, who asked (the fetch first, then the sensor's pokes), what was served."""
    at = request.started_at - (earlier[0].started_at if earlier else request.started_at)
    who = "fetch_campaign" if not earlier else f"wait_until_live, poke {len(earlier)}"
    served = request.fault or (f"{request.campaign_status}" if request.status == 200 else f"HTTP {request.status}")
    print(f"    +{at:5.1f}s  {request.method} {request.path}  ->  {served:<10} ({who})", flush=True)


def show_outcome(campaign_id: str) -> str | None:
    """Print each task's state in this campaign's run and what ``report`` returned; return the run's state.

    Read from the metadata DB; None when no run was recorded (Airflow's log then tells why).
    """
    try:
        with sqlite3.connect(f"file:{HOME / 'airflow.db'}?mode=ro", uri=True) as db:
            run_id, state = db.execute(
                "SELECT run_id, state FROM dag_run WHERE dag_id = ? AND conf LIKE ? ORDER BY id DESC LIMIT 1",
                (DAG_ID, f"%{campaign_id}%"),
            ).fetchone()
            states = db.execute(
                "SELECT task_id, state FROM task_instance WHERE dag_id = ? AND run_id = ? ORDER BY start_date",
                (DAG_ID, run_id),
            ).fetchall()
            report = db.execute(
                "SELECT value FROM xcom WHERE dag_id = ? AND run_id = ? AND task_id = ? AND key = 'return_value'",
                (DAG_ID, run_id, "report"),
            ).fetchone()
    except (sqlite3.Error, TypeError):
        return None
    say("Tasks: " + ", ".join(f"{task_id} {task_state}" for task_id, task_state in states))
    if report:
        say(f"report returned: {json.loads(report[0])}")
    return str(state)


def failed(message: str, code: int) -> int:
    """Print ``message`` and the errors in Airflow's log (else its last lines); return ``code`` (at least 1)."""
    lines = LOG.read_text(encoding="utf-8", errors="replace").splitlines()
    errors = [line for line in lines if ERROR_LINE.search(line)]
    say(message + (f"; the errors in Airflow's log ({LOG}):" if errors else f"; the end of Airflow's log ({LOG}):"))
    for line in (errors or lines)[-8:]:
        print(f"    | {line[:240]}")
    return code or 1


def say(line: str) -> None:
    print(f"==> {line}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
