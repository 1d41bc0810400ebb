"""The provider as users meet it in the Airflow UI, driven in a real headless Chromium.

One Airflow API server (UI included) with the provider installed, ``[core] test_connection =
Enabled``, an isolated AIRFLOW_HOME and SQLite, on 127.0.0.1; the SigmaMind simulator answers the
Test button and the example DAG. Run with ``make ui-check``; ``make screenshots`` also refreshes
the pictures in ``docs/img``.
"""

from __future__ import annotations

import json
import re
import secrets
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from airflow_provider_sigmamind.simulator import SigmaMindSimulator
from tests.ui.airflow_stack import AirflowUI

pytestmark = pytest.mark.browser

CONN_ID = "sigmamind_default"
DAG_ID = "example_sigmamind_campaign"
#: What Airflow <= 3.3.2 answers when its own UI sends ``port: 0`` for a connection without a port.
AIRFLOW_PORT_BUG = "The host or port to test differs from the stored connection"
TEST_ROUTE = "**/api/v2/connections/test"


class Stack:
    """The running API server and simulator, and the key the simulator accepts."""

    def __init__(self, ui: AirflowUI, simulator: SigmaMindSimulator) -> None:
        self.ui = ui
        self.simulator = simulator
        self.api_key = simulator.api_key


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Start the simulator and the API server; afterwards stop both and check nothing is left."""
    home = tmp_path_factory.mktemp("airflow-ui-home")
    api_key = "ui-" + secrets.token_hex(12)
    with SigmaMindSimulator(api_key=api_key) as simulator:
        ui = AirflowUI(home=home)
        ui.start()
        try:
            assert ui.processes(), "the API server is not running"
            yield Stack(ui, simulator)
        finally:
            ui.stop()
        left = [f"{process.pid} {' '.join(process.cmdline())[:80]}" for process in ui.processes()]
        assert not left, f"processes left running: {left}"
        leaked = [
            path
            for path in home.rglob("*")
            if path.is_file() and ".db" not in path.name and api_key in path.read_text(errors="replace")
        ]
        assert not leaked, f"the API key was written to {leaked}"


def _without_port_zero(route: Any) -> None:
    """Send the UI's test request without the ``port: 0`` it makes up for a connection without a port.

    What apache/airflow#73298 does server-side: a ``0`` port means the stored one.
    """
    body = json.loads(route.request.post_data or "{}")
    if body.get("port") == 0:
        del body["port"]
    route.continue_(post_data=json.dumps(body))


def press_test(page: Any, conn_id: str) -> dict[str, Any]:
    """Press the Test Connection button on ``conn_id``'s row and return the API server's answer.

    On an Airflow whose UI trips over its own port check (apache/airflow#73298, in 3.3.2), assert
    that it is exactly that bug, then press again with the fix applied to the request, so what is
    tested is the provider's ``test_connection``.
    """
    button = page.get_by_role("row").filter(has_text=conn_id).get_by_role("button", name="Test Connection")
    with page.expect_response(TEST_ROUTE) as answer:
        button.click()
    response = answer.value
    if response.status == 400 and AIRFLOW_PORT_BUG in response.text():
        assert json.loads(response.request.post_data)["port"] == 0
        page.get_by_text("Bad Request").first.wait_for()  # what a user of this Airflow sees
        warnings.warn(
            "Airflow's Test button sends port 0 for a connection without a port and is refused "
            "(apache/airflow#73298); pressed again with the port left out",
            UserWarning,
            stacklevel=2,
        )
        page.route(TEST_ROUTE, _without_port_zero)
        try:
            with page.expect_response(TEST_ROUTE) as answer:
                button.click()
        finally:
            page.unroute(TEST_ROUTE)
        response = answer.value
    assert response.status == 200, response.text()
    return response.json()


def toast(page: Any, text: str | re.Pattern[str]) -> Any:
    """The notification (toast) that says ``text``."""
    return page.locator('[data-scope="toast"][data-part="root"]').filter(has_text=text)


def visible_text(page: Any) -> str:
    """Everything on the page a user could read, and the markup behind it."""
    return page.locator("body").inner_text() + page.content()


def test_connection_form_add_save_and_test(stack: Stack, page: Any, screenshot_dir: Path, playwright_api: Any) -> None:
    expect = playwright_api.expect
    simulator, url = stack.simulator, stack.ui.url
    page.goto(f"{url}/connections")
    page.get_by_role("button", name="Add Connection").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Connection ID").fill(CONN_ID)
    dialog.get_by_role("combobox").fill("SigmaMind")
    page.get_by_role("option", name="SigmaMind", exact=True).click()

    # The provider's form: relabelled standard fields, hidden unused ones, typed extra fields.
    api_key = dialog.get_by_label("API Key")
    expect(api_key).to_have_attribute("type", "password")
    base_url = dialog.get_by_label("Base URL")
    expect(base_url).to_have_attribute("placeholder", "https://api.sigmamind.ai")
    for hidden in ("login", "schema", "port"):
        expect(dialog.locator(f'[name="{hidden}"]')).to_have_count(0)
    for label in ("Login", "Schema", "Port", "Host", "Password"):
        expect(dialog.get_by_text(label, exact=True)).to_have_count(0)
    base_url.fill(simulator.url)
    api_key.fill(stack.api_key)
    assert stack.api_key not in dialog.inner_text()
    dialog.screenshot(path=str(screenshot_dir / "connection-form.png"), animations="disabled")

    dialog.get_by_role("button", name="Extra Fields", exact=True).click()  # the accordion shows one section
    expect(base_url).to_be_hidden()
    timeout = dialog.get_by_label("Timeout (seconds per request)")
    max_retries = dialog.get_by_label("Max retries")
    expect(timeout).to_have_value("30")
    expect(max_retries).to_have_value("5")
    expect(dialog.get_by_text("Seconds allowed for one request, from connecting to the last byte.")).to_be_visible()
    expect(dialog.get_by_text("Retries after the first attempt on timeouts, 429 and 5xx answers.")).to_be_visible()
    dialog.screenshot(path=str(screenshot_dir / "connection-form-extra.png"), animations="disabled")
    dialog.get_by_role("button", name="Save").click()
    expect(page.get_by_role("row").filter(has_text=CONN_ID)).to_be_visible()

    stored = page.request.get(f"{url}/api/v2/connections/{CONN_ID}").json()
    assert stored["conn_type"] == "sigmamind"
    assert stored["host"] == simulator.url
    assert stored["password"] == "***"
    assert (stored["login"], stored["port"], stored["schema"]) == (None, None, None)
    assert json.loads(stored["extra"]) == {"timeout": 30, "max_retries": 5}

    # Test, with the right key: the API server runs the hook's test_connection against the simulator.
    before = len(simulator.requests)
    result = press_test(page, CONN_ID)
    assert result == {
        "status": True,
        "message": f"Connected to SigmaMind at {simulator.url}; the API key was accepted.",
    }
    success = toast(page, "the API key was accepted.")
    expect(success.get_by_text("Test Connection Successful")).to_be_visible()
    checks = simulator.requests[before:]
    assert [(r.method, r.raw_path, r.status) for r in checks] == [("GET", "/v1/campaigns?page=0&size=1", 200)]
    success.screenshot(path=str(screenshot_dir / "connection-test.png"), animations="disabled")

    # Test, with a wrong key: a clear failure that shows neither key.
    wrong_key = "wrong-" + secrets.token_hex(10)
    page.get_by_role("row").filter(has_text=CONN_ID).get_by_role("button", name="Edit Connection").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("API Key").fill(wrong_key)
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    result = press_test(page, CONN_ID)
    assert result["status"] is False
    assert result["message"].startswith(
        "SigmaMind rejected the API key for GET /v1/campaigns; check the connection's API Key field "
        "(HTTP 401 on GET /v1/campaigns)"
    )
    failure = toast(page, re.compile(r"SigmaMind rejected the API key .*\(HTTP 401 on GET /v1/campaigns\)"))
    expect(failure.get_by_text("Test Connection Failed")).to_be_visible()
    assert [r.status for r in simulator.requests[-1:]] == [401]
    shown = visible_text(page)
    assert wrong_key not in shown
    assert stack.api_key not in shown
    failure.screenshot(path=str(screenshot_dir / "connection-test-failed.png"), animations="disabled")
    server_log = stack.ui.log()
    assert wrong_key not in server_log
    assert stack.api_key not in server_log


def test_example_dag_run_and_the_sensor_log(stack: Stack, page: Any, screenshot_dir: Path, playwright_api: Any) -> None:
    expect = playwright_api.expect
    simulator, url = stack.simulator, stack.ui.url
    # Scheduled for the fetch and two pokes, then live: the journey the sensor's log tells.
    launch = (datetime.now(UTC) + timedelta(seconds=10)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    campaign = simulator.add_campaign(
        name="Q4 Outreach", script=["scheduled", "scheduled", "scheduled", "live"], overrides={"scheduledDate": launch}
    )
    cid = campaign["campaignId"]
    conn = {"conn_type": "sigmamind", "host": simulator.url, "password": stack.api_key}
    run = stack.ui.dags_test(DAG_ID, {"campaign_id": cid}, env={"AIRFLOW_CONN_SIGMAMIND_DEFAULT": json.dumps(conn)})
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    assert [(r.method, r.status) for r in simulator.requests_for(cid)] == [("GET", 200)] * 4  # a fetch, three pokes

    runs = page.request.get(f"{url}/api/v2/dags/{DAG_ID}/dagRuns?order_by=-start_date&limit=1").json()["dag_runs"]
    assert runs[0]["state"] == "success"
    assert runs[0]["conf"] == {"campaign_id": cid}
    run_path = f"{url}/dags/{DAG_ID}/runs/{quote(runs[0]['dag_run_id'], safe='')}"

    page.goto(run_path)
    page.get_by_role("button", name=re.compile(r"^Show Graph")).click()
    for task_id in ("fetch_campaign", "wait_until_live", "report"):
        expect(page.get_by_text(task_id, exact=True).first).to_be_visible()
    expect(page.get_by_text("success", exact=True)).to_have_count(3)
    page.screenshot(path=str(screenshot_dir / "dag-run.png"), animations="disabled")

    page.get_by_role("button", name=re.compile(r"^Show Grid")).click()  # the log gets the page's width
    page.goto(f"{run_path}/tasks/wait_until_live")
    expect(page.get_by_text(f"Campaign '{cid}' is now 'scheduled'").first).to_be_visible()
    expect(page.get_by_text(re.compile(rf"Campaign '{cid}' is now 'live' after \d+\.\ds of waiting"))).to_be_visible()
    expect(page.get_by_text(f"Done: campaign 'Q4 Outreach' [{cid}] status=live")).to_be_visible()
    assert stack.api_key not in visible_text(page)
    page.get_by_test_id("virtualized-list").screenshot(
        path=str(screenshot_dir / "sensor-log.png"), animations="disabled"
    )


def test_providers_page_links_the_documentation(stack: Stack, page: Any, playwright_api: Any) -> None:
    expect = playwright_api.expect
    urls = dict(
        entry.split(", ", 1) for entry in metadata.metadata("airflow-provider-sigmamind").get_all("Project-URL")
    )
    page.goto(f"{stack.ui.url}/providers")
    row = page.get_by_role("row").filter(has_text="airflow-provider-sigmamind")
    expect(row).to_be_visible()
    expect(row.get_by_role("link").first).to_have_attribute("href", urls["Documentation"])
