"""The collector's view of N waits: what makes full collections long and frequent (docs/performance.md).

For each client (as in :mod:`.bench_fanout`, each in a fresh interpreter with the simulator in
another process), N waits are started spread over one interval and left to settle; then, over a
window, a ``gc.callbacks`` hook counts young (generation 0) and middle (generation 1) collections
per 1,000 polls and the objects each middle collection moved to the oldest generation (what counts
towards the next full collection); after it, the tracked objects per wait beyond the heap before the
waits started (Airflow and the imports: the same for every client), and the time of a full
``gc.collect()`` of the whole heap (the median of three), which is what a full collection stalls
the event loop for; beside it the same for the heap before the waits, the part no client changes.

CPython runs a full collection once ten middle collections have passed and the objects moved to the
oldest generation since the last one exceed a quarter of it, so the middle-collection rate and the
heap's size are the two things a client can change.

``python -m tests.benchmarks.bench_heap --n 5000 --clients provider,aiohttp``; not part of
``make bench`` (its figures explain the lateness figures there, they are not goals).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections import Counter
from contextlib import AsyncExitStack
from typing import Any

from tests.benchmarks.simproc import quiet_airflow_env, table


class Collections:
    """Collections of each generation, and objects the middle ones moved to the oldest, while ``on``."""

    def __init__(self) -> None:
        self.on = False
        self.count = [0, 0, 0]
        self.promoted = 0
        self._young = 0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        generation = info["generation"]
        if not self.on:
            return
        if generation == 1 and phase == "start":
            self._young = len(gc.get_objects(0)) + len(gc.get_objects(1))
        if phase == "stop":
            self.count[generation] += 1
            if generation == 1:
                self.promoted += self._young - info["collected"]


def full_collection_ms() -> float:
    """How long a full ``gc.collect()`` of the heap as it is takes: the median of three, in ms."""
    pauses = []
    for _ in range(3):
        started = time.perf_counter()
        gc.collect()
        pauses.append(1000 * (time.perf_counter() - started))
    return statistics.median(pauses)


async def scenario(sim: Any, client: str, n: int, window: float) -> dict[str, Any]:
    from tests.benchmarks import waits

    tally = waits.Tally(10.0)
    ids = await asyncio.to_thread(sim.add_campaigns, n)
    async with AsyncExitStack() as stack:
        if client == "provider":
            wait = await waits.provider_waits(sim, tally)
        else:
            wait = await waits.bare_waits(stack, sim, tally, client)

        async def later(campaign_id: str, delay: float) -> None:
            await asyncio.sleep(delay)
            await wait(campaign_id)

        gc.collect()
        base = len(gc.get_objects())
        base_ms = full_collection_ms()
        before = Counter(type(o).__qualname__ for o in gc.get_objects())
        tasks = [asyncio.create_task(later(cid, tally.interval * i / n)) for i, cid in enumerate(ids)]
        # The starts take one interval; every wait's second poll comes one to two intervals after its first.
        await asyncio.sleep(3 * tally.interval + 2.0)
        counts = Collections()
        polls = tally.polls
        counts.on = True
        await asyncio.sleep(window)
        counts.on = False
        polls = tally.polls - polls
        collect_ms = full_collection_ms()
        after = Counter(type(o).__qualname__ for o in gc.get_objects())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    per_thousand = [1000 * c / max(polls, 1) for c in counts.count]
    return {
        "client": client,
        "n": n,
        "polls": polls,
        "base": base,
        "per_wait": (sum(after.values()) - base) / n,
        "types": [(name, count / n) for name, count in (after - before).most_common(8)],
        "young_per_1000": per_thousand[0],
        "middle_per_1000": per_thousand[1],
        "full": counts.count[2],
        "promoted_per_poll": counts.promoted / max(polls, 1),
        "base_collect_ms": base_ms,
        "collect_ms": collect_ms,
    }


def one(client: str, n: int, window: float) -> dict[str, Any]:
    from tests.benchmarks.simproc import simulator_process, triggerer_heap

    triggerer_heap()  # the same heap for every client, a triggerer's

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with simulator_process() as sim:
        os.environ["AIRFLOW_CONN_SIGMAMIND_DEFAULT"] = sim.connection_json(timeout=30, max_retries=2)
        return asyncio.run(scenario(sim, client, n, window))


HEADERS = [
    "client",
    "tracked objects per wait (heap before the waits)",
    "full gc.collect() ms, heap before the waits / with them",
    "young / middle collections per 1,000 polls",
    "moved to the oldest per poll",
    "full collections in the window",
    "most objects per wait",
]


def row(r: dict[str, Any]) -> list[str]:
    types = ", ".join(f"{name} {count:.1f}" for name, count in r["types"][:5])
    return [
        r["client"],
        f"{r['per_wait']:.1f} ({r['base']:,})",
        f"{r['base_collect_ms']:.0f} / {r['collect_ms']:.0f}",
        f"{r['young_per_1000']:.1f} / {r['middle_per_1000']:.2f}",
        f"{r['promoted_per_poll']:.1f}",
        str(r["full"]),
        types,
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--clients", default="provider,aiohttp", help="of provider, per_poll, httpx, aiohttp, raw")
    parser.add_argument("--window", type=float, default=20.0, help="seconds the collections are counted over")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.n, args.window)))
        return
    results = []
    for client in args.clients.split(","):
        command = [sys.executable, "-m", "tests.benchmarks.bench_heap", "--one", client]
        command += ["--n", str(args.n), "--window", str(args.window)]
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
    print(f"N = {args.n:,} waits at 10 s, collections counted over {args.window:g} s\n")
    print(table(HEADERS, [row(r) for r in results]))


if __name__ == "__main__":
    quiet_airflow_env()
    main()
