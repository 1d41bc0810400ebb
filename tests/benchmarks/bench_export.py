"""Export: ``ExportCampaignCallsOperator`` writing a million simulated calls, by time and peak memory.

The simulator runs in its own process (its CPU is not counted) and holds one completed campaign of
``BENCH_CALLS`` calls (default 1,000,000), generated from a seed as they are served. This process
runs the operator's ``execute`` as a worker would: every page of ``/v1/calls`` is read over HTTP,
parsed into calls, and written to a JSON Lines file (``BENCH_FORMAT``: ``jsonl``, ``csv`` or
``parquet``) under a temporary directory, then moved into place.

Two runs of the same export:

1. timed: wall and CPU time of this process (``time.process_time()``), calls per second, and the
   growth of the process's maximum resident set size (``ru_maxrss``) over what Airflow's import had
   already reached;
2. traced: the peak of Python allocations during the export (``tracemalloc``), which slows it down,
   so its time is not reported.

Not part of ``make bench`` (several minutes); run it alone with
``.venv/bin/python -m tests.benchmarks.bench_export`` (``BENCH_CALLS=100000`` for a shorter run).
"""

from __future__ import annotations

import os
import resource
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from tests.benchmarks.simproc import machine, quiet_airflow_env, simulator_process, table

CALLS = 1_000_000
PAGE_SIZE = 500


def max_rss_mb() -> float:
    """The process's maximum resident set size so far, in MB (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def export_once(campaign_id: str, target: Path, fmt: str) -> dict[str, Any]:
    from airflow_provider_sigmamind.operators.calls import ExportCampaignCallsOperator

    operator = ExportCampaignCallsOperator(
        task_id="export", campaign_id=campaign_id, path=f"file://{target}", format=fmt, page_size=PAGE_SIZE
    )
    return operator.execute({})


def main() -> dict[str, Any]:
    """Run both exports and print the figures."""
    quiet_airflow_env()
    calls = int(os.environ.get("BENCH_CALLS", CALLS))
    fmt = os.environ.get("BENCH_FORMAT", "jsonl")
    import airflow_provider_sigmamind.operators.calls  # noqa: F401  (Airflow's import, before the baseline)

    with simulator_process() as sim, tempfile.TemporaryDirectory(prefix="sigmamind-bench-export-") as folder:
        os.environ["AIRFLOW_CONN_SIGMAMIND_DEFAULT"] = sim.connection_json(timeout=120)
        campaign_id = sim.admin("POST", "/_sim/campaigns", {"status": "completed", "calls": calls})["campaignId"]
        target = Path(folder) / f"calls.{fmt}"

        rss_before = max_rss_mb()
        wall, cpu = time.perf_counter(), time.process_time()
        result = export_once(campaign_id, target, fmt)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        rss_after = max_rss_mb()
        size = target.stat().st_size
        lines = result["calls"]

        tracemalloc.start()
        try:
            export_once(campaign_id, target, fmt)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()

    assert lines == calls, (lines, calls)
    rows = [
        ["calls exported", f"{calls:,}"],
        ["format, page size", f"{fmt}, {PAGE_SIZE}"],
        ["file size", f"{size / 1e6:,.0f} MB"],
        ["wall time", f"{wall:.1f} s"],
        ["CPU time (this process)", f"{cpu:.1f} s"],
        ["calls per second (wall)", f"{calls / wall:,.0f}"],
        ["tracemalloc peak during the export", f"{peak / 1e6:.1f} MB"],
        ["max RSS before the export (Airflow imported)", f"{rss_before:.0f} MB"],
        ["max RSS after the export", f"{rss_after:.0f} MB (+{rss_after - rss_before:.0f} MB)"],
        ["median, total duration", f"{result['medianDurationSeconds']} s, {result['totalDurationSeconds']:,} s"],
    ]
    print(table(["measure", "value"], rows))
    print()
    print(table(["machine", ""], [[key, value] for key, value in machine().items()]))
    return {"wall": wall, "cpu": cpu, "peak": peak, "rss_before": rss_before, "rss_after": rss_after}


if __name__ == "__main__":
    main()
