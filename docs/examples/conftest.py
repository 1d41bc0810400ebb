"""pytest setup for testing DAGs that use the SigmaMind provider: a throwaway Airflow of their own.

Copy this file next to your DAG tests. Airflow reads its configuration when it is first imported,
so the environment is set here, at import time, before any test module imports Airflow.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

# [START docs_conftest_environment]
AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="airflow-test-"))
DAGS_FOLDER = Path(__file__).resolve().parents[2] / "example_dags"  # your project's dags/ folder

os.environ.update(
    {
        "AIRFLOW_HOME": str(AIRFLOW_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{AIRFLOW_HOME / 'airflow.db'}",
    }
)


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """Create the metadata database once per test session."""
    from airflow.utils.db import initdb

    initdb()
    return AIRFLOW_HOME / "airflow.db"


# [END docs_conftest_environment]
