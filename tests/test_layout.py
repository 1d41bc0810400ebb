"""The package's shape (issue 9): no module outside the simulator grows past 500 lines, so that each
stays one concern a reader can hold; the hook keeps to connection lookup, retries and verbs."""

from __future__ import annotations

from pathlib import Path

import airflow_provider_sigmamind

PACKAGE = Path(airflow_provider_sigmamind.__file__).parent


def lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def test_no_module_outside_the_simulator_is_over_500_lines():
    modules = [path for path in PACKAGE.rglob("*.py") if "simulator" not in path.relative_to(PACKAGE).parts]
    assert len(modules) > 40  # the walk found the package
    too_long = {str(path.relative_to(PACKAGE)): lines(path) for path in modules if lines(path) > 500}
    assert too_long == {}


def test_the_hook_module_is_under_500_lines():
    assert lines(PACKAGE / "hooks" / "sigmamind.py") < 500
