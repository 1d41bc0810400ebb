"""DAG-parse cost: import time of the provider's modules on top of ``import airflow.sdk``.

Each measurement is a fresh interpreter that first imports ``airflow.sdk`` (which every DAG file
does), then times the import of the provider modules a DAG file uses. Bytecode is compiled first
into a private cache (``PYTHONPYCACHEPREFIX``, kept in the virtualenv for the next run), as
``pip install`` does, so the figure is the import, not the compilation. The figure is CPU time
(``time.process_time()``), so that other work on the machine does not inflate it; the median of
several runs is reported, beside the median cost of ``import airflow.sdk`` itself
(``BENCH_QUICK=1``: one run, not compiled first).

Run all benchmarks with ``make bench``; this one alone with ``python -m tests.benchmarks.bench_import``.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys

RUNS = 3
QUICK_RUNS = 1

#: What each line of the table imports, on top of ``airflow.sdk``.
TARGETS = {
    "operators + sensors (what a DAG file imports)": [
        "airflow_provider_sigmamind.operators.campaign",
        "airflow_provider_sigmamind.sensors.campaign",
    ],
    "hook only": ["airflow_provider_sigmamind.hooks.sigmamind"],
    "trigger (imported by the triggerer, not at parse time)": ["airflow_provider_sigmamind.triggers.campaign"],
}

PROBE = """
import json, sys, time
t0 = time.process_time()
import airflow.sdk
t1 = time.process_time()
for name in sys.argv[1:]:
    __import__(name)
t2 = time.process_time()
print(json.dumps({"sdk": t1 - t0, "provider": t2 - t1}))
"""


def measure(modules: list[str], env: dict[str, str]) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, *modules], env=env, capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> dict[str, dict[str, float]]:
    quick = os.environ.get("BENCH_QUICK") == "1"
    runs_each = QUICK_RUNS if quick else RUNS
    results = {}
    env = {**os.environ, "PYTHONPYCACHEPREFIX": os.path.join(sys.prefix, "bench-pycache")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    every_module = [name for modules in TARGETS.values() for name in modules]
    if not quick:  # (quick figures mean nothing: they may include compiling)
        measure(every_module, env)  # writes (or refreshes) the bytecode
    for label, modules in TARGETS.items():
        runs = [measure(modules, env) for _ in range(runs_each)]
        results[label] = {
            "provider_ms": 1000 * statistics.median(r["provider"] for r in runs),
            "sdk_ms": 1000 * statistics.median(r["sdk"] for r in runs),
        }
    return results


HEADERS = ["imported on top of `import airflow.sdk`", "CPU ms (median of runs)", "`import airflow.sdk` alone, CPU ms"]


def rows(results: dict[str, dict[str, float]]) -> list[list[str]]:
    return [[label, f"{r['provider_ms']:.1f}", f"{r['sdk_ms']:.0f}"] for label, r in results.items()]


if __name__ == "__main__":
    from tests.benchmarks.simproc import quiet_airflow_env

    quiet_airflow_env()
    from tests.benchmarks.simproc import table

    print(table(HEADERS, rows(main())))
