"""pytest plugin: fixtures that run the SigmaMind simulator (registered through ``pytest11``).

Imports nothing heavy at load time; the simulator itself is stdlib only.

- ``sigmamind_simulator``: a fresh, started simulator per test, stopped afterwards.
- ``sigmamind_simulator_session``: one simulator for the whole session; call ``reset()`` yourself.
- ``sigmamind_simulator_factory``: ``factory(**kwargs)`` starts a simulator with your own options
  (``clock=``, ``live_duration=``, ``seed_demo=``...); all are stopped after the test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from airflow_provider_sigmamind.simulator import SigmaMindSimulator


@pytest.fixture
def sigmamind_simulator_factory() -> Iterator[Callable[..., SigmaMindSimulator]]:
    """Yield a function that starts simulators; every one it started is stopped after the test."""
    from airflow_provider_sigmamind.simulator import SigmaMindSimulator

    started: list[SigmaMindSimulator] = []

    def factory(**kwargs: Any) -> SigmaMindSimulator:
        simulator = SigmaMindSimulator(**kwargs).start()
        started.append(simulator)
        return simulator

    yield factory
    for simulator in started:
        simulator.stop()


@pytest.fixture
def sigmamind_simulator(
    sigmamind_simulator_factory: Callable[..., SigmaMindSimulator],
) -> SigmaMindSimulator:
    """A started simulator of its own for this test (starting one takes about a millisecond)."""
    return sigmamind_simulator_factory()


@pytest.fixture(scope="session")
def sigmamind_simulator_session() -> Iterator[SigmaMindSimulator]:
    """One started simulator shared by the session; tests sharing it should call ``reset()``."""
    from airflow_provider_sigmamind.simulator import SigmaMindSimulator

    with SigmaMindSimulator() as simulator:
        yield simulator
