"""SigmaMindHook.list_calls / iter_campaign_calls / get_call against the simulator over HTTP."""

from __future__ import annotations

import json

import pytest

from airflow_provider_sigmamind.exceptions import (
    SigmaMindInvalidInputError,
    SigmaMindNotFoundError,
    SigmaMindResponseError,
)
from airflow_provider_sigmamind.hooks.sigmamind import SigmaMindHook
from airflow_provider_sigmamind.models import Call, CallStatus
from airflow_provider_sigmamind.simulator import Fault
from tests.helpers import CANARY_API_KEY, FAST, connection_json


@pytest.fixture
def hook(sigmamind_conn):
    with SigmaMindHook(sigmamind_conn_id=sigmamind_conn, retry_policy=FAST, max_retries=2) as hook:
        yield hook


def page(items, **envelope):
    return json.dumps({"data": items, **envelope})


def call_json(index: int, campaign: str = "camp_A") -> dict:
    return {"callId": f"call_{index:04d}", "status": "ended", "campaign": {"campaignId": campaign}}


def test_list_calls_reads_every_page_lazily_and_counts_its_progress(hook, simulator):
    cid = simulator.add_campaign(status="completed", calls=25)["campaignId"]

    listing = hook.list_calls(page_size=10)
    assert simulator.requests == []  # nothing is fetched before iterating
    first = next(listing)
    assert (len(simulator.requests), listing.pages, listing.listed) == (1, 1, 1)
    rest = list(listing)

    calls = [first, *rest]
    assert all(isinstance(c, Call) for c in calls)
    assert [c.call_id for c in calls] == [c["callId"] for c in simulator.calls_of(cid)]
    assert {c.campaign_id for c in calls} == {cid}
    assert (listing.pages, listing.listed, listing.kept) == (3, 25, 25)
    assert [(r.path, r.query) for r in simulator.requests] == [
        ("/v1/calls", {"page": str(n), "size": "10"}) for n in range(3)
    ]


@pytest.mark.parametrize("status", ["ended", "completed", CallStatus.NOT_CONNECTED, "In_Progress"])
def test_list_calls_filters_on_a_status_of_either_generation(hook, simulator, status):
    simulator.add_campaign(status="completed", calls=200)
    wanted = CallStatus.parse(status)

    calls = list(hook.list_calls(status, page_size=50))

    assert {c.status for c in calls} <= {wanted}
    assert {r.query["status"] for r in simulator.requests} == {wanted.value}


@pytest.mark.parametrize(
    ("status", "page_size", "message"),
    [
        ("dialling", 10, "status: 'dialling' is not a call status"),
        (["ended"], 10, "status must be one call status or None, got list"),
        (None, 0, "page_size must be a whole number of at least 1, got 0"),
        (None, True, "page_size must be a whole number of at least 1, got True"),
    ],
)
def test_list_calls_refuses_bad_arguments_at_once(hook, simulator, status, page_size, message):
    with pytest.raises(SigmaMindInvalidInputError, match=message):
        hook.list_calls(status, page_size=page_size)
    assert simulator.requests == []


def test_the_calls_of_one_campaign_are_found_by_reading_the_whole_list(hook, simulator):
    simulator.add_campaign(status="completed", calls=7)
    wanted = simulator.add_campaign(status="completed", calls=9)["campaignId"]
    simulator.add_campaign(status="completed", calls=5)

    listing = hook.iter_campaign_calls(wanted, page_size=4)
    calls = list(listing)

    assert [c.call_id for c in calls] == [c["callId"] for c in simulator.calls_of(wanted)]
    assert {c.campaign_id for c in calls} == {wanted}
    assert (listing.listed, listing.kept, listing.pages) == (21, 9, 6)


def test_the_calls_of_a_campaign_with_none_is_empty_but_every_page_is_read(hook, simulator):
    simulator.add_campaign(status="completed", calls=12)
    listing = hook.iter_campaign_calls("camp_NoCalls0000", page_size=5)
    assert list(listing) == []
    assert listing.pages == 3


@pytest.mark.parametrize("campaign_id", ["", " camp", "a\nb", None])
def test_the_campaign_id_is_checked_before_anything_is_sent(hook, simulator, campaign_id):
    with pytest.raises(SigmaMindInvalidInputError, match="campaign_id"):
        hook.iter_campaign_calls(campaign_id)
    assert simulator.requests == []


def test_get_call_returns_a_typed_call(hook, simulator):
    cid = simulator.add_campaign(status="completed", calls=3)["campaignId"]
    served = simulator.calls_of(cid)[1]

    call = hook.get_call(served["callId"])

    assert isinstance(call, Call)
    assert (call.call_id, call.campaign_id, call.raw_status) == (served["callId"], cid, served["status"])
    assert call.payload == served


def test_get_call_of_an_unknown_call_is_not_found(hook, simulator):
    with pytest.raises(SigmaMindNotFoundError, match="GET /v1/calls/call_missing"):
        hook.get_call("call_missing")


@pytest.mark.parametrize(("call_id", "message"), [("", "call_id is blank"), ("..", "relative path"), (7, "string")])
def test_a_call_id_is_one_path_segment(hook, simulator, call_id, message):
    with pytest.raises(SigmaMindInvalidInputError, match=message):
        hook.get_call(call_id)
    assert simulator.requests == []


def test_a_call_id_is_percent_encoded(hook, simulator):
    with pytest.raises(SigmaMindNotFoundError):
        hook.get_call("call/../campaigns")
    (request,) = simulator.requests
    assert request.raw_path == "/v1/calls/call%2F..%2Fcampaigns"


def test_an_answer_about_another_call_is_a_response_error(hook, simulator):
    simulator.inject(Fault.body(json.dumps(call_json(1))))
    with pytest.raises(SigmaMindResponseError, match="answered with 'call_0001'"):
        hook.get_call("call_0002")


def test_call_pages_are_retried_like_any_read(hook, simulator):
    simulator.add_campaign(status="completed", calls=3)
    simulator.inject(Fault.server_error(503))
    assert len(list(hook.list_calls())) == 3
    assert [r.status for r in simulator.requests] == [503, 200]


@pytest.mark.parametrize("envelope", [("totalCounts",), (), ("hasPrevious",), ("page", "size")])
def test_a_silent_page_cap_loses_no_call(sigmamind_simulator_factory, monkeypatch, envelope):
    sim = sigmamind_simulator_factory(api_key=CANARY_API_KEY, max_page_size=7, list_envelope=envelope)
    monkeypatch.setenv("AIRFLOW_CONN_SIGMAMIND_DEFAULT", connection_json(sim.url, max_retries=0))
    cid = sim.add_campaign(status="completed", calls=23)["campaignId"]
    with SigmaMindHook() as hook:
        ids = [c.call_id for c in hook.iter_campaign_calls(cid, page_size=100)]
    assert ids == [c["callId"] for c in sim.calls_of(cid)]


def test_a_server_that_ignores_the_page_number_stops_the_listing(hook, simulator, capsys):
    simulator.inject(Fault.body(page([call_json(0), call_json(1)], hasNext=True)), times=None)
    assert [c.call_id for c in hook.list_calls(page_size=2)] == ["call_0000", "call_0001"]
    assert len(simulator.requests) == 2
    assert "Page 1 of the call list repeated calls already listed; stopped there" in capsys.readouterr().out


def test_call_counts_that_do_not_add_up_are_reported(hook, simulator, capsys):
    simulator.inject(Fault.body(page([call_json(0), call_json(1)], totalCounts=5)))
    simulator.inject(Fault.body(page([], totalCounts=5)))
    assert len(list(hook.list_calls(page_size=2))) == 2
    assert "Listed 2 calls where SigmaMind reported 5 in all (totalCounts)" in capsys.readouterr().out


def test_a_call_page_that_is_not_a_list_is_a_response_error(hook, simulator):
    simulator.inject(Fault.body(page([{"status": "ended"}])))
    with pytest.raises(SigmaMindResponseError, match=r"call list \(page 0\) is not usable: item 0 of the list"):
        list(hook.list_calls())
