"""Fan-out: N waits in one event loop, polling the simulator every 10 s, by the CPU time they cost.

Five clients, each run by :mod:`tests.benchmarks.waits` in a fresh interpreter of its own with the
simulator in another process, so the CPU measured (``time.process_time()``) is the client's alone:

- ``provider``: ``CampaignStatusTrigger.run()`` as the triggerer runs it (a task per trigger under a
  ``greenback`` portal), polling through ``SigmaMindHook.aget_campaign``, whatever its transport;
- ``per_poll``: a new ``aiohttp.ClientSession`` per poll, as naive triggers do;
- ``httpx`` / ``aiohttp``: one bare shared client of that library, no retries or checks;
- ``raw``: the floor, keep-alive HTTP/1.1 over asyncio streams (see :mod:`.clients`).

The bare clients run in the same harness as the trigger (a task per wait under a portal, the
request in a task of its own, a sleep of the interval between polls), so the difference between
two rows is the client's. Every process imports what a triggerer has (simproc.triggerer_heap). Each
client runs ``rounds`` times, the order of the clients reversed every other round; each process
measures ``windows`` windows. A stage may name ``built_on``: the library the provider was found
to be built on in an earlier stage.

Run all benchmarks with ``make bench``; this one alone with ``python -m tests.benchmarks.bench_fanout``.
"""

from __future__ import annotations

import gc
import json
import math
import os
import statistics
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from tests.benchmarks.waits import CLIENTS, Stage

_BASE = ("provider", "per_poll", "raw")
STAGES = [
    Stage(
        1000,
        10.0,
        tuple(c for c in CLIENTS if c != "provider_solo"),
        rounds=2,
        windows=2,
        window_seconds=2.5,
        gc_seconds=0.5,
        settle=0.5,
    ),
    # The lateness goals' stages. CPython's full collections (200-500 ms at these N, every stall
    # of the loop beyond a few ms) set p99, so the window must hold them at their own rate: at
    # 5,000 and 10,000 waits, 120 s (at 5,000 a 30 s window held none or one by luck, and its p99
    # read 12-98 ms on the same code; at 10,000 a 30 s window read 25 ms where 120 s read 162).
    Stage(5000, 10.0, (*_BASE, "built_on"), rounds=1, windows=1, window_seconds=120.0, gc_seconds=0.5),
    Stage(10000, 10.0, _BASE, rounds=1, windows=1, window_seconds=120.0, gc_seconds=0.5),
    # 10,000 waits on 1,000 campaigns (ten DAG runs gated on each). Without coalescing each wait
    # asks once per interval (10,000 requests; `--clients provider_solo --share 10` measures it).
    # 30 s: the first waits of the campaigns start within one second, so their requests come in a
    # burst each interval, and a window shorter than a few intervals counts one burst or none.
    Stage(10000, 10.0, ("provider",), rounds=1, windows=1, window_seconds=30.0, gc_seconds=0.5, share=10),
    # 1,000 waits asking 100 requests a second of a key whose budget is 50.
    Stage(1000, 10.0, ("provider",), rounds=1, windows=1, window_seconds=6.0, gc_seconds=0.5, budget=50),
    # 10,000 waits on 10,000 campaigns answered from the list (the batch_polling extra), over 120 s
    # as the lateness stage: 30 s windows read p99 55 ms where 120 s read 160 (before the rounds
    # were kept as text), by the luck of the full collections they held.
    Stage(10000, 10.0, ("provider",), rounds=1, windows=1, window_seconds=120.0, gc_seconds=0.5, batch=True),
    # The lateness stage again with CPython's young-collection threshold at 2,000 (Python 3.13's
    # default; 700 on 3.11 and 3.12): what a deployment's airflow_local_settings.py can set.
    Stage(5000, 10.0, ("provider",), rounds=1, windows=1, window_seconds=120.0, gc_seconds=0.5, gc_threshold=2000),
]
#: ``BENCH_QUICK=1``: every measure, tiny (a smoke test of the code; figures meaningless).
QUICK_STAGES = [
    Stage(30, 0.3, tuple(c for c in CLIENTS if c != "provider_solo"), 1, 1, 0.3, gc_seconds=0.2, settle=0.2),
    # Only the clients the goals read there: every client has run once already, in the first.
    *(
        Stage(60, 0.3, clients, 1, 1, 0.3, gc_seconds=0.2, settle=0.2)
        for clients in (("provider", "built_on"), ("provider",))
    ),
    Stage(60, 0.3, ("provider", "provider_solo"), 1, 1, 0.3, gc_seconds=0.2, settle=0.2, share=10),
    Stage(60, 1.0, ("provider",), 1, 1, 2.5, gc_seconds=0.2, settle=0.2, budget=20),
    Stage(60, 0.3, ("provider",), 1, 1, 0.3, gc_seconds=0.2, settle=0.2, batch=True),
    Stage(60, 0.3, ("provider",), 1, 1, 0.3, gc_seconds=0.2, settle=0.2, gc_threshold=2000),
]
#: Which stage the CPU ratios are read from, and which the lateness goal (issue 9), at the
#: interpreter's collector and tuned; the scale stages (issue 15): one per N of distinct campaigns,
#: the shared-campaign one, the budget one, the batch one.
RATIO_STAGE, LATENESS_STAGE, TUNED_LATENESS_STAGE = 0, 1, 6
SCALE_STAGES, SHARED_STAGE, BUDGET_STAGE, BATCH_STAGE = (0, 1, 2), 3, 4, 5
#: The young-collection threshold of this interpreter (the measured processes' unless a stage sets one).
DEFAULT_GC_THRESHOLD = gc.get_threshold()[0]


@dataclass
class Summary:
    """One client at one stage, over its rounds and windows."""

    client: str
    n: int
    interval: float
    cpu_ms: list[float]  # one per window, in round order
    core_share: float
    polls_per_second: float
    p50_ms: float
    p99_ms: float
    longest_gc_ms: float
    full_gcs: int
    garbage_per_poll: float
    rss_kb_per_trigger: float
    peak_sockets: int
    connections_per_poll: float
    failed: int
    ended_early: int
    library: str
    overloaded_after: float | None  # seconds after which a run that could not keep up was stopped
    requests_per_interval: float  # what the simulator served, per poll interval
    campaigns: int
    busiest_second: float  # most requests the simulator saw in one second, after the first
    budget: float | None
    gc_threshold: int  # CPython's young-collection threshold in the measured process

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu_ms)


def percentile(values: list[float], share: float) -> float:
    """The ``share`` quantile (0..1) of ``values``, nearest rank; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def median(values: list[float]) -> float:
    """The median of the numbers that are not NaN (NaN when there are none)."""
    known = [value for value in values if not math.isnan(value)]
    return statistics.median(known) if known else math.nan


def summarize(runs: list[dict[str, Any]]) -> Summary:
    samples = [s for run in runs for s in run["samples"]]
    lateness = [value for run in runs for value in run["lateness_ms"]]
    stopped = [run["overloaded_after"] for run in runs if run["overloaded_after"] is not None]
    return Summary(
        client=runs[0]["client"],
        n=runs[0]["n"],
        interval=runs[0]["interval"],
        cpu_ms=[s["cpu_ms"] for s in samples],
        core_share=median([s["core_share"] for s in samples]),
        polls_per_second=median([s["polls_per_second"] for s in samples]),
        p50_ms=percentile(lateness, 0.50),
        p99_ms=percentile(lateness, 0.99),
        longest_gc_ms=max(s["longest_gc_ms"] for s in samples),
        full_gcs=sum(s["full_gcs"] for s in samples),
        garbage_per_poll=median([run["garbage_per_poll"] for run in runs]),
        rss_kb_per_trigger=median([run["rss_kb_per_trigger"] for run in runs]),
        peak_sockets=max(run["peak_sockets"] for run in runs),
        connections_per_poll=median([s["connections_per_poll"] for s in samples]),
        failed=sum(run["failed"] for run in runs),
        ended_early=sum(run["ended_early"] for run in runs),
        library=runs[0]["library"],
        overloaded_after=max(stopped) if stopped else None,
        requests_per_interval=median([s.get("requests_per_interval", math.nan) for s in samples]),
        campaigns=runs[0]["campaigns"],
        busiest_second=max(run["busiest_second"] for run in runs),
        budget=runs[0]["budget"],
        gc_threshold=runs[0]["gc_threshold"],
    )


def run_one(client: str, stage: Stage) -> dict[str, Any]:
    """One client at ``stage`` in a fresh interpreter (:mod:`tests.benchmarks.waits`); its figures."""
    spec = json.dumps({"client": client, "stage": asdict(stage)})
    done = subprocess.run(
        [sys.executable, "-m", "tests.benchmarks.waits", "--one", spec], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{client} at N={stage.n} failed:\n{done.stderr[-3000:]}")
    run: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    cpu = ", ".join(f"{s['cpu_ms']:.2f}" for s in run["samples"])
    stopped = f" (could not keep up: stopped after {run['overloaded_after']:.0f} s)" if run["overloaded_after"] else ""
    print(f"  N={stage.n:,} {client}: CPU ms/poll {cpu}{stopped}", file=sys.stderr, flush=True)
    return run


def run_stage(stage: Stage, built_on: str | None = None) -> dict[str, Summary]:
    """Every client of ``stage``, ``stage.rounds`` times, each in a fresh interpreter; the order of
    the clients is reversed every other round, so that none is always first or last.

    :param built_on: the library the provider is built on, for a stage naming ``built_on``.
    """
    clients: list[str] = []
    for client in stage.clients:
        if client == "built_on":
            if built_on is None:
                raise ValueError("a stage naming built_on needs an earlier stage that ran the provider")
            client = built_on
        clients.append(client)
    runs: dict[str, list[dict[str, Any]]] = {client: [] for client in clients}
    for round_number in range(stage.rounds):
        for client in clients if round_number % 2 == 0 else clients[::-1]:
            runs[client].append(run_one(client, stage))
    return {client: summarize(client_runs) for client, client_runs in runs.items()}


def run_stages(
    stages: list[Stage] | None = None, report: Callable[[dict[str, Summary]], object] = lambda _: None
) -> list[dict[str, Summary]]:
    """Every stage in turn (``QUICK_STAGES`` when ``BENCH_QUICK=1``), ``report`` called after each."""
    if stages is None:
        stages = QUICK_STAGES if os.environ.get("BENCH_QUICK") == "1" else STAGES
    results: list[dict[str, Summary]] = []
    built_on = None
    for stage in stages:
        summaries = run_stage(stage, built_on)
        if "provider" in summaries:
            built_on = summaries["provider"].library
        report(summaries)
        results.append(summaries)
    return results


def ratio(top: Summary, bottom: Summary) -> tuple[float, float, float]:
    """``top``'s median CPU per poll over ``bottom``'s, and the lowest and highest ratio of two
    windows measured at the same place of the same round."""
    pairs = [a / b for a, b in zip(top.cpu_ms, bottom.cpu_ms, strict=False)]
    return top.cpu_median / bottom.cpu_median, min(pairs), max(pairs)


HEADERS = [
    "N",
    "client",
    "CPU ms/poll (median; range)",
    "vs floor",
    "CPU (one core = 100%)",
    "polls/s (of asked)",
    "lateness p50 / p99 ms",
    "longest GC pause ms (full collections)",
    "cyclic garbage objects/poll",
    "RSS KB/wait",
    "peak open sockets",
    "new connections/poll",
    "API requests/interval (campaigns)",
    "busiest second, requests (budget)",
    "failed polls",
]


def _number(value: float, spec: str) -> str:
    return "-" if math.isnan(value) else format(value, spec)


def rows(summaries: dict[str, Summary]) -> list[list[str]]:
    floor = summaries.get("raw")
    out = []
    for s in summaries.values():
        label = CLIENTS[s.client] + (f", on {s.library}" if s.client == "provider" else "")
        if s.gc_threshold != DEFAULT_GC_THRESHOLD:
            label += f", young-collection threshold {s.gc_threshold:,}"
        notes = [f"{s.failed:,}"]
        if s.ended_early:
            notes.append(f"{s.ended_early} waits ended")
        if s.overloaded_after is not None:
            notes.append(f"**could not keep up**: stopped after {s.overloaded_after:.0f} s, figures over the whole run")
        out.append(
            [
                f"{s.n:,}",
                label,
                f"{s.cpu_median:.2f}; {min(s.cpu_ms):.2f}-{max(s.cpu_ms):.2f}",
                f"{s.cpu_median / floor.cpu_median:.2f}x" if floor else "",
                f"{100 * s.core_share:.0f}%",
                f"{s.polls_per_second:,.0f} (of {s.n / s.interval:,.0f})",
                f"{_number(s.p50_ms, '.1f')} / {_number(s.p99_ms, '.1f')}",
                f"{s.longest_gc_ms:.0f} ({s.full_gcs})",
                _number(s.garbage_per_poll, ".1f"),
                _number(s.rss_kb_per_trigger, ".1f"),
                f"{s.peak_sockets:,}" if s.peak_sockets >= 0 else "-",
                _number(s.connections_per_poll, ".2f"),
                f"{_number(s.requests_per_interval, ',.0f')} ({s.campaigns:,})",
                f"{_number(s.busiest_second, ',.0f')}" + (f" ({s.budget:g})" if s.budget else ""),
                "; ".join(notes),
            ]
        )
    return out


def ratio_rows(summaries: dict[str, Summary]) -> list[list[str]]:
    """The CPU-per-poll ratios the goals are about, and a few more for reading them."""
    pairs = [("provider", "raw"), ("provider", "httpx"), ("provider", "aiohttp"), ("httpx", "raw"), ("aiohttp", "raw")]
    pairs.append(("per_poll", "provider"))
    out = []
    for top, bottom in pairs:
        if top in summaries and bottom in summaries:
            value, low, high = ratio(summaries[top], summaries[bottom])
            out.append([f"{CLIENTS[top]} ÷ {CLIENTS[bottom]}", f"{value:.2f}x", f"{low:.2f}-{high:.2f}"])
    return out


RATIO_HEADERS = ["CPU per poll, ratio of the medians", "ratio", "range over same-round pairs"]
SCALE_HEADERS = ["goal (issue 15)", "measured", "met"]


def met(ok: bool) -> str:
    """A goal's verdict, as the goals tables print it."""
    return "yes" if ok else "**no**"


def one_core_goals(s: Summary, how: str) -> list[list[str]]:
    """Issue 15's goals of N waits on one core, beside one stage's figures for the provider."""
    asked = s.n / s.interval
    return [
        [
            f"N = {s.n:,} at {s.interval:g} s, {how}: every poll served",
            f"{s.polls_per_second:,.0f} of {asked:,.0f} polls/s; {s.failed} failed",
            met(s.polls_per_second >= 0.97 * asked and s.failed == 0 and s.overloaded_after is None),
        ],
        ["...p99 poll lateness under 100 ms", f"{s.p99_ms:.0f} ms (p50 {s.p50_ms:.1f} ms)", met(s.p99_ms < 100)],
        ["...under 60% of one core", f"{100 * s.core_share:.0f}%", met(s.core_share < 0.6)],
        [
            "...under 20 KB per trigger",
            f"{s.rss_kb_per_trigger:.1f} KB RSS; {s.peak_sockets} sockets at most",
            met(s.rss_kb_per_trigger < 20),
        ],
    ]


def scale_goals(results: list[dict[str, Summary]]) -> list[list[str]]:
    """The goals of issue 15 beside the figures: N = 10,000 on one core (one GET per wait, and with
    batch polling), coalescing, the budget."""
    out: list[list[str]] = []
    if len(results) <= BATCH_STAGE:
        return out
    top, batch = results[SCALE_STAGES[-1]]["provider"], results[BATCH_STAGE]["provider"]
    out += one_core_goals(top, "one GET per wait") + one_core_goals(batch, "batch polling")
    on = results[SHARED_STAGE]["provider"]
    off = results[SHARED_STAGE].get("provider_solo")
    without = f"{off.requests_per_interval:,.0f} measured" if off else f"{on.n:,}: one per wait"
    out.append(
        [
            f"{on.n:,} waits on {on.campaigns:,} campaigns: one request per campaign per interval",
            f"{on.requests_per_interval:,.0f} requests/interval coalesced (without: {without}); "
            f"{on.polls_per_second:,.0f} of {on.n / on.interval:,.0f} polls/s served",
            met(on.requests_per_interval <= 1.05 * on.campaigns and on.polls_per_second >= 0.97 * on.n / on.interval),
        ]
    )
    budget = results[BUDGET_STAGE]["provider"]
    out.append(
        [
            f"budget {budget.budget:g}/s: the simulator never sees more in a second (after the first)",
            f"busiest second {budget.busiest_second:.0f} requests; {budget.failed} failed polls",
            met(budget.busiest_second <= (budget.budget or 0) * 1.02 and budget.failed == 0),
        ]
    )
    out.append(
        [
            f"batch polling, N = {batch.n:,}: whether it pays (not a goal: a measure)",
            f"{batch.requests_per_interval:,.0f} requests/interval (one GET each: {top.requests_per_interval:,.0f}); "
            f"CPU {batch.cpu_median:.2f} ms/poll (one GET each: {top.cpu_median:.2f}); "
            f"{batch.polls_per_second:,.0f} of {batch.n / batch.interval:,.0f} polls/s; p99 {batch.p99_ms:.0f} ms; "
            f"{batch.failed} failed",
            "pays" if batch.cpu_median < top.cpu_median and batch.failed == 0 else "**does not pay**",
        ]
    )
    return out


def figures(results: list[dict[str, Summary]]) -> list[dict[str, Any]]:
    """Every summary as JSON primitives (docs/performance-figures.json, read by plot.py)."""
    return [asdict(s) | {"stage": i} for i, summaries in enumerate(results) for s in summaries.values()]


if __name__ == "__main__":
    import argparse

    from tests.benchmarks.simproc import quiet_airflow_env, table

    quiet_airflow_env()
    parser = argparse.ArgumentParser(description="The fan-out stages of make bench, or one stage of your own.")
    parser.add_argument("--n", type=int, help="one stage of N waits instead of make bench's stages")
    parser.add_argument("--clients", default=",".join(CLIENTS), help=f"comma-separated, of {', '.join(CLIENTS)}")
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--window", type=float, default=6.0, help="seconds measured")
    parser.add_argument("--settle", type=float, default=1.0, help="seconds after the waits started before measuring")
    parser.add_argument("--share", type=int, default=1, help="waits per campaign")
    parser.add_argument("--budget", type=float, default=None, help="max_requests_per_second")
    parser.add_argument("--batch", action="store_true", help="the batch_polling extra")
    parser.add_argument("--gc-threshold", type=int, default=None, help="CPython's young-generation threshold")
    args = parser.parse_args()
    chosen = None
    if args.n:
        chosen = [
            Stage(
                args.n,
                args.interval,
                tuple(args.clients.split(",")),
                args.rounds,
                1,
                args.window,
                settle=args.settle,
                share=args.share,
                budget=args.budget,
                batch=args.batch,
                gc_threshold=args.gc_threshold,
            )
        ]
    for summaries in run_stages(chosen, report=lambda s: print(table(HEADERS, rows(s)), "\n", flush=True)):
        if len(summaries) > 1:
            print(table(RATIO_HEADERS, ratio_rows(summaries)), "\n")
