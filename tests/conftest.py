"""Test environment: an isolated Airflow home with an SQLite metadata DB, and a canary API key.

The environment is set before anything imports Airflow, so no test touches ``~/airflow``.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from pathlib import Path

import pytest

#: The secret audit (tests/reliability/audit.py): fails any test through which CANARY_API_KEY leaks.
pytest_plugins = ("tests.reliability.audit",)

ROOT = Path(__file__).resolve().parent.parent
AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="sigmamind-test-airflow-"))
#: A unique key per test session: the secret audit greps everything for it.
CANARY_API_KEY = "canary-" + secrets.token_hex(12)

os.environ.update(
    {
        "AIRFLOW_HOME": str(AIRFLOW_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "example_dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{AIRFLOW_HOME / 'airflow.db'}",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
    }
)


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """An initialised SQLite metadata DB, created once per session."""
    from airflow.utils.db import initdb

    initdb()
    return AIRFLOW_HOME / "airflow.db"


@pytest.fixture
def simulator(sigmamind_simulator_factory):
    """A started simulator of this test's own, serving the canary key."""
    return sigmamind_simulator_factory(api_key=CANARY_API_KEY)


def connection_json(url: str, api_key: str = CANARY_API_KEY, **extra: object) -> str:
    """A ``sigmamind`` connection in Airflow's env-var JSON form."""
    conn: dict[str, object] = {"conn_type": "sigmamind", "host": url, "password": api_key}
    if extra:
        conn["extra"] = extra
    return json.dumps(conn)


@pytest.fixture
def sigmamind_conn(simulator, monkeypatch) -> str:
    """``sigmamind_default`` pointing at the simulator, with fast retries."""
    monkeypatch.setenv("AIRFLOW_CONN_SIGMAMIND_DEFAULT", connection_json(simulator.url, timeout=5, max_retries=2))
    return "sigmamind_default"
