"""A local simulator of the SigmaMind AI campaign API, for tests, demos and DAG development.

Stdlib only (it never imports Airflow)::

    with SigmaMindSimulator() as sim:
        campaign = sim.add_campaign(live_after=2, complete_after=5)
        sim.inject(Fault.rate_limit(retry_after=1))
        # point a SigmaMind connection at sim.url with sim.api_key
"""

from __future__ import annotations

from airflow_provider_sigmamind.simulator.campaigns import MISSING
from airflow_provider_sigmamind.simulator.faults import Fault
from airflow_provider_sigmamind.simulator.recording import RecordedRequest
from airflow_provider_sigmamind.simulator.server import DEFAULT_API_KEY, SigmaMindSimulator

__all__ = ["DEFAULT_API_KEY", "MISSING", "Fault", "RecordedRequest", "SigmaMindSimulator"]
