"""Fixtures for the whole suite. The environment (an isolated Airflow home, the canary API key) is
set by tests/environment.py before anything imports Airflow, so no test touches ``~/airflow``.

Plain helpers are in tests/helpers.py: test modules import from there, never from this file.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest

from tests.environment import AIRFLOW_HOME, CANARY_API_KEY  # sets the environment before Airflow loads
from tests.helpers import connection_json

#: The secret audit (tests/reliability/audit.py): fails any test through which CANARY_API_KEY leaks.
pytest_plugins = ("tests.reliability.audit",)

# Property tests judge what the code does, not how fast a loaded 2-core machine generates examples:
# no per-example deadline and no "too slow" health check (both fail on CPU starvation alone).
hypothesis.settings.register_profile(
    "sigmamind", deadline=None, suppress_health_check=[hypothesis.HealthCheck.too_slow]
)
hypothesis.settings.load_profile("sigmamind")


@pytest.fixture(scope="session", autouse=True)
def one_in_process_execution_api() -> Iterator[None]:
    """``dag.test()`` on Airflow 3.0 to 3.2 builds its in-process Task Execution API anew for every
    task it runs: about 3.7 s of CPU each (cadwyn generating the versioned routes), five times what
    the task costs. Airflow 3.3 builds it once per process (``functools.lru_cache``); so do the tests
    here, on every Airflow 3."""
    from airflow_provider_sigmamind.version_compat import AIRFLOW_V_3_0_PLUS

    if not AIRFLOW_V_3_0_PLUS:
        yield
        return
    import functools

    from airflow.sdk.execution_time import supervisor

    if hasattr(supervisor.in_process_api_server, "cache_info"):  # already built once (3.3+)
        yield
        return
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            supervisor, "in_process_api_server", functools.lru_cache(maxsize=1)(supervisor.in_process_api_server)
        )
        yield


@pytest.fixture(scope="session", autouse=True)
def airflow_3_0_dag_test_as_deployed() -> Iterator[None]:
    """Two things Airflow 3.0's ``dag.test()`` does unlike a deployment, undone here (3.0 only).

    It leaves structlog unconfigured, so everything is printed down to DEBUG, where its in-process
    stand-in for the supervisor echoes each secret sent for masking (a real supervisor omits the
    body): deployments log at INFO, and so do these tests. And it hands a rescheduled sensor the first
    reschedule date as the API's string, unvalidated (a real supervisor's message is validated into a
    datetime), on which Airflow's own ``BaseSensorOperator`` fails in reschedule mode.
    """
    from airflow_provider_sigmamind.version_compat import AIRFLOW_V_3_0_PLUS, AIRFLOW_V_3_1_PLUS

    if not AIRFLOW_V_3_0_PLUS or AIRFLOW_V_3_1_PLUS:
        yield
        return
    import structlog
    from airflow.sdk.api.client import TaskInstanceOperations
    from airflow.sdk.execution_time.comms import TaskRescheduleStartDate

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.INFO))
    unvalidated = TaskInstanceOperations.get_reschedule_start_date

    def validated(self: Any, id: Any, try_number: int = 1) -> TaskRescheduleStartDate:
        return TaskRescheduleStartDate.model_validate(unvalidated(self, id, try_number).model_dump())

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(TaskInstanceOperations, "get_reschedule_start_date", validated)
        yield


@pytest.fixture(autouse=True)
def fresh_rate_budgets() -> Iterator[None]:
    """Each test starts with no rate budget: a budget is per key and base URL, and a later test's
    simulator may get the port of an earlier one that sent 429s (and left its budget throttled)."""
    from airflow_provider_sigmamind.budget import budgets

    yield
    budgets.clear()


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


@pytest.fixture
def sigmamind_conn(simulator, monkeypatch) -> str:
    """``sigmamind_default`` pointing at the simulator: two retries, without waiting between them
    (in a sensor and in its trigger alike)."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_SIGMAMIND_DEFAULT",
        connection_json(simulator.url, timeout=5, max_retries=2, backoff_initial=0, backoff_max=0),
    )
    return "sigmamind_default"
