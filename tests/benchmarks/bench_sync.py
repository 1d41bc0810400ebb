"""Sync path: ``SigmaMindHook.get_campaign`` against raw ``requests``, by CPU time per call.

The baseline is the least a client can do: ``requests.Session().get(url, headers=...).json()`` on
one kept-alive session, with exactly the headers the hook sent (read back from the simulator's
record of the hook's request, the key added). The hook does more per call (validates and encodes
the id, bounds the body's size and time, maps errors, parses the payload into a ``Campaign``).

Both run one call after another against the same simulator, in its own process, in rounds of
``calls`` calls; the order inside a round alternates (raw first, then the hook first), after a
warm-up of each. The figure is the CPU time of this process (``time.process_time()``) per call, the
median over rounds; speed is raw CPU per call divided by the hook's, per round.

Run all benchmarks with ``make bench``; this one alone with ``python -m tests.benchmarks.bench_sync``.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable

ROUNDS, CALLS = 6, 400
QUICK_ROUNDS, QUICK_CALLS = 2, 30


def cpu_per_call(call: Callable[[], object], calls: int) -> float:
    """CPU milliseconds of this process per call, over ``calls`` calls."""
    started = time.process_time()
    for _ in range(calls):
        call()
    return 1000 * (time.process_time() - started) / calls


def main(rounds: int | None = None, calls: int | None = None) -> dict[str, list[float]]:
    """CPU ms per call of each client, one figure per round (``BENCH_QUICK=1``: tiny rounds)."""
    import requests

    from airflow_provider_sigmamind.hooks.sigmamind import SigmaMindHook
    from tests.benchmarks.simproc import simulator_process

    quick = os.environ.get("BENCH_QUICK") == "1"
    rounds = rounds or (QUICK_ROUNDS if quick else ROUNDS)
    calls = calls or (QUICK_CALLS if quick else CALLS)
    with simulator_process() as sim, SigmaMindHook() as hook, requests.Session() as session:
        os.environ["AIRFLOW_CONN_SIGMAMIND_DEFAULT"] = sim.connection_json()
        (campaign_id,) = sim.add_campaigns(1, status="live")
        url = f"{sim.url}/v1/campaigns/{campaign_id}"

        def ours() -> object:
            return hook.get_campaign(campaign_id)

        ours()
        (sent,) = sim.admin("GET", f"/_sim/requests?campaign_id={campaign_id}")
        headers = {name: value for name, value in sent["headers"].items() if name not in ("host", "content-length")}
        headers["X-API-Key"] = sim.api_key

        def raw() -> object:
            return session.get(url, headers=headers, timeout=30).json()

        assert ours().payload == raw()  # type: ignore[attr-defined]
        for call in (raw, ours):  # warm up
            cpu_per_call(call, max(calls // 3, 10))
        figures: dict[str, list[float]] = {"raw": [], "hook": []}
        for round_number in range(rounds):
            order = [("raw", raw), ("hook", ours)]
            for name, call in order if round_number % 2 == 0 else order[::-1]:
                figures[name].append(cpu_per_call(call, calls))
    return figures


HEADERS = ["client", "CPU ms/call (median; range)", "speed vs raw (median; range)"]


def speed(figures: dict[str, list[float]]) -> tuple[float, float, float]:
    """The hook's speed relative to raw ``requests``: the medians' ratio, then the lowest and highest of the rounds."""
    per_round = [raw / hook for raw, hook in zip(figures["raw"], figures["hook"], strict=True)]
    return statistics.median(figures["raw"]) / statistics.median(figures["hook"]), min(per_round), max(per_round)


def rows(figures: dict[str, list[float]]) -> list[list[str]]:
    ratio, low, high = speed(figures)
    cell = lambda values: f"{statistics.median(values):.3f}; {min(values):.3f}-{max(values):.3f}"  # noqa: E731
    return [
        ["raw `requests.Session().get(url, headers=...).json()`", cell(figures["raw"]), "1.00x"],
        ["`SigmaMindHook.get_campaign`", cell(figures["hook"]), f"{ratio:.2f}x; {low:.2f}-{high:.2f}"],
    ]


if __name__ == "__main__":
    from tests.benchmarks.simproc import quiet_airflow_env

    quiet_airflow_env()
    from tests.benchmarks.simproc import table

    print(table(HEADERS, rows(main())))
