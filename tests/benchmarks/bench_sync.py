"""Sync path: ``SigmaMindHook.get_campaign`` calls per second against raw ``requests`` on the same server.

The baseline is the least a client can do: ``requests.Session().get(url, headers=...).json()`` on
one kept-alive session. The hook does more per call (validates and encodes the id, bounds the
body's size and time, maps errors, parses the payload into a ``Campaign``). Both run one call after
another against the same simulator process, in alternating rounds; the figure is the median round.

Run all benchmarks with ``make bench``; this one alone with ``python -m tests.benchmarks.bench_sync``.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable

ROUNDS = 3
ROUND_SECONDS = 2.0


def calls_per_second(call: Callable[[], object], seconds: float) -> float:
    count = 0
    started = time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        call()
        count += 1
    return count / (time.perf_counter() - started)


def main() -> dict[str, float]:
    import requests

    from airflow_provider_sigmamind.hooks.sigmamind import SigmaMindHook
    from tests.benchmarks.simproc import simulator_process

    with simulator_process() as sim:
        os.environ["AIRFLOW_CONN_SIGMAMIND_DEFAULT"] = sim.connection_json()
        (campaign_id,) = sim.add_campaigns(1, status="live")
        url = f"{sim.url}/v1/campaigns/{campaign_id}"
        session = requests.Session()
        headers = {"X-API-Key": sim.api_key}

        def raw() -> object:
            return session.get(url, headers=headers, timeout=30).json()

        with SigmaMindHook() as hook:

            def ours() -> object:
                return hook.get_campaign(campaign_id)

            assert ours().payload == raw()  # type: ignore[attr-defined]
            for call in (raw, ours):  # warm up
                calls_per_second(call, 0.5)
            rounds: dict[str, list[float]] = {"raw": [], "hook": []}
            for _ in range(ROUNDS):
                rounds["raw"].append(calls_per_second(raw, ROUND_SECONDS))
                rounds["hook"].append(calls_per_second(ours, ROUND_SECONDS))
        session.close()
    raw_rate = statistics.median(rounds["raw"])
    hook_rate = statistics.median(rounds["hook"])
    return {"raw": raw_rate, "hook": hook_rate, "ratio": hook_rate / raw_rate}


HEADERS = ["client", "calls/s (median of 3 runs of 2 s)", "vs raw"]


def rows(result: dict[str, float]) -> list[list[str]]:
    return [
        ["raw `requests.Session().get(url).json()`", f"{result['raw']:,.0f}", "1.00x"],
        ["`SigmaMindHook.get_campaign`", f"{result['hook']:,.0f}", f"{result['ratio']:.2f}x"],
    ]


if __name__ == "__main__":
    from tests.benchmarks.simproc import quiet_airflow_env

    quiet_airflow_env()
    from tests.benchmarks.simproc import table

    print(table(HEADERS, rows(main())))
