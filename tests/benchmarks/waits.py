"""The fan-out harness: N waits of one client in one event loop, measured by CPU time.

One process runs one client at one :class:`Stage` (``python -m tests.benchmarks.waits --one SPEC``,
started by :func:`tests.benchmarks.bench_fanout.run_stage`), with the simulator in a process of its
own, so the CPU measured (``time.process_time()``: user + system of every thread) is the client's.

The waits start spread over one interval (as waits deferred at different times are); after that and
a settling pause, ``windows`` windows are measured: CPU per poll, polls served, poll lateness (a
poll's start minus when it was due, an interval after the previous one was due: how late the loop
woke it), the longest garbage-collector pause. Then, with the collector off for ``gc_seconds``, the
cyclic garbage the polls leave is counted exactly (``gc.collect()`` afterwards, divided by the polls).
"""

from __future__ import annotations

import asyncio
import gc
import json
import math
import os
import resource
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Hashable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import greenback
import psutil

CLIENTS = {
    "provider": "this provider (`CampaignStatusTrigger`)",
    "provider_solo": "this provider, coalescing off (one request per wait)",
    "per_poll": "new `aiohttp.ClientSession` per poll",
    "httpx": "bare shared `httpx.AsyncClient`",
    "aiohttp": "bare shared `aiohttp.ClientSession`",
    "raw": "raw asyncio streams, keep-alive (floor)",
}


@dataclass(frozen=True)
class Stage:
    """N waits at one interval, for some clients: ``rounds`` processes each, run interleaved."""

    n: int
    interval: float
    clients: tuple[str, ...]
    rounds: int
    windows: int
    window_seconds: float
    gc_seconds: float = 1.0
    settle: float = 1.0
    #: Waits per campaign (several DAG runs gated on one campaign): N waits on N / share campaigns.
    share: int = 1
    #: The connection's ``max_requests_per_second`` (``None``: no budget).
    budget: float | None = None
    #: The connection's ``batch_polling``.
    batch: bool = False
    #: CPython's young-generation threshold for the run (``gc.set_threshold``, as a deployment's
    #: ``airflow_local_settings.py`` can set it); ``None``: the interpreter's own (700 on Python 3.11
    #: and 3.12, 2,000 on 3.13).
    gc_threshold: int | None = None


#: One wait: polls one campaign until cancelled.
Wait = Callable[[str], Coroutine[Any, Any, None]]


class Tally:
    """Counters the polls of one process fill: polls, failures, lateness while recording.

    A poll is due an interval after the previous one was due, from the campaign's place in the
    interval (the trigger's schedule, :func:`~airflow_provider_sigmamind.watch.poll_place` and
    :func:`~airflow_provider_sigmamind.watch.next_poll_at`); its lateness is its start minus that
    moment.
    """

    def __init__(self, interval: float) -> None:
        from airflow_provider_sigmamind.watch import next_poll_at, poll_place  # imports Airflow: not at import

        self._next_poll_at = next_poll_at
        self._poll_place = poll_place
        self.interval = interval
        self.polls = 0
        self.failed = 0
        self.ended_early = 0
        self.recording = False
        self.lateness: list[float] = []
        self._due: dict[Hashable, float] = {}
        self._next: dict[Hashable, float] = {}

    def start(self, wait: Hashable, campaign_id: str) -> None:
        now = time.monotonic()
        due = self._next.get(wait)
        if self.recording and due is not None:
            self.lateness.append(now - due)
        self._due[wait] = self._poll_place(campaign_id, now, self.interval) if due is None else due

    def end(self, wait: Hashable) -> None:
        now = time.monotonic()
        self._next[wait] = self._next_poll_at(self._due.get(wait, now), now, self.interval)
        self.polls += 1


class GcWatch:
    """The longest collector pause and the number of full collections since :meth:`reset`."""

    def __init__(self) -> None:
        self._started = 0.0
        self.reset()
        gc.callbacks.append(self._callback)

    def reset(self) -> None:
        self.longest = 0.0
        self.full = 0

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        self.longest = max(self.longest, time.perf_counter() - self._started)
        self.full += info["generation"] == 2


def instrument_provider(tally: Tally, *, coalesce: bool = True) -> None:
    """Time and count the trigger's polls: a poll starts when the trigger begins one
    (``CampaignStatusTrigger._poll``) and ends when its answer or its failure is judged
    (``CampaignWatch.observe`` / ``poll_failed``); the wait's ``CampaignWatch``, which both are
    handed, names the wait. ``coalesce=False`` drops the trigger's ``max_age`` (one request per
    poll, as before coalescing).

    Plain functions around the originals, never a coroutine: a coroutine of the benchmark's own
    would be one more object alive through every request of the provider's, which the bare
    clients' polls do not have, and the young collections a poll causes grow with those. They
    cost the provider's polls two plain calls more than the bare clients' loop pays for the same
    count, and no lookup: the key is an argument (it was the current task, found twice a poll).
    """
    from airflow_provider_sigmamind.hooks.sigmamind import SigmaMindHook
    from airflow_provider_sigmamind.triggers.campaign import CampaignStatusTrigger
    from airflow_provider_sigmamind.watch import CampaignWatch

    poll, observe, poll_failed = CampaignStatusTrigger._poll, CampaignWatch.observe, CampaignWatch.poll_failed

    def timed_poll(self: CampaignStatusTrigger, hook: Any, watch: CampaignWatch, ends: Any) -> Any:
        tally.start(id(watch), self.campaign_id)
        return poll(self, hook, watch, ends)

    def timed_observe(self: CampaignWatch, campaign: Any) -> Any:
        tally.end(id(self))
        return observe(self, campaign)

    def timed_poll_failed(self: CampaignWatch, err: Any) -> None:
        tally.failed += 1
        tally.end(id(self))
        poll_failed(self, err)

    CampaignStatusTrigger._poll = timed_poll  # type: ignore[method-assign]
    CampaignWatch.observe = timed_observe  # type: ignore[method-assign]
    CampaignWatch.poll_failed = timed_poll_failed  # type: ignore[method-assign]
    if not coalesce:
        aget_campaign = SigmaMindHook.aget_campaign

        def uncoalesced(self: SigmaMindHook, campaign_id: str, **kwargs: Any) -> Any:
            return aget_campaign(self, campaign_id, **{**kwargs, "max_age": None})

        SigmaMindHook.aget_campaign = uncoalesced  # type: ignore[method-assign,assignment]


async def provider_waits(sim: Any, tally: Tally, *, coalesce: bool = True) -> Wait:
    """One wait = ``CampaignStatusTrigger.run()`` consumed under a portal, as the triggerer does."""
    from airflow_provider_sigmamind.triggers.campaign import CampaignStatusTrigger

    instrument_provider(tally, coalesce=coalesce)
    (warm_up_id,) = await asyncio.to_thread(sim.add_campaigns, 1, "live")
    async for _ in CampaignStatusTrigger(campaign_id=warm_up_id).run():  # imports and first-use costs
        pass

    async def wait(campaign_id: str) -> None:
        trigger = CampaignStatusTrigger(
            campaign_id=campaign_id, poll_interval=tally.interval, max_consecutive_errors=1_000_000
        )
        await greenback.ensure_portal()
        async for _ in trigger.run():
            tally.ended_early += 1

    return wait


async def bare_waits(stack: AsyncExitStack, sim: Any, tally: Tally, client: str) -> Wait:
    """One wait = the trigger's loop around a bare client's poll: request in a task, then sleep
    until the next is due, on the trigger's schedule."""
    from airflow_provider_sigmamind.watch import next_poll_at, poll_place
    from tests.benchmarks import clients

    factory = {
        "per_poll": clients.aiohttp_per_poll,
        "httpx": clients.shared_httpx,
        "aiohttp": clients.shared_aiohttp,
        "raw": clients.raw_streams,
    }[client]
    poll: clients.Poll = await stack.enter_async_context(factory(sim.url, sim.api_key))
    (warm_up_id,) = await asyncio.to_thread(sim.add_campaigns, 1)
    await poll(warm_up_id)

    async def wait(campaign_id: str) -> None:
        await greenback.ensure_portal()
        loop = asyncio.get_running_loop()
        due = poll_place(campaign_id, loop.time(), tally.interval)
        while True:
            tally.start(campaign_id, campaign_id)
            try:
                await asyncio.create_task(poll(campaign_id))
            except Exception:
                tally.failed += 1
            finally:
                tally.end(campaign_id)
            due = next_poll_at(due, loop.time(), tally.interval)
            await asyncio.sleep(due - loop.time())

    return wait


async def run_scenario(sim: Any, client: str, stage: Stage) -> dict[str, Any]:
    """Start ``stage.n`` waits of ``client``, measure the windows and the garbage; the figures as a dict."""
    tally = Tally(stage.interval)
    watch = GcWatch()
    process = psutil.Process()
    distinct = await asyncio.to_thread(sim.add_campaigns, max(1, stage.n // stage.share))
    campaign_ids = [distinct[i % len(distinct)] for i in range(stage.n)]
    async with AsyncExitStack() as stack:
        if client in ("provider", "provider_solo"):
            wait = await provider_waits(sim, tally, coalesce=client == "provider")
        else:
            wait = await bare_waits(stack, sim, tally, client)

        async def later(campaign_id: str, delay: float) -> None:
            await asyncio.sleep(delay)
            await wait(campaign_id)

        gc.collect()
        rss_before = process.memory_info().rss
        spread = stage.interval
        tasks = [asyncio.create_task(later(cid, spread * i / stage.n)) for i, cid in enumerate(campaign_ids)]
        watchdog = overload_watchdog(sim, client, stage, tally, watch)
        sampler = RequestRate(sim.url)
        # Every wait's second poll is at its campaign's place, one to two intervals after its first.
        await asyncio.sleep(spread + 2 * stage.interval + stage.settle)
        samples, lateness = [], []
        for _ in range(stage.windows):
            # Counters, CPU and clock read back to back at both ends, from the loop's own thread (a
            # blocking admin call of about a millisecond), so they cover the same interval.
            tally.lateness, tally.recording = [], True
            watch.reset()
            stats_before = sim.stats()
            cpu_before, started, polls_before = time.process_time(), time.monotonic(), tally.polls
            await asyncio.sleep(stage.window_seconds)
            cpu, elapsed = time.process_time() - cpu_before, time.monotonic() - started
            polls = tally.polls - polls_before
            stats_after = sim.stats()
            tally.recording = False
            lateness += tally.lateness
            served = stats_after["total_requests"] - stats_before["total_requests"]
            new_connections = stats_after["total_connections"] - stats_before["total_connections"]
            samples.append(sample(cpu, elapsed, polls, watch, new_connections / max(served, 1)))
            samples[-1]["requests_per_interval"] = served / elapsed * stage.interval
        rss_after = process.memory_info().rss
        busiest_second = sampler.stop()
        gc.collect()
        gc.disable()  # from here every cyclic object the polls drop stays until the collect below
        polls_before = tally.polls
        await asyncio.sleep(stage.gc_seconds)
        garbage, garbage_polls = gc.collect(), tally.polls - polls_before
        gc.enable()
        watchdog.cancel()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    if tally.polls == 0:
        raise RuntimeError(f"{client}: no poll was counted (does the trigger still poll through _poll?)")
    return outcome(
        client,
        stage,
        tally,
        samples,
        lateness,
        garbage_per_poll=garbage / max(garbage_polls, 1),
        rss_kb_per_trigger=(rss_after - rss_before) / stage.n / 1024,
        peak_sockets=sim.stats()["peak_open_connections"],
        busiest_second=busiest_second,
        campaigns=len(distinct),
        budget=stage.budget,
    )


class RequestRate:
    """The simulator's own request count, read once a second from a thread of its own: the most
    requests it saw in one second, from the second second on (the first may hold the first burst)."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._stop = threading.Event()
        self.busiest = 0.0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import http.client

        host, port = self._url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=30)

        def total() -> tuple[float, int]:
            conn.request("GET", "/_sim/health")
            return time.monotonic(), json.loads(conn.getresponse().read())["total_requests"]

        last = total()
        seconds = 0
        while not self._stop.wait(1.0 - (time.monotonic() - last[0]) % 1.0):
            now = total()
            seconds += 1
            if seconds > 1:
                self.busiest = max(self.busiest, (now[1] - last[1]) / (now[0] - last[0]))
            last = now
        conn.close()

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.busiest


def sample(cpu: float, elapsed: float, polls: int, watch: GcWatch, connections_per_poll: float) -> dict[str, float]:
    """The figures of one window."""
    return {
        "cpu_ms": 1000 * cpu / max(polls, 1),
        "core_share": cpu / elapsed,
        "polls_per_second": polls / elapsed,
        "longest_gc_ms": 1000 * watch.longest,
        "full_gcs": watch.full,
        "connections_per_poll": connections_per_poll,
    }


def outcome(
    client: str, stage: Stage, tally: Tally, samples: list[dict[str, float]], lateness: list[float], **figures: Any
) -> dict[str, Any]:
    """What a scenario's process prints (one JSON line) for ``run_stage``."""
    return {
        "client": client,
        "n": stage.n,
        "interval": stage.interval,
        "samples": samples,
        "lateness_ms": [round(1000 * value, 3) for value in lateness],
        "failed": tally.failed,
        "ended_early": tally.ended_early,
        # What the provider's transport imported: Airflow itself imports httpx, never aiohttp.
        "library": "aiohttp" if "aiohttp" in sys.modules else "httpx",
        "gc_threshold": gc.get_threshold()[0],
        "overloaded_after": None,
        **figures,
    }


def overload_watchdog(sim: Any, client: str, stage: Stage, tally: Tally, watch: GcWatch) -> threading.Timer:
    """A timer that, if the scenario takes 1.5 times its planned time (plus 10 s), prints what it
    has measured since the waits started and ends this process: a client that cannot keep up falls
    behind ever more (httpx's pool rescans its whole queue whenever a connection frees) and would
    never finish its windows."""
    limit = 1.5 * (3 * stage.interval + stage.settle + stage.windows * stage.window_seconds + stage.gc_seconds) + 10
    cpu_before, started, polls_before = time.process_time(), time.monotonic(), tally.polls

    def give_up() -> None:  # in the timer's thread, while the event loop is swamped
        elapsed = time.monotonic() - started
        polls = tally.polls - polls_before
        figures = sample(time.process_time() - cpu_before, elapsed, polls, watch, math.nan)
        print(
            json.dumps(
                outcome(
                    client,
                    stage,
                    tally,
                    [figures],
                    list(tally.lateness),
                    garbage_per_poll=math.nan,
                    rss_kb_per_trigger=math.nan,
                    peak_sockets=-1,
                    busiest_second=math.nan,
                    campaigns=stage.n // stage.share,
                    budget=stage.budget,
                )
                | {"overloaded_after": elapsed}
            ),
            flush=True,
        )
        sim.process.terminate()
        os._exit(0)

    timer = threading.Timer(limit, give_up)
    timer.daemon = True
    timer.start()
    return timer


def one(client: str, stage: Stage) -> dict[str, Any]:
    """One client at one stage, in this process (``run_stage`` runs each in a fresh one)."""
    from tests.benchmarks.simproc import simulator_process, triggerer_heap

    triggerer_heap()  # the same heap for every client, a triggerer's

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if stage.gc_threshold is not None:
        gc.set_threshold(stage.gc_threshold, *gc.get_threshold()[1:])
    with simulator_process() as sim:
        extra: dict[str, Any] = {} if stage.budget is None else {"max_requests_per_second": stage.budget}
        if stage.batch:
            extra["batch_polling"] = True
        os.environ["AIRFLOW_CONN_SIGMAMIND_DEFAULT"] = sim.connection_json(timeout=30, max_retries=2, **extra)
        return asyncio.run(run_scenario(sim, client, stage))


if __name__ == "__main__":
    from tests.benchmarks.simproc import quiet_airflow_env

    quiet_airflow_env()
    spec = json.loads(sys.argv[2])  # --one SPEC
    print(json.dumps(one(spec["client"], Stage(**{**spec["stage"], "clients": tuple(spec["stage"]["clients"])}))))
