"""The reliability suite's figures: printed at the end of every run that includes tests/reliability.

Tests report through ``request.node.user_properties``:

- ``("matrix", (scenario, mode))``: one fault-matrix cell;
- ``("generated", n)``: ``n`` cases a property test generated and checked;
- ``("memory_mb", x)``: traced memory growth of the 50 MB scenario;
- ``("dag_test", mode)``: one fault scenario run through ``dag.test()`` (real Airflow);
- ``("family", name)``: one generated case of a hostile-answer family (test_hostile_answers.py).

``make reliability`` prints them after the test list; docs/reliability.md quotes them.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import pytest

_cells: dict[str, Counter[str]] = defaultdict(Counter)
_scenarios: set[str] = set()
_generated: Counter[str] = Counter()
_memory: dict[str, float] = {}
_dag_tests: Counter[str] = Counter()
_families: dict[str, Counter[str]] = defaultdict(Counter)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Count the matrix cells and generated cases of each finished test."""
    if report.when != "call" and not (report.when == "setup" and report.outcome != "passed"):
        return
    properties: dict[str, Any] = {}
    for name, value in report.user_properties:
        properties[name] = value
    if "matrix" in properties:
        scenario, mode = properties["matrix"]
        _scenarios.add(scenario)
        _cells[mode]["run"] += 1
        _cells[mode][report.outcome] += 1
        if "memory_mb" in properties:
            _memory[mode] = properties["memory_mb"]
    if "dag_test" in properties:
        _dag_tests["run"] += 1
        _dag_tests[report.outcome] += 1
    if "family" in properties:
        _families[properties["family"]]["run"] += 1
        _families[properties["family"]][report.outcome] += 1
    if "generated" in properties and report.passed:
        _generated[report.nodeid.split("::")[-1].split("[")[0]] += properties["generated"]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the figures docs/reliability.md reports."""
    if not (_cells or _generated or _families):
        return
    write = terminalreporter.write_line
    terminalreporter.section("reliability figures")
    if _cells:
        write(f"fault matrix: {len(_scenarios)} scenarios")
        for mode, counts in _cells.items():
            write(f"  {mode:<11} {counts['passed']:>3} passed of {counts['run']:>3} run")
    if _dag_tests:
        write(f"dag.test() cross-checks: {_dag_tests['passed']} passed of {_dag_tests['run']} run")
    if _memory:
        write("50 MB body, traced memory growth: " + ", ".join(f"{m} {v} MB" for m, v in _memory.items()))
    if _families:
        write(f"hostile answers, second round: {len(_families)} families")
        for name, counts in _families.items():
            write(f"  {name:<27} {counts['passed']:>4} passed of {counts['run']:>4} run")
    if _generated:
        write(f"property tests: {sum(_generated.values())} generated cases")
        for name, count in sorted(_generated.items()):
            write(f"  {name}: {count}")
