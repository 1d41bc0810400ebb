"""The simulated calls: a live campaign dials its contacts over time; ``/v1/calls`` serves them."""

from __future__ import annotations

import tracemalloc
from collections import Counter
from typing import Any

import pytest
import requests

from airflow_provider_sigmamind.simulator import Fault, SigmaMindSimulator
from airflow_provider_sigmamind.simulator.calls import CALL_STATUSES, CallMix, Outcome
from tests.simulator.helpers import FakeClock
from tests.simulator.test_api import call, create

CSV = b"Phone Number,Customer Name\r\n" + b"".join(b"+1415555%04d,Name %d\r\n" % (n, n) for n in range(7))
VOICEMAIL = CallMix(generation="newer", outcomes=(Outcome("ended", 1, {"voicemail": 1}, (60, 60)),))


def calls(sim: SigmaMindSimulator, **params: Any) -> dict[str, Any]:
    response = call(sim, "GET", "/v1/calls", params={"size": 100, **params})
    assert response.status_code == 200, response.text
    return response.json()


def test_a_created_campaign_dials_its_contacts_at_most_concurrent_calls_at_once(sigmamind_simulator_factory):
    clock = FakeClock()
    sim = sigmamind_simulator_factory(clock=clock, live_duration=8.0)
    created = create(sim, csv=CSV, concurrentCalls="2").json()

    seen: list[Counter[str]] = []
    for _ in range(9):  # 7 contacts on 2 lines: 4 rounds of 2 s
        statuses = Counter(c["status"] for c in sim.calls_of(created["campaignId"]))
        seen.append(statuses)
        assert statuses["in-progress"] <= 2
        clock.advance(1.0)
    dialled = [sum(counter.values()) for counter in seen]
    assert dialled == sorted(dialled)  # calls appear over time, never vanish
    assert dialled[0] == 2
    assert dialled[-1] == 7
    assert sim.campaign(created["campaignId"])["campaignStatus"] == "completed"
    final = sim.calls_of(created["campaignId"])
    assert all(c["status"] != "in-progress" for c in final)
    assert [str(c["phoneNumber"]).lstrip("+") for c in final] == [f"1415555{n:04d}" for n in range(7)]
    assert [(c.get("variables") or c.get("dynamicVariables")) for c in final] == [
        {"customer_name": f"Name {n}"} for n in range(7)
    ]
    assert {c["campaign"]["campaignId"] for c in final} == {created["campaignId"]}


def test_a_scheduled_campaign_dials_nothing_until_it_is_live(sigmamind_simulator_factory):
    clock = FakeClock()
    sim = sigmamind_simulator_factory(clock=clock)
    campaign = sim.add_campaign(live_after=10, complete_after=20, calls=4, concurrent_calls=4)
    assert sim.calls_of(campaign["campaignId"]) == []
    clock.advance(10)
    assert [c["status"] for c in sim.calls_of(campaign["campaignId"])] == ["in-progress"] * 4
    in_progress = sim.calls_of(campaign["campaignId"])[0]
    assert (in_progress["endTime"], in_progress["duration"], in_progress["terminationReason"]) == (None, None, None)
    clock.advance(10)
    assert "in-progress" not in {c["status"] for c in sim.calls_of(campaign["campaignId"])}


def test_the_mix_decides_outcomes_reasons_durations_and_generation(sigmamind_simulator):
    sim = sigmamind_simulator
    newer = sim.add_campaign(status="completed", calls=30, call_mix=VOICEMAIL)["campaignId"]
    older = sim.add_campaign(status="completed", calls=30, call_mix=CallMix(generation="older"))["campaignId"]

    for c in sim.calls_of(newer):
        assert (c["status"], c["terminationReason"], c["duration"]) == ("ended", "voicemail", 60)
        assert "dynamicVariables" in c
        assert "variables" not in c
        assert c["recordingUrl"].endswith(f"/{c['callId']}.wav")
        assert c["endTime"] > c["startTime"]
    olds = sim.calls_of(older)
    assert {c["status"] for c in olds} <= {"completed", "failed"}
    assert all("variables" in c and "recordingUrl" not in c for c in olds)


def test_the_default_mix_serves_the_documented_drift(sigmamind_simulator):
    sim = sigmamind_simulator
    ids = [sim.add_campaign(status="completed", calls=300)["campaignId"] for _ in range(12)]
    served = [c for cid in ids for c in sim.calls_of(cid)]

    statuses = Counter(c["status"] for c in served)
    assert {"ended", "not-connected", "error", "completed", "failed"} <= set(statuses)  # both enums
    reasons = Counter(c["terminationReason"] for c in served)
    assert reasons["user_ended_call"]
    assert reasons["inactive"]
    assert {type(c["phoneNumber"]) for c in served} == {str, int}
    assert {c["callId"][:5] for c in served} == {"call_", "call-"}
    assert {"variables", "dynamicVariables"} <= {key for c in served for key in c}


def test_the_same_seed_serves_the_same_calls(sigmamind_simulator_factory):
    first, second = sigmamind_simulator_factory(), sigmamind_simulator_factory()
    for sim in (first, second):
        sim.add_campaign("camp_Same", status="completed", calls=50)
    strip = lambda calls: [{k: v for k, v in c.items() if not k.endswith(("Time", "At"))} for c in calls]  # noqa: E731
    assert strip(first.calls_of("camp_Same")) == strip(second.calls_of("camp_Same"))
    other = sigmamind_simulator_factory(call_mix=CallMix(seed=7))
    other.add_campaign("camp_Same", status="completed", calls=50)
    assert strip(other.calls_of("camp_Same")) != strip(first.calls_of("camp_Same"))


def test_the_list_pages_like_the_campaign_list_with_total_counts(sigmamind_simulator):
    sim = sigmamind_simulator
    first = sim.add_campaign(status="completed", calls=15)["campaignId"]
    second = sim.add_campaign(status="completed", calls=10)["campaignId"]

    page = calls(sim, page=1, size=10)
    assert {k: v for k, v in page.items() if k != "data"} == {
        "page": 1,
        "size": 10,
        "totalCounts": 25,
        "totalPages": 3,
        "hasNext": True,
        "hasPrevious": True,
    }
    listed = [c for n in range(3) for c in calls(sim, page=n, size=10)["data"]]
    assert [c["campaign"]["campaignId"] for c in listed] == [first] * 15 + [second] * 10
    assert listed == sim.calls_of(first) + sim.calls_of(second)
    assert calls(sim, page=3, size=10)["data"] == []


def test_the_status_filter_takes_both_generations(sigmamind_simulator):
    sim = sigmamind_simulator
    cid = sim.add_campaign(status="completed", calls=200)["campaignId"]
    everything = Counter(c["status"] for c in sim.calls_of(cid))
    for status in CALL_STATUSES:
        body = calls(sim, status=status, size=500)
        assert body["totalCounts"] == everything[status]
        assert {c["status"] for c in body["data"]} <= {status}
    assert call(sim, "GET", "/v1/calls", params={"status": "done"}).status_code == 400


def test_a_silent_page_cap_and_a_partial_envelope_apply_to_calls_too(sigmamind_simulator_factory):
    sim = sigmamind_simulator_factory(max_page_size=7, list_envelope=("totalCount",))
    sim.add_campaign(status="completed", calls=20)
    body = calls(sim, size=100)
    assert len(body["data"]) == 7
    assert set(body) == {"data", "totalCounts"}


def test_one_call_is_served_by_id(sigmamind_simulator):
    sim = sigmamind_simulator
    cid = sim.add_campaign(status="completed", calls=3)["campaignId"]
    listed = sim.calls_of(cid)[2]
    response = call(sim, "GET", f"/v1/calls/{listed['callId']}")
    assert response.status_code == 200
    assert response.json() == listed
    missing = call(sim, "GET", f"/v1/calls/{listed['callId'][:-1]}9")
    assert missing.status_code == 404
    assert missing.json()["message"].startswith("Call ")
    assert call(sim, "GET", "/v1/calls/call_nothing").status_code == 404
    assert call(sim, "DELETE", f"/v1/calls/{listed['callId']}").status_code == 405


def test_a_call_not_yet_dialled_does_not_exist(sigmamind_simulator_factory):
    clock = FakeClock()
    sim = sigmamind_simulator_factory(clock=clock)
    cid = sim.add_campaign(calls=4, concurrent_calls=1)["campaignId"]  # live, 0.2 s per call
    (first,) = sim.calls_of(cid)
    later = first["callId"][:-1] + "3"
    assert call(sim, "GET", f"/v1/calls/{later}").status_code == 404
    clock.advance(0.7)
    assert call(sim, "GET", f"/v1/calls/{later}").json()["status"] == "in-progress"


def test_calls_need_the_key_and_take_faults(sigmamind_simulator):
    sim = sigmamind_simulator
    sim.add_campaign(status="completed", calls=2)
    assert requests.get(f"{sim.url}/v1/calls", timeout=5).status_code == 401
    sim.inject(Fault.server_error(503))
    assert call(sim, "GET", "/v1/calls").status_code == 503
    assert call(sim, "GET", "/v1/calls").status_code == 200
    assert [r.status for r in sim.requests] == [401, 503, 200]


def test_deleting_a_campaign_or_resetting_forgets_its_calls(sigmamind_simulator):
    sim = sigmamind_simulator
    cid = sim.add_campaign(status="completed", calls=5)["campaignId"]
    assert call(sim, "DELETE", f"/v1/campaigns/{cid}").status_code == 204
    assert calls(sim)["totalCounts"] == 0
    sim.add_campaign(status="completed", calls=5)
    sim.reset()
    assert calls(sim)["totalCounts"] == 0


def test_a_million_calls_cost_next_to_nothing(sigmamind_simulator):
    sim = sigmamind_simulator
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        sim.add_campaign(status="completed", calls=1_000_000)
        grown = sum(stat.size_diff for stat in tracemalloc.take_snapshot().compare_to(before, "filename"))
    finally:
        tracemalloc.stop()
    assert grown < 200_000  # bytes: nothing is stored per call
    tracemalloc.start()
    try:
        body = calls(sim, page=9_999, size=100)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000, peak  # bytes, client and server: the last page is built alone, not the 999,900 before
    assert body["totalCounts"] == 1_000_000
    assert body["data"][-1]["callId"].endswith("000999999")


def test_the_admin_api_adds_a_campaign_with_calls_and_a_mix(sigmamind_simulator):
    sim = sigmamind_simulator
    mix = {"generation": "newer", "outcomes": [{"status": "error", "weight": 1, "reasons": {"failed": 1}}]}
    body = {"status": "completed", "calls": 6, "concurrent_calls": 3, "call_mix": mix}
    added = requests.post(f"{sim.url}/_sim/campaigns", json=body, timeout=5).json()
    assert added["concurrentCalls"] == 3
    assert {(c["status"], c["terminationReason"]) for c in sim.calls_of(added["campaignId"])} == {("error", "failed")}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"generation": "newest"}, "generation must be"),
        ({"odd_reasons": 2}, "shares between 0 and 1"),
        ({"outcomes": ()}, "outcomes must not be empty"),
        ({"outcomes": (Outcome("ended", 0, {"busy": 1}),)}, "at least one weight must be > 0"),
    ],
)
def test_a_mix_that_cannot_be_is_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        CallMix(**kwargs)
    with pytest.raises(ValueError, match="0 <= low <= high"):
        Outcome("ended", 1, {"busy": 1}, (5, 1))


@pytest.mark.parametrize(
    ("kwargs", "message"), [({"calls": -1}, "calls must be"), ({"concurrent_calls": 0}, "concurrent")]
)
def test_impossible_counts_add_no_campaign(sigmamind_simulator, kwargs, message):
    with pytest.raises(ValueError, match=message):
        sigmamind_simulator.add_campaign("camp_Bad", **kwargs)
    with pytest.raises(KeyError):
        sigmamind_simulator.campaign("camp_Bad")
