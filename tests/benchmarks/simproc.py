"""Helpers shared by the benchmarks: a simulator in its own process, and a description of the machine."""

from __future__ import annotations

import http.client
import json
import os
import platform
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any


@dataclass
class SimulatorProcess:
    """A ``sigmamind-simulator`` running in a child process (so its CPU is not the client's)."""

    url: str
    api_key: str
    process: subprocess.Popen[str]
    _admin: http.client.HTTPConnection | None = None

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        """One admin request on a kept-alive connection (127.0.0.1 only)."""
        if self._admin is None:
            host, port = self.url.removeprefix("http://").split(":")
            self._admin = http.client.HTTPConnection(host, int(port), timeout=30)
        data = None if body is None else json.dumps(body).encode()
        self._admin.request(method, path, body=data, headers={"Content-Type": "application/json"})
        response = self._admin.getresponse()
        payload = response.read()
        if response.status >= 300:
            raise RuntimeError(f"{method} {path}: HTTP {response.status} {payload[:200]!r}")
        return json.loads(payload)

    def add_campaigns(self, count: int, status: str = "scheduled") -> list[str]:
        return [self.admin("POST", "/_sim/campaigns", {"status": status})["campaignId"] for _ in range(count)]

    def stats(self) -> dict[str, int]:
        return self.admin("GET", "/_sim/health")

    def connection_json(self, **extra: Any) -> str:
        conn: dict[str, Any] = {"conn_type": "sigmamind", "host": self.url, "password": self.api_key}
        if extra:
            conn["extra"] = extra
        return json.dumps(conn)


@contextmanager
def simulator_process() -> Iterator[SimulatorProcess]:
    """Start ``python -m airflow_provider_sigmamind.simulator`` on a free port; stop it (SIGTERM) afterwards."""
    api_key = "bench-" + secrets.token_hex(8)
    sim: SimulatorProcess | None = None
    process = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_sigmamind.simulator", "--port", "0", "--api-key", api_key],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+)", line)
        if not match:
            raise RuntimeError(f"the simulator did not start: {line!r}")
        sim = SimulatorProcess(url=match.group(1), api_key=api_key, process=process)
        yield sim
    finally:
        if sim is not None and sim._admin is not None:
            sim._admin.close()
        process.terminate()
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()


def machine() -> dict[str, str]:
    """nproc, CPU model, load, and the versions of Python, Airflow and the HTTP libraries."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    def version(name: str) -> str:
        try:
            return installed(name)
        except PackageNotFoundError:
            return "not installed"

    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "python": platform.python_version(),
        "airflow": version("apache-airflow"),
        "httpx": version("httpx"),
        "aiohttp": version("aiohttp"),
        "requests": version("requests"),
        "os": f"{platform.system()} {platform.release()}",
        "load average at start (1, 5, 15 min)": ", ".join(f"{load:.1f}" for load in os.getloadavg()),
    }


def table(headers: list[str], rows: list[list[str]]) -> str:
    """A Markdown table."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"  # noqa: E731
    return "\n".join([line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *(line(r) for r in rows)])


def triggerer_heap() -> None:
    """Import what a triggerer's process holds before its first trigger runs: Airflow's triggerer
    command and job runner (about 40,000 objects) and the provider's trigger module. Every full
    collection walks that heap, so every client's process imports the same, before its waits start.
    """
    import airflow.cli.commands.triggerer_command
    import airflow.jobs.triggerer_job_runner  # noqa: F401

    import airflow_provider_sigmamind.triggers.campaign  # noqa: F401


def quiet_airflow_env() -> None:
    """Before Airflow is imported: a throwaway AIRFLOW_HOME and warnings only (no per-trigger info lines)."""
    import tempfile

    if "sigmamind-bench-airflow-" not in os.environ.get("AIRFLOW_HOME", ""):
        os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="sigmamind-bench-airflow-")
    os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "WARNING"
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
