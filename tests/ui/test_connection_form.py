"""The provider as users meet it in the Airflow UI, driven in a real headless Chromium.

An Airflow deployment (API server with the UI, dag-processor, scheduler with the LocalExecutor) with
the provider installed, ``[core] test_connection = Enabled``, an isolated AIRFLOW_HOME and SQLite, on
127.0.0.1; the SigmaMind simulator answers the Test button and the example DAG, which the scheduler
runs as it would in production. Run with ``make ui-check``; ``make screenshots`` also refreshes the
pictures in ``docs/img``.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from airflow_provider_sigmamind.simulator import SigmaMindSimulator
from tests.ui.airflow_stack import AirflowStack

pytestmark = pytest.mark.browser

CONN_ID = "sigmamind_default"
DAG_ID = "example_sigmamind_campaign"
#: What Airflow <= 3.3.2 answers when its own UI sends ``port: 0`` for a connection without a port.
AIRFLOW_PORT_BUG = "The host or port to test differs from the stored connection"
TEST_ROUTE = "**/api/v2/connections/test"
#: The example DAG's sensor pokes every 30 s; its run here waits one interval.
RUN_TIMEOUT = 180.0


class Stack:
    """The running deployment and simulator, the key the simulator accepts, and the example DAG's run
    (triggered at the start, so that it runs while the connection form is checked)."""

    def __init__(self, ui: AirflowStack, simulator: SigmaMindSimulator, campaign_id: str, run_id: str) -> None:
        self.ui = ui
        self.simulator = simulator
        self.api_key = simulator.api_key
        self.campaign_id = campaign_id
        self.run_id = run_id


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Start the simulator and the deployment; afterwards stop both and check nothing is left."""
    home = tmp_path_factory.mktemp("airflow-ui-home")
    api_key = "ui-" + secrets.token_hex(12)
    with SigmaMindSimulator(api_key=api_key) as simulator:
        # The scheduler's tasks (not the API server, whose Test button checks the connection stored
        # through the form) read sigmamind_default from the environment.
        conn = {"conn_type": "sigmamind", "host": simulator.url, "password": api_key}
        ui = AirflowStack(
            home=home,
            components=("dag-processor", "scheduler"),
            component_env={"scheduler": {"AIRFLOW_CONN_SIGMAMIND_DEFAULT": json.dumps(conn)}},
        )
        ui.start()
        try:
            assert ui.processes(), "the deployment is not running"
            ui.wait_for_dags([DAG_ID])
            # Scheduled for the fetch and the first poke, then live: the journey the sensor's log tells.
            launch = (datetime.now(UTC) + timedelta(seconds=60)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
            campaign = simulator.add_campaign(
                name="Q4 Outreach", script=["scheduled", "scheduled", "live"], overrides={"scheduledDate": launch}
            )
            run_id = ui.trigger(DAG_ID, {"campaign_id": campaign["campaignId"]})  # what the Trigger button sends
            yield Stack(ui, simulator, campaign["campaignId"], run_id)
        finally:
            problems = ui.stop()
        assert not problems, problems
        leaked = [
            path
            for path in home.rglob("*")
            if path.is_file() and ".db" not in path.name and api_key in path.read_text(errors="replace")
        ]
        assert not leaked, f"the API key was written to {leaked}"


def press_test(page: Any, conn_id: str) -> dict[str, Any]:
    """Press the Test Connection button on ``conn_id``'s row once and return the API server's answer.

    Airflow's UI (3.3.2 and earlier) sends ``port: 0`` for a connection without a port, which its own
    API server then refuses (apache/airflow#73298; ``test_airflow_refuses_the_port_its_ui_sends``).
    The request leaves the page without it, as the upstream fix does server-side, so what is tested
    is the provider's ``test_connection``, with one press and one request.
    """
    sent: list[dict[str, Any]] = []

    def without_port_zero(route: Any) -> None:
        body = json.loads(route.request.post_data or "{}")
        sent.append(dict(body))
        if body.get("port") == 0:
            del body["port"]
        route.continue_(post_data=json.dumps(body))

    button = page.get_by_role("row").filter(has_text=conn_id).get_by_role("button", name="Test Connection")
    page.route(TEST_ROUTE, without_port_zero)
    try:
        with page.expect_response(TEST_ROUTE) as answer:
            button.click()
    finally:
        page.unroute(TEST_ROUTE)
    response = answer.value
    assert [body["connection_id"] for body in sent] == [conn_id]
    assert response.status == 200, response.text()
    return response.json()


def held_toast(page: Any, text: str | re.Pattern[str]) -> Any:
    """The notification (toast) that says ``text``, held open with the mouse over it.

    The UI removes a success toast 2 s after showing it (5 s for an error) unless the pointer is over
    the toasts, which pauses them; on a busy machine the checks and the screenshot can take longer.
    Move the mouse away (``release``) when done.
    """
    found = page.locator('[data-scope="toast"][data-part="root"]').filter(has_text=text)
    found.hover()
    return found


def release(page: Any) -> None:
    """Move the mouse off the toasts, which lets them expire."""
    page.mouse.move(0, 0)


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
    # The empty rate-budget field is stored as null, which the hook reads as "no limit".
    assert json.loads(stored["extra"]) == {"timeout": 30, "max_retries": 5, "max_requests_per_second": None}

    # Test, with the right key: the API server runs the hook's test_connection against the simulator.
    before = len(simulator.requests)
    result = press_test(page, CONN_ID)
    assert result == {
        "status": True,
        "message": f"Connected to SigmaMind at {simulator.url}; the API key was accepted.",
    }
    success = held_toast(page, "the API key was accepted.")
    expect(success.get_by_text("Test Connection Successful")).to_be_visible()
    checks = simulator.requests[before:]
    assert [(r.method, r.raw_path, r.status) for r in checks] == [("GET", "/v1/campaigns?page=0&size=1", 200)]
    success.screenshot(path=str(screenshot_dir / "connection-test.png"), animations="disabled")
    release(page)

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
    failure = held_toast(page, re.compile(r"SigmaMind rejected the API key .*\(HTTP 401 on GET /v1/campaigns\)"))
    expect(failure.get_by_text("Test Connection Failed")).to_be_visible()
    assert [r.status for r in simulator.requests[-1:]] == [401]
    shown = visible_text(page)
    assert wrong_key not in shown
    assert stack.api_key not in shown
    failure.screenshot(path=str(screenshot_dir / "connection-test-failed.png"), animations="disabled")
    release(page)
    server_log = stack.ui.log()
    assert wrong_key not in server_log
    assert stack.api_key not in server_log


def test_airflow_refuses_the_port_its_ui_sends(stack: Stack, page: Any) -> None:
    """The Airflow bug ``press_test`` works around; when this fails, Airflow has fixed it: drop the workaround."""
    if not page.request.get(f"{stack.ui.url}/api/v2/connections/{CONN_ID}").ok:  # when run on its own
        conn = {"connection_id": CONN_ID, "conn_type": "sigmamind", "host": stack.simulator.url}
        assert page.request.post(f"{stack.ui.url}/api/v2/connections", data=conn).ok
    body = {"connection_id": CONN_ID, "conn_type": "sigmamind", "host": stack.simulator.url, "port": 0}
    answer = page.request.post(f"{stack.ui.url}/api/v2/connections/test", data=body)
    assert (answer.status, AIRFLOW_PORT_BUG in answer.text()) == (400, True), answer.text()


def test_example_dag_run_and_the_sensor_log(stack: Stack, page: Any, screenshot_dir: Path, playwright_api: Any) -> None:
    expect = playwright_api.expect
    simulator, url, cid = stack.simulator, stack.ui.url, stack.campaign_id
    state = stack.ui.wait_for_runs({DAG_ID: stack.run_id}, timeout=RUN_TIMEOUT)
    assert state == {DAG_ID: "success"}, stack.ui.task_states(DAG_ID, stack.run_id)
    assert [(r.method, r.status) for r in simulator.requests_for(cid)] == [("GET", 200)] * 3  # a fetch, two pokes

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
