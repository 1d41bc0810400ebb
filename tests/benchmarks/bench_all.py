"""Run every benchmark and print the tables for docs/performance.md (``make bench``, about 5 minutes).

Not part of ``make test``: the figures depend on the machine and on what else runs on it, so they
are printed, never asserted.
"""

from __future__ import annotations

import shlex
import sys
import time

from tests.benchmarks.simproc import quiet_airflow_env

quiet_airflow_env()  # before anything imports Airflow


def main() -> None:
    from tests.benchmarks import bench_fanout, bench_import, bench_sync
    from tests.benchmarks.simproc import machine, table

    started = time.monotonic()
    info = machine()
    print("## Machine\n")
    print("\n".join(f"- {key}: {value}" for key, value in info.items()))
    print(
        f"\nCommand: `{' '.join(shlex.quote(a) for a in ['make', 'bench'])}` "
        f"(`{shlex.quote(sys.executable)} -m tests.benchmarks.bench_all`)\n",
        flush=True,
    )

    print("## DAG-parse cost\n")
    print(table(bench_import.HEADERS, bench_import.rows(bench_import.main())), "\n", flush=True)

    print("## Sync path\n")
    print(table(bench_sync.HEADERS, bench_sync.rows(bench_sync.main())), "\n", flush=True)

    print("## Fan-out\n")
    print(table(bench_fanout.HEADERS, bench_fanout.rows(bench_fanout.main())), "\n", flush=True)
    costs = bench_fanout.client_cost()
    print(table(["creating one `httpx.AsyncClient`", "CPU ms"], [[k, f"{v:.2f}"] for k, v in costs.items()]), "\n")
    spacing = bench_fanout.spacing_cost()
    print(table(["one hook, 300 polls", "CPU ms/poll"], [[k, f"{v:.2f}"] for k, v in spacing.items()]), "\n")
    print(f"(all benchmarks: {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
