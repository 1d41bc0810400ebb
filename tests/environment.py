"""The test session's environment, set on import and before anything imports Airflow: an isolated
Airflow home with an SQLite metadata DB, and a canary API key. No Airflow import here."""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

__all__ = ["AIRFLOW_HOME", "CANARY_API_KEY", "ROOT"]

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
