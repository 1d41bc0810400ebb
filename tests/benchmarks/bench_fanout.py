"""Fan-out: N CampaignStatusTriggers in one event loop, as the triggerer runs them, against the simulator.

Each trigger polls its own campaign (which stays ``scheduled``) through the provider's async path:
one pooled ``httpx.AsyncClient`` per event loop, shared by every trigger. The baseline runs the same
triggers, but each poll opens (and closes) a new HTTP client, as ``HttpSensorTrigger`` and several
providers' triggers do (given a shared SSL context, so that it is not also paying for loading the CA
bundle at every poll; ``client_cost`` measures that separately).

The simulator runs in a separate process, so the CPU measured here is the client's alone. Measured
over a window after a warm-up: polls per second (served, counted by the simulator), CPU seconds per
poll (user + system of this process), RSS per trigger (growth of this process's RSS from before the
triggers started, divided by N), peak open sockets (the simulator's count of concurrently open
connections over the whole run) and connections opened per poll.

Run all benchmarks with ``make bench``; this one alone with ``python -m tests.benchmarks.bench_fanout``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

import greenback
import httpx
import psutil

#: (N, poll interval in seconds); interval 0 polls as fast as possible.
SCENARIOS = [(100, 10.0), (1000, 10.0), (2000, 10.0), (100, 0.0), (1000, 0.0), (2000, 0.0)]
VARIANTS = ("shared pool (this provider)", "new client per poll")
#: Seconds measured, after the warm-up (one interval of staggered starts and 1 s; 2 s when polling flat out).
WINDOW = {10.0: 6.0, 0.0: 3.0}


@dataclass
class Result:
    n: int
    interval: float
    variant: str
    polls_per_second: float
    wanted_per_second: float
    cpu_per_poll_ms: float
    core_share: float
    rss_per_trigger_kb: float
    peak_sockets: int
    connections_per_poll: float
    failed_polls: int
    ended_early: int


#: Polls that raised (after the hook's retries), counted for the whole run of a scenario.
FAILED_POLLS = [0]


def counting_hook() -> type:
    """The provider's SigmaMindHook, counting the polls that fail."""
    from airflow_provider_sigmamind.exceptions import SigmaMindError
    from airflow_provider_sigmamind.hooks.sigmamind import SigmaMindHook

    class CountingHook(SigmaMindHook):
        async def aget_campaign(self, campaign_id: str) -> Any:
            try:
                return await super().aget_campaign(campaign_id)
            except SigmaMindError:
                FAILED_POLLS[0] += 1
                raise

    return CountingHook


def new_client_per_poll_hook() -> type:
    """The baseline: every poll opens a new ``httpx.AsyncClient`` and closes it (failed polls counted too).

    The clients share one SSL context, built once, as aiohttp does for its sessions: a fresh one per
    client (httpx's default) would add the CA bundle's loading to every poll (see ``client_cost``).
    """
    from airflow_provider_sigmamind.hooks.sigmamind import _AsyncPool

    ssl_context = httpx.create_ssl_context()

    class NewClientPerPollHook(counting_hook()):  # type: ignore[misc]
        async def aget_campaign(self, campaign_id: str) -> Any:
            async with httpx.AsyncClient(follow_redirects=False, verify=ssl_context) as client:
                self._async_pool = _AsyncPool([client], capacity=1)
                try:
                    return await super().aget_campaign(campaign_id)
                finally:
                    self._async_pool = None

    return NewClientPerPollHook


def client_cost(count: int = 20) -> dict[str, float]:
    """CPU milliseconds to create one ``httpx.AsyncClient``, with its own SSL context and with a shared one."""
    ssl_context = httpx.create_ssl_context()
    costs = {}
    for label, kwargs in (("own SSL context", {}), ("shared SSL context", {"verify": ssl_context})):
        started = time.process_time()
        clients = [httpx.AsyncClient(**kwargs) for _ in range(count)]  # type: ignore[arg-type]
        costs[label] = 1000 * (time.process_time() - started) / count
        del clients
    return costs


def spacing_cost(polls: int = 300) -> dict[str, float]:
    """CPU milliseconds per ``aget_campaign`` on one hook: back to back, and with a pause between polls.

    The pause is what a triggerer's polls look like (100 polls a second, spread out); the difference
    is the cost of waking an idle process, not of the poll.
    """
    from airflow_provider_sigmamind.hooks.sigmamind import SigmaMindHook
    from tests.benchmarks.simproc import simulator_process

    async def measure(campaign_id: str) -> dict[str, float]:
        process = psutil.Process()
        costs = {}
        async with SigmaMindHook() as hook:
            await hook.aget_campaign(campaign_id)
            for label, pause in (("back to back", 0.0), ("1 ms apart", 0.001), ("10 ms apart", 0.01)):
                before = sum(process.cpu_times()[:2])
                for _ in range(polls):
                    await hook.aget_campaign(campaign_id)
                    if pause:
                        await asyncio.sleep(pause)
                costs[label] = 1000 * (sum(process.cpu_times()[:2]) - before) / polls
        return costs

    with simulator_process() as sim:
        os.environ["AIRFLOW_CONN_SIGMAMIND_DEFAULT"] = sim.connection_json()
        (campaign_id,) = sim.add_campaigns(1)
        return asyncio.run(measure(campaign_id))


async def run_scenario(sim: Any, n: int, interval: float, variant: str) -> Result:
    import airflow_provider_sigmamind.triggers.campaign as trigger_module
    from airflow_provider_sigmamind.triggers.campaign import CampaignStatusTrigger

    trigger_module.SigmaMindHook = new_client_per_poll_hook() if variant == VARIANTS[1] else counting_hook()  # type: ignore[misc]
    (warm_up_id,) = await asyncio.to_thread(sim.add_campaigns, 1, "live")
    async for _ in CampaignStatusTrigger(campaign_id=warm_up_id).run():  # imports and first-use costs
        pass
    campaign_ids = await asyncio.to_thread(sim.add_campaigns, n)
    triggers = [
        CampaignStatusTrigger(campaign_id=cid, poll_interval=interval, max_consecutive_errors=10_000)
        for cid in campaign_ids
    ]
    ended: list[Any] = []

    async def run_one(trigger: CampaignStatusTrigger, delay: float) -> None:
        await asyncio.sleep(delay)
        await greenback.ensure_portal()  # as the triggerer does for each trigger
        async for event in trigger.run():
            ended.append(event.payload)

    process = psutil.Process()
    gc.collect()
    rss_before = process.memory_info().rss
    spread = interval  # staggered starts, as triggers deferred at different times would be
    tasks = [asyncio.create_task(run_one(t, spread * i / n)) for i, t in enumerate(triggers)]
    del triggers
    await asyncio.sleep(spread + (1.0 if interval else 2.0))
    window = WINDOW.get(interval, 2 * interval or 5.0)
    # Counters, CPU and clock read back to back at both ends of the window, from the loop's own
    # thread (a blocking admin call of about a millisecond), so they cover the same interval even
    # when a saturated loop wakes up late.
    stats_before = sim.stats()
    cpu_before = sum(process.cpu_times()[:2])
    started = time.monotonic()
    await asyncio.sleep(window)
    elapsed = time.monotonic() - started
    cpu = sum(process.cpu_times()[:2]) - cpu_before
    stats_after = sim.stats()
    rss_after = process.memory_info().rss
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    polls = stats_after["total_requests"] - stats_before["total_requests"]
    connections = stats_after["total_connections"] - stats_before["total_connections"]
    return Result(
        n=n,
        interval=interval,
        variant=variant,
        polls_per_second=polls / elapsed,
        wanted_per_second=n / interval if interval else float("inf"),
        cpu_per_poll_ms=1000 * cpu / max(polls, 1),
        core_share=cpu / elapsed,
        rss_per_trigger_kb=(rss_after - rss_before) / n / 1024,
        peak_sockets=stats_after["peak_open_connections"],
        connections_per_poll=connections / max(polls, 1),
        failed_polls=FAILED_POLLS[0],
        ended_early=len(ended),
    )


def rows(results: list[Result]) -> list[list[str]]:
    out = []
    for r in results:
        wanted = "max" if not r.interval else f"{r.wanted_per_second:.0f}"
        out.append(
            [
                f"{r.n:,}",
                f"{r.interval:g} s" if r.interval else "as fast as possible",
                r.variant,
                f"{r.polls_per_second:,.0f} (of {wanted})",
                f"{r.cpu_per_poll_ms:.2f}",
                f"{100 * r.core_share:.0f}%",
                f"{r.rss_per_trigger_kb:.1f}",
                f"{r.peak_sockets:,}",
                f"{r.connections_per_poll:.2f}",
                f"{r.failed_polls:,}",
                str(r.ended_early),
            ]
        )
    return out


HEADERS = [
    "N",
    "interval",
    "HTTP client",
    "polls/s",
    "CPU ms/poll",
    "CPU (one core = 100%)",
    "RSS KB/trigger",
    "peak open sockets",
    "new connections/poll",
    "failed polls",
    "ended early",
]


def one(n: int, interval: float, variant: str) -> Result:
    """One scenario, in this process (``main`` runs each in a fresh one, so RSS and CPU are its own)."""
    from tests.benchmarks.simproc import simulator_process

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with simulator_process() as sim:
        os.environ["AIRFLOW_CONN_SIGMAMIND_DEFAULT"] = sim.connection_json(timeout=30, max_retries=2)
        return asyncio.run(run_scenario(sim, n, interval, variant))


def main(scenarios: list[tuple[int, float]] = SCENARIOS) -> list[Result]:
    """Every scenario and variant, each in a fresh interpreter."""
    results = []
    for n, interval in scenarios:
        for variant in VARIANTS:
            done = subprocess.run(
                [sys.executable, "-m", "tests.benchmarks.bench_fanout", "--one", str(n), str(interval), variant],
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                raise RuntimeError(f"scenario {n}/{interval}/{variant} failed:\n{done.stderr[-3000:]}")
            result = Result(**json.loads(done.stdout.strip().splitlines()[-1]))
            print(" ", rows([result])[0], file=sys.stderr, flush=True)
            results.append(result)
    return results


if __name__ == "__main__":
    from tests.benchmarks.simproc import quiet_airflow_env

    quiet_airflow_env()
    if sys.argv[1:2] == ["--one"]:
        print(json.dumps(dataclasses.asdict(one(int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]))))
    else:
        from tests.benchmarks.simproc import table

        print(table(HEADERS, rows(main())))
