"""Run every benchmark and print the tables for docs/performance.md (``make bench``, about 20 minutes).

``BENCH_QUICK=1 make bench`` runs every measure tiny (well under a minute): a smoke test of the
benchmark code for CI, whose figures mean nothing. Not part of ``make test``: the figures depend on
the machine and on what else runs on it, so they are printed, never asserted. Every figure is CPU
time of the measured process, not wall time, so that other work on a shared machine moves it less.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
from typing import TYPE_CHECKING

from tests.benchmarks.simproc import quiet_airflow_env

if TYPE_CHECKING:
    from tests.benchmarks.bench_fanout import Summary

quiet_airflow_env()  # before anything imports Airflow

#: The fan-out figures of the last full run, for tests/benchmarks/plot.py.
FIGURES = "docs/performance-figures.json"
GOAL_HEADERS = ["goal (issue 9)", "measured (median; range)", "met"]


def goals(fanout: list[dict[str, Summary]], sync: dict[str, list[float]]) -> list[list[str]]:
    """The goals of issue 9 beside the figures of this run."""
    from tests.benchmarks.bench_fanout import LATENESS_STAGE, RATIO_STAGE, TUNED_LATENESS_STAGE, met, ratio
    from tests.benchmarks.bench_sync import speed

    cpu, late, tuned = fanout[RATIO_STAGE], fanout[LATENESS_STAGE], fanout[TUNED_LATENESS_STAGE]["provider"]
    provider = cpu["provider"]
    library = provider.library
    floor, floor_low, floor_high = ratio(provider, cpu["raw"])
    over, over_low, over_high = ratio(provider, cpu[library])
    p99 = late["provider"].p99_ms
    bare = late[library]
    bare_p99 = "could not keep up" if bare.overloaded_after is not None else f"{bare.p99_ms:.0f} ms"
    fast, fast_low, fast_high = speed(sync)
    return [
        [
            f"async CPU per poll, N = {provider.n:,} at {provider.interval:g} s: provider at most 2x the raw floor",
            f"{floor:.2f}x; {floor_low:.2f}-{floor_high:.2f} "
            f"({provider.cpu_median:.2f} vs {cpu['raw'].cpu_median:.2f} ms)",
            met(floor <= 2.0),
        ],
        [
            f"...and within 1.2x of the bare library it is built on ({library})",
            f"{over:.2f}x; {over_low:.2f}-{over_high:.2f} "
            f"({provider.cpu_median:.2f} vs {cpu[library].cpu_median:.2f} ms)",
            met(over <= 1.2),
        ],
        [
            f"p99 poll lateness at N = {late['provider'].n:,}: under 50 ms",
            f"{p99:.0f} ms (p50 {late['provider'].p50_ms:.1f} ms; {late['provider'].full_gcs} full collection(s), "
            f"young-collection threshold {late['provider'].gc_threshold:,}); bare {library}: {bare_p99}",
            met(p99 < 50),
        ],
        [
            f"...with the young-collection threshold at {tuned.gc_threshold:,} (`airflow_local_settings.py`)",
            f"{tuned.p99_ms:.0f} ms (p50 {tuned.p50_ms:.1f} ms; {tuned.full_gcs} full collection(s))",
            met(tuned.p99_ms < 50),
        ],
        [
            "sync `get_campaign` at least 0.95x raw `requests` (by CPU per call)",
            f"{fast:.2f}x; {fast_low:.2f}-{fast_high:.2f}",
            met(fast >= 0.95),
        ],
    ]


def main() -> None:
    from tests.benchmarks import bench_fanout, bench_import, bench_sync
    from tests.benchmarks.simproc import machine, table

    try:
        import aiohttp  # noqa: F401
    except ImportError:
        sys.exit("make bench needs aiohttp: .venv/bin/uv pip install --python .venv/bin/python aiohttp")
    quick = os.environ.get("BENCH_QUICK") == "1"
    started = time.monotonic()
    command = "BENCH_QUICK=1 make bench" if quick else "make bench"
    print("## Machine\n")
    print("\n".join(f"- {key}: {value}" for key, value in machine().items()))
    print(f"\nCommand: `{command}` (`{shlex.quote(sys.executable)} -m tests.benchmarks.bench_all`)\n", flush=True)
    if quick:
        print("**Quick mode: every measure tiny, to check the code runs; the figures mean nothing.**\n")

    print("## DAG-parse cost\n")
    print(table(bench_import.HEADERS, bench_import.rows(bench_import.main())), "\n", flush=True)

    print("## Sync path\n")
    sync = bench_sync.main()
    print(table(bench_sync.HEADERS, bench_sync.rows(sync)), "\n", flush=True)

    print("## Fan-out\n")
    fanout = bench_fanout.run_stages(
        report=lambda summaries: print(table(bench_fanout.HEADERS, bench_fanout.rows(summaries)), "\n", flush=True)
    )
    ratios = bench_fanout.ratio_rows(fanout[bench_fanout.RATIO_STAGE])
    print(table(bench_fanout.RATIO_HEADERS, ratios), "\n")

    print("## Against the goals\n")
    print(table(GOAL_HEADERS, goals(fanout, sync)), "\n")
    print(table(bench_fanout.SCALE_HEADERS, bench_fanout.scale_goals(fanout)), "\n")
    if not quick:  # the figures plot.py draws docs/img/fanout.svg from
        with open(FIGURES, "w") as out:
            json.dump({"machine": machine(), "summaries": bench_fanout.figures(fanout)}, out, indent=1)
        from tests.benchmarks import plot

        print(f"(figures written to {FIGURES}; plot redrawn: {plot.main()})")
    print(f"(all benchmarks: {time.monotonic() - started:.0f} s wall, {time.process_time():.1f} s CPU of this process)")


if __name__ == "__main__":
    main()
