"""The browser check: its own command (``make ui-check``), skipped in the ordinary test run.

Tests marked ``browser`` run only when selected with ``-m browser``; otherwise they are reported
as skipped with the command to run them. Chromium is Debian's package (``apt-get install
chromium``; ``make ui-check`` installs it) driven by Playwright's Python package through
``executable_path``: nothing here downloads a browser.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("UI_CHECK_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: Set by ``make ui-check``: a missing browser is then a failure, not a skip.
REQUIRED = os.environ.get("UI_CHECK_REQUIRED") == "1"
#: How long an action or an assertion may wait for the page (Playwright's defaults: 30 s and 5 s).
EXPECT_TIMEOUT_MS = 30_000
HOW_TO_RUN = "the browser check runs on its own: `make ui-check` (or `pytest -m browser tests/ui`)"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip browser tests unless ``-m`` selected them."""
    if "browser" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason=HOW_TO_RUN)
    for item in items:
        if item.get_closest_marker("browser"):
            item.add_marker(skip)


def _unavailable(reason: str) -> None:
    if REQUIRED:
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's Chromium, or a skip (a failure under ``make ui-check``) saying how to get it."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        _unavailable(f"{CHROMIUM} not found: `make ui-check` installs Debian's chromium (apt-get install chromium)")
    return CHROMIUM


@pytest.fixture(scope="session")
def playwright_api() -> Any:
    """Playwright's sync API module, or a skip saying how to install it."""
    try:
        from playwright import sync_api
    except ImportError:
        _unavailable("Playwright's Python package is missing: `make setup` installs it (extra `ui`)")
    # The same patience for assertions as for actions: 5 s (Playwright's default for expect) is
    # less than the UI can take to re-render on a busy two-core machine that also runs Airflow.
    sync_api.expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    return sync_api


@pytest.fixture(scope="module")
def browser_context(chromium_path: str, playwright_api: Any) -> Iterator[Any]:
    """A headless Chromium with a fresh profile; closed, and its driver stopped, afterwards."""
    profile = tempfile.mkdtemp(prefix="sigmamind-ui-chromium-")
    playwright = playwright_api.sync_playwright().start()
    try:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=chromium_path,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1440, "height": 720},
        )
        try:
            context.set_default_timeout(EXPECT_TIMEOUT_MS)
            yield context
        finally:
            context.close()
    finally:
        playwright.stop()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def page(browser_context: Any) -> Iterator[Any]:
    """A new tab, closed after the test."""
    tab = browser_context.new_page()
    yield tab
    tab.close()


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go: ``$UI_SCREENSHOT_DIR`` (``make screenshots`` sets docs/img), else a temp dir."""
    chosen = os.environ.get("UI_SCREENSHOT_DIR")
    path = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path
