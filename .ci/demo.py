"""The README's demo: run the example DAG end to end against the local SigmaMind simulator.

Starts the simulator on 127.0.0.1 with a fresh random API key, creates a campaign that is
scheduled to go live a few seconds later, points the ``sigmamind_default`` connection at the
simulator, and runs ``airflow dags test`` on an SQLite metadata DB under ``.airflow/demo``.
Exits non-zero unless the run succeeds.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

from airflow_provider_sigmamind.simulator import SigmaMindSimulator

ROOT = Path(__file__).resolve().parent.parent
DAG_ID = "example_sigmamind_campaign"
LIVE_AFTER = 12.0  # seconds: Airflow needs a few to start its first task; the sensor then sees it scheduled
COMPLETE_AFTER = 60.0


def main() -> int:
    home = ROOT / ".airflow" / "demo"
    home.mkdir(parents=True, exist_ok=True)
    api_key = "demo-" + secrets.token_urlsafe(16)
    with SigmaMindSimulator(api_key=api_key) as simulator:
        env = {
            **os.environ,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "example_dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW_CONN_SIGMAMIND_DEFAULT": json.dumps(
                {"conn_type": "sigmamind", "host": simulator.url, "password": api_key}
            ),
        }
        airflow = str(Path(sys.executable).with_name("airflow"))
        print(f"==> Preparing the metadata DB in {home}", flush=True)
        subprocess.run([airflow, "db", "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
        campaign = simulator.add_campaign(
            name="Demo Outreach", status="scheduled", live_after=LIVE_AFTER, complete_after=COMPLETE_AFTER
        )
        print(
            f"==> SigmaMind simulator at {simulator.url}; campaign {campaign['campaignId']} is scheduled "
            f"and goes live in {LIVE_AFTER:.0f}s",
            flush=True,
        )
        started = time.monotonic()
        run = subprocess.run(
            [airflow, "dags", "test", DAG_ID, "-c", json.dumps({"campaign_id": campaign["campaignId"]})],
            env=env,
            check=False,
        )
        polls = simulator.requests_for(campaign["campaignId"])
    print(f"\n==> The campaign's journey, as the simulator served it ({len(polls)} requests):")
    for request in polls:
        served = f"HTTP {request.status} " + (request.fault or f"campaignStatus={request.campaign_status!r}")
        print(f"    +{request.started_at - polls[0].started_at:5.1f}s  {request.method} {request.raw_path} -> {served}")
    outcome = "succeeded" if run.returncode == 0 else f"FAILED (exit {run.returncode})"
    print(f"==> DAG run {outcome} in {time.monotonic() - started:.1f}s")
    return run.returncode


if __name__ == "__main__":
    sys.exit(main())
