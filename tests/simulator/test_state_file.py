"""The simulator's state file: campaigns, their timelines and what the API changed survive a restart,
also of the console process killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import requests

from airflow_provider_sigmamind.hooks.sigmamind import SigmaMindHook
from airflow_provider_sigmamind.simulator import SigmaMindSimulator
from tests.helpers import CANARY_API_KEY, connection_json
from tests.simulator.test_console import ROOT, read_line

CSV = "Phone Number,Customer Name\n+14155550101,Michael\n"


def test_campaigns_and_their_timelines_survive_a_restart(tmp_path, monkeypatch):
    state = tmp_path / "state.json"
    with SigmaMindSimulator(api_key=CANARY_API_KEY, state_file=state, live_duration=3600) as first:
        monkeypatch.setenv("AIRFLOW_CONN_SIGMAMIND_DEFAULT", connection_json(first.url, max_retries=0))
        with SigmaMindHook() as hook:
            created = hook.create_campaign(
                campaign_name="kept", sip_phone_number="+14155552671", agent_id="agent_x", contacts=CSV
            )
            hook.update_campaign(created.campaign_id, concurrent_calls=7)
        soon = first.add_campaign(name="soon live", live_after=30)
        first.add_campaign(name="pinned", status="paused")
        gone = first.add_campaign(name="gone")
        first.remove_campaign(gone["campaignId"])
        before = {c: first.campaign(c) for c in (created.campaign_id, soon["campaignId"])}

    with SigmaMindSimulator(api_key=CANARY_API_KEY, state_file=state, seed_demo=True) as second:
        assert second.campaign(created.campaign_id) == before[created.campaign_id]
        assert second.campaign(created.campaign_id)["concurrentCalls"] == 7
        assert second.campaign(soon["campaignId"]) == before[soon["campaignId"]]  # still scheduled, same date
        names = {c["campaignName"] for c in _listed(second)}
        assert names == {"kept", "soon live", "pinned"}  # no demo campaigns added over a kept state
        # the name stays taken: a second create of it is refused
        response = requests.post(
            f"{second.url}/v1/campaigns",
            headers={"X-API-Key": CANARY_API_KEY},
            files={"file": ("c.csv", CSV)},
            data={"campaignName": "kept", "sipPhoneNumber": "+14155552671", "agentId": "agent_x"},
            timeout=5,
        )
        assert response.status_code == 409


def test_a_timeline_runs_on_in_wall_clock_time_while_the_simulator_is_down(tmp_path):
    state = tmp_path / "state.json"
    with SigmaMindSimulator(api_key=CANARY_API_KEY, state_file=state) as first:
        cid = first.add_campaign(name="goes live", live_after=0.5)["campaignId"]
        assert first.campaign(cid)["campaignStatus"] == "scheduled"
    time.sleep(0.6)  # the simulator is down: this is the outage being simulated, not a wait for an event
    with SigmaMindSimulator(api_key=CANARY_API_KEY, state_file=state) as second:
        assert second.campaign(cid)["campaignStatus"] == "live"


def test_the_console_keeps_its_campaigns_across_a_kill_9(tmp_path):
    state = tmp_path / "state.json"
    env = {**os.environ, "SIGMAMIND_SIMULATOR_API_KEY": CANARY_API_KEY, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "airflow_provider_sigmamind.simulator", "--port", "0", "--state-file", str(state)]

    def start() -> tuple[subprocess.Popen[str], str]:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        return process, read_line(process).split(" on ", 1)[1].strip()

    process, url = start()
    try:
        created = requests.post(
            f"{url}/v1/campaigns",
            headers={"X-API-Key": CANARY_API_KEY},
            files={"file": ("c.csv", CSV)},
            data={"campaignName": "survivor", "sipPhoneNumber": "+14155552671", "agentId": "agent_x"},
            timeout=5,
        ).json()
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        process, url = start()
        again = requests.get(
            f"{url}/v1/campaigns/{created['campaignId']}", headers={"X-API-Key": CANARY_API_KEY}, timeout=5
        )
        assert again.status_code == 200
        assert again.json()["campaignName"] == "survivor"
    finally:
        process.kill()
        process.communicate(timeout=10)


def _listed(simulator: SigmaMindSimulator) -> list[dict]:
    answer = requests.get(
        f"{simulator.url}/v1/campaigns", params={"size": 100}, headers={"X-API-Key": CANARY_API_KEY}, timeout=5
    )
    return answer.json()["data"]
