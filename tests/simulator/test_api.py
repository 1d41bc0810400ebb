"""The simulated campaign endpoints: list, create, update, delete and their validation."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from airflow_provider_sigmamind.simulator import SigmaMindSimulator
from tests.simulator.helpers import FakeClock

GOOD_CSV = b"Phone Number,Customer Name,Order ID\r\n+14155552671,Michael,12345\r\n+14155552672,Ann,12346\r\n"


def create(sim: SigmaMindSimulator, csv: bytes | None = GOOD_CSV, **fields: str) -> requests.Response:
    """POST a multipart create with sensible defaults; ``fields`` override or (value "") drop them."""
    form = {"campaignName": "Spring Outreach", "sipPhoneNumber": "+14155550100", "agentId": "agent_1"}
    form.update(fields)
    form = {name: value for name, value in form.items() if value != ""}
    files = {"file": ("contacts.csv", csv, "text/csv")} if csv is not None else {"note": (None, "no file")}
    return requests.post(
        f"{sim.url}/v1/campaigns", data=form, files=files, headers={"X-API-Key": sim.api_key}, timeout=5
    )


def call(sim: SigmaMindSimulator, method: str, path: str, **kwargs: Any) -> requests.Response:
    """Send an authorised request to the simulator."""
    return requests.request(method, f"{sim.url}{path}", headers={"X-API-Key": sim.api_key}, timeout=5, **kwargs)


# -- list -----------------------------------------------------------------------------------------


def test_list_paginates_zero_based(sigmamind_simulator: SigmaMindSimulator) -> None:
    for number in range(25):
        sigmamind_simulator.add_campaign(f"camp_{number:02d}")
    first = call(sigmamind_simulator, "GET", "/v1/campaigns").json()
    assert [c["campaignId"] for c in first["data"]] == [f"camp_{n:02d}" for n in range(10)]
    assert {k: v for k, v in first.items() if k != "data"} == {
        "page": 0,
        "size": 10,
        "totalCount": 25,
        "totalPages": 3,
        "hasNext": True,
        "hasPrevious": False,
    }
    last = call(sigmamind_simulator, "GET", "/v1/campaigns", params={"page": 2, "size": 10}).json()
    assert [c["campaignId"] for c in last["data"]] == [f"camp_{n:02d}" for n in range(20, 25)]
    assert (last["hasNext"], last["hasPrevious"]) == (False, True)
    beyond = call(sigmamind_simulator, "GET", "/v1/campaigns", params={"page": 9}).json()
    assert beyond["data"] == []


def test_list_filters_on_status(sigmamind_simulator: SigmaMindSimulator) -> None:
    sigmamind_simulator.add_campaign("camp_L")
    sigmamind_simulator.add_campaign("camp_P", status="paused")
    sigmamind_simulator.add_campaign("camp_S", live_after=60)
    body = call(sigmamind_simulator, "GET", "/v1/campaigns", params={"status": "scheduled", "size": 50}).json()
    assert [c["campaignId"] for c in body["data"]] == ["camp_S"]
    assert (body["totalCount"], body["totalPages"]) == (1, 1)


@pytest.mark.parametrize("params", [{"status": "archived"}, {"page": "-1"}, {"page": "x"}, {"size": "0"}, {"size": ""}])
def test_list_rejects_bad_parameters(sigmamind_simulator: SigmaMindSimulator, params: dict[str, str]) -> None:
    response = call(sigmamind_simulator, "GET", "/v1/campaigns", params=params)
    assert response.status_code == 400
    assert response.json()["error"] == "Bad Request"


# -- create ---------------------------------------------------------------------------------------


def test_create_starts_live_then_completes(sigmamind_simulator_factory, clock: FakeClock) -> None:
    sim = sigmamind_simulator_factory(clock=clock, live_duration=30)
    response = create(sim, concurrentCalls="3", variables='{"campaign": "spring"}')
    assert response.status_code == 201
    body = response.json()
    assert body["campaignId"].startswith("camp_")
    assert (body["campaignName"], body["campaignStatus"], body["concurrentCalls"]) == ("Spring Outreach", "live", 3)
    assert (body["scheduled"], body["scheduledDate"], body["errors"]) == (False, None, [])
    assert body["agent"]["agentId"] == "agent_1"
    assert body["phoneNumber"]["sipPhoneNumber"] == "+14155550100"
    assert call(sim, "GET", f"/v1/campaigns/{body['campaignId']}").json() == body
    clock.advance(30)
    assert sim.campaign(body["campaignId"])["campaignStatus"] == "completed"


def test_create_reports_csv_row_errors(sigmamind_simulator: SigmaMindSimulator) -> None:
    csv = (
        b"\xef\xbb\xbfPhone Number,Customer Name,OrderID\n"
        b"+14155552671,Michael,1\n"
        b"+1234,Ann,2\n"
        b"+14155552673,,3\n"
        b"\n"
        b"not-a-number,Bob\n"
    )
    response = create(sigmamind_simulator, csv=csv)
    assert response.status_code == 201
    assert response.json()["errors"] == [
        "Row 2: invalid phone number '+1234'",
        "Row 3: missing required variable 'customer_name'",
        "Row 4: invalid phone number 'not-a-number'",
        "Row 4: missing required variable 'order_id'",
    ]


@pytest.mark.parametrize(
    ("local_date", "expected_utc"),
    [("2031-07-01", "2031-07-01T16:30:00.000Z"), ("2031-01-15", "2031-01-15T17:30:00.000Z")],
)
def test_create_scheduled_in_los_angeles(
    sigmamind_simulator_factory, clock: FakeClock, local_date: str, expected_utc: str
) -> None:
    sim = sigmamind_simulator_factory(clock=clock, live_duration=10)
    response = create(
        sim,
        isScheduled="true",
        scheduledDate=local_date,
        scheduledTime="09:30:00",
        scheduledTimezone="America/Los_Angeles",
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["campaignStatus"], body["scheduled"], body["scheduledDate"]) == ("scheduled", True, expected_utc)
    launch = datetime.strptime(expected_utc, "%Y-%m-%dT%H:%M:%S.%f%z")
    clock.advance((launch - datetime.now(UTC)).total_seconds() + 1)
    assert sim.campaign(body["campaignId"])["campaignStatus"] == "live"
    clock.advance(10)
    assert sim.campaign(body["campaignId"])["campaignStatus"] == "completed"


@pytest.mark.parametrize(
    ("csv", "fields", "message"),
    [
        (None, {}, "file"),
        (GOOD_CSV, {"sipPhoneNumber": ""}, "sipPhoneNumber"),
        (GOOD_CSV, {"sipPhoneNumber": "4155550100"}, "sipPhoneNumber"),
        (GOOD_CSV, {"sipPhoneNumber": "+0155550100"}, "sipPhoneNumber"),
        (GOOD_CSV, {"agentId": ""}, "agentId"),
        (GOOD_CSV, {"agentId": "a" * 65}, "agentId"),
        (GOOD_CSV, {"campaignName": "n" * 129}, "campaignName"),
        (GOOD_CSV, {"concurrentCalls": "0"}, "concurrentCalls"),
        (GOOD_CSV, {"concurrentCalls": "many"}, "concurrentCalls"),
        (GOOD_CSV, {"isScheduled": "maybe"}, "isScheduled"),
        (GOOD_CSV, {"isScheduled": "true", "scheduledDate": "2031-01-01"}, "required when scheduled"),
        (
            GOOD_CSV,
            {
                "isScheduled": "true",
                "scheduledDate": "2031-02-30",
                "scheduledTime": "09:00:00",
                "scheduledTimezone": "UTC",
            },
            "real date",
        ),
        (
            GOOD_CSV,
            {"isScheduled": "true", "scheduledDate": "2031-01-01", "scheduledTime": "9:00", "scheduledTimezone": "UTC"},
            "scheduledTime",
        ),
        (
            GOOD_CSV,
            {
                "isScheduled": "true",
                "scheduledDate": "2031-01-01",
                "scheduledTime": "09:00:00",
                "scheduledTimezone": "Mars/Olympus_Mons",
            },
            "IANA",
        ),
        (GOOD_CSV, {"variables": "[1, 2]"}, "variables"),
        (GOOD_CSV, {"variables": "{not json"}, "variables"),
        (b"Name,Order\nAnn,1\n", {}, "phone"),
        (b"", {}, "header row"),
    ],
)
def test_create_rejects_invalid_fields(
    sigmamind_simulator: SigmaMindSimulator, csv: bytes | None, fields: dict[str, str], message: str
) -> None:
    response = create(sigmamind_simulator, csv=csv, **fields)
    assert response.status_code == 400
    assert message in response.json()["message"]
    assert call(sigmamind_simulator, "GET", "/v1/campaigns").json()["totalCount"] == 0


def test_create_needs_multipart(sigmamind_simulator: SigmaMindSimulator) -> None:
    response = call(sigmamind_simulator, "POST", "/v1/campaigns", json={"campaignName": "x"})
    assert response.status_code == 400
    assert "multipart/form-data" in response.json()["message"]


def test_create_duplicate_name_is_409(sigmamind_simulator: SigmaMindSimulator) -> None:
    assert create(sigmamind_simulator).status_code == 201
    duplicate = create(sigmamind_simulator)
    assert duplicate.status_code == 409
    assert duplicate.json()["error"] == "Conflict"


# -- update and delete ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field", "value"),
    [
        ({"campaignName": "Renamed"}, "campaignName", "Renamed"),
        ({"concurrentCalls": 9}, "concurrentCalls", 9),
        ({"agentId": "agent_2"}, "agent", {"name": "Simulated Agent", "agentId": "agent_2", "status": "Live"}),
    ],
)
def test_patch_changes_only_the_sent_field(
    sigmamind_simulator: SigmaMindSimulator, change: dict[str, Any], field: str, value: object
) -> None:
    before = sigmamind_simulator.add_campaign("camp_A", name="Original")
    response = call(sigmamind_simulator, "PATCH", "/v1/campaigns/camp_A", json=change)
    assert response.status_code == 200
    after = response.json()
    assert after[field] == value
    assert after[field] != before[field]
    assert {k: v for k, v in after.items() if k != field} == {k: v for k, v in before.items() if k != field}


def test_patch_reschedules_a_campaign(sigmamind_simulator_factory, clock: FakeClock) -> None:
    sim = sigmamind_simulator_factory(clock=clock)
    sim.add_campaign("camp_A")
    schedule = {
        "isScheduled": True,
        "scheduledDate": "2032-03-01",
        "scheduledTime": "12:00:00",
        "scheduledTimezone": "Europe/Paris",
    }
    body = call(sim, "PATCH", "/v1/campaigns/camp_A", json=schedule).json()
    assert (body["campaignStatus"], body["scheduled"], body["scheduledDate"]) == (
        "scheduled",
        True,
        "2032-03-01T11:00:00.000Z",
    )
    body = call(sim, "PATCH", "/v1/campaigns/camp_A", json={"isScheduled": False}).json()
    assert (body["campaignStatus"], body["scheduled"], body["scheduledDate"]) == ("live", False, None)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"campaignStatus": "paused"}, 400),
        ({"concurrentCalls": "9"}, 400),
        ({"concurrentCalls": True}, 400),
        ({"sipPhoneNumber": "+1"}, 400),
        ({"dynamicVariables": [1]}, 400),
        ({"isScheduled": True}, 400),
        ({"scheduledTimezone": "Nowhere"}, 400),
        ([1, 2], 400),
        ({"campaignName": "Taken"}, 409),
    ],
)
def test_patch_rejects_and_changes_nothing(sigmamind_simulator: SigmaMindSimulator, body: object, status: int) -> None:
    sigmamind_simulator.add_campaign("camp_B", name="Taken")
    before = sigmamind_simulator.add_campaign("camp_A", name="Original")
    response = call(sigmamind_simulator, "PATCH", "/v1/campaigns/camp_A", json=body)
    assert response.status_code == status
    assert sigmamind_simulator.campaign("camp_A") == before


def test_patch_unknown_campaign_is_404(sigmamind_simulator: SigmaMindSimulator) -> None:
    response = call(sigmamind_simulator, "PATCH", "/v1/campaigns/nope", json={"campaignName": "x"})
    assert response.status_code == 404


def test_delete_then_gone(sigmamind_simulator: SigmaMindSimulator) -> None:
    sigmamind_simulator.add_campaign("camp_A")
    deleted = call(sigmamind_simulator, "DELETE", "/v1/campaigns/camp_A")
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert call(sigmamind_simulator, "GET", "/v1/campaigns/camp_A").status_code == 404
    assert call(sigmamind_simulator, "DELETE", "/v1/campaigns/camp_A").status_code == 404


def test_unsupported_method_is_405(sigmamind_simulator: SigmaMindSimulator) -> None:
    sigmamind_simulator.add_campaign("camp_A")
    assert call(sigmamind_simulator, "PUT", "/v1/campaigns/camp_A", json={}).status_code == 405
    assert call(sigmamind_simulator, "DELETE", "/v1/campaigns").status_code == 405
