"""A local simulator of the SigmaMind AI campaign API, for tests, demos and DAG development.

Stdlib only, and it never imports Airflow::

    with SigmaMindSimulator() as sim:
        campaign = sim.add_campaign(live_after=2, complete_after=5)
        sim.inject(Fault.rate_limit(retry_after=1))
        # point a SigmaMind connection at sim.url with sim.api_key

The names below load on first use, so importing the pytest plugin (a submodule) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_sigmamind.simulator.campaigns import MISSING
    from airflow_provider_sigmamind.simulator.faults import Fault
    from airflow_provider_sigmamind.simulator.recording import RecordedRequest
    from airflow_provider_sigmamind.simulator.server import DEFAULT_API_KEY, SigmaMindSimulator

__all__ = ["DEFAULT_API_KEY", "MISSING", "Fault", "RecordedRequest", "SigmaMindSimulator"]

_HOMES = {
    "DEFAULT_API_KEY": "server",
    "MISSING": "campaigns",
    "Fault": "faults",
    "RecordedRequest": "recording",
    "SigmaMindSimulator": "server",
}


def __getattr__(name: str) -> Any:
    """Import an exported name from its module on first use.

    :param name: the attribute asked for.
    """
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """List the exported names with the module's own."""
    return sorted([*globals(), *__all__])
