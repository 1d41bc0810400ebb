"""The ``sigmamind-simulator`` console command and the pytest plugin's import cost."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
from pathlib import Path

import requests

from airflow_provider_sigmamind.simulator import SigmaMindSimulator

ROOT = Path(__file__).resolve().parents[2]


def read_line(process: subprocess.Popen[str], timeout: float = 10) -> str:
    """Return the next stdout line, failing instead of hanging if none comes in time."""
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        assert selector.select(timeout), "no output in time"
    return process.stdout.readline()


def test_console_serves_until_sigterm() -> None:
    key = "console-key-never-printed"
    env = {**os.environ, "SIGMAMIND_SIMULATOR_API_KEY": key, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_sigmamind.simulator", "--port", "0", "--seed-demo"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    try:
        line = read_line(process)
        assert line.startswith("SigmaMind simulator listening on http://127.0.0.1:")
        url = line.split(" on ", 1)[1].strip()
        demo = requests.get(f"{url}/v1/campaigns/camp_DemoLive0000001", headers={"X-API-Key": key}, timeout=5)
        assert demo.status_code == 200
        assert demo.json()["campaignStatus"] == "live"
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=10)
    finally:
        process.kill()
    assert process.returncode == 0
    assert stdout == ""  # the listening line was the only output
    assert key not in line + stdout + stderr


def test_console_refuses_other_hosts() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "airflow_provider_sigmamind.simulator", "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "127.0.0.1" in result.stderr


def test_pytest_plugin_imports_nothing_heavy() -> None:
    code = (
        "import sys, airflow_provider_sigmamind.simulator.pytest_plugin\n"
        "heavy = sorted(m for m in ('airflow', 'requests', 'httpx', 'asyncio') if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=30, check=True
    )
    assert result.stdout.strip() == ""


def test_fixture_yields_a_running_simulator(sigmamind_simulator: SigmaMindSimulator) -> None:
    assert sigmamind_simulator.running
    health = requests.get(f"{sigmamind_simulator.url}/_sim/health", timeout=5)
    assert health.json()["status"] == "ok"


def test_session_fixture_is_shared(sigmamind_simulator_session: SigmaMindSimulator) -> None:
    sigmamind_simulator_session.reset()
    assert sigmamind_simulator_session.running
    assert sigmamind_simulator_session.requests == []
