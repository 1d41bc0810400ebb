"""Shared helpers for the simulator tests.

The fixtures come from the package's pytest plugin; importing them here keeps these tests working
when the package is not installed (so its ``pytest11`` entry point is not registered).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from airflow_provider_sigmamind.simulator import SigmaMindSimulator, pytest_plugin
from tests.simulator.helpers import FakeClock

sigmamind_simulator = pytest_plugin.sigmamind_simulator
sigmamind_simulator_factory = pytest_plugin.sigmamind_simulator_factory
sigmamind_simulator_session = pytest_plugin.sigmamind_simulator_session


@pytest.fixture
def clock() -> FakeClock:
    """A hand-driven clock."""
    return FakeClock()


@pytest.fixture
def api(sigmamind_simulator: SigmaMindSimulator) -> Iterator[requests.Session]:
    """A keep-alive session that sends the simulator's key (never follows redirects)."""
    with requests.Session() as session:
        session.headers["X-API-Key"] = sigmamind_simulator.api_key
        session.max_redirects = 0
        yield session
