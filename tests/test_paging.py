"""The listing loop on its own, fed by a stand-in for the hook's request funnel (no HTTP)."""

from __future__ import annotations

import pytest

from airflow_provider_sigmamind import paging
from airflow_provider_sigmamind.paging import CALLS, CAMPAIGNS, RecentKeys


def pages_of(*bodies):
    """A request function that answers one body per call and records the queries."""
    sent = []

    def request(method, path, *, params):
        sent.append((method, path, dict(params)))
        return bodies[min(len(sent), len(bodies)) - 1]

    return request, sent


def calls(*numbers):
    return [{"callId": f"call_{n}", "status": "ended"} for n in numbers]


def test_recent_keys_forget_the_oldest_beyond_their_capacity():
    keys = RecentKeys(3)
    for key in "abcd":
        keys.add(key)
    assert [key in keys for key in "abcd"] == [False, True, True, True]


def test_repeats_are_recognised_within_the_window_only(monkeypatch):
    """Memory is bounded: an item that comes back after more than DEDUP_WINDOW others is listed again."""
    monkeypatch.setattr(paging, "DEDUP_WINDOW", 2)
    request, _ = pages_of(
        {"data": calls(1, 2), "hasNext": True},
        {"data": calls(2, 3), "hasNext": True},  # 2 moved along a page: within the window
        {"data": calls(4, 1), "hasNext": False},  # 1 is three items back: beyond it
    )
    assert [c.call_id for c in CALLS.listing(request, page_size=2)] == [f"call_{n}" for n in (1, 2, 3, 4, 1)]


def test_a_listing_reads_the_endpoint_it_describes():
    request, sent = pages_of({"data": [{"campaignId": "camp_1", "campaignStatus": "live"}], "totalCount": 1})
    listing = CAMPAIGNS.listing(request, status="live", page_size=5)
    assert sent == []
    assert [c.campaign_id for c in listing] == ["camp_1"]
    assert sent == [("GET", "/v1/campaigns", {"page": 0, "size": 5, "status": "live"})]
    assert (listing.pages, listing.listed, listing.kept) == (1, 1, 1)


def test_keep_filters_without_changing_what_is_read():
    request, sent = pages_of({"data": calls(1, 2, 3), "totalCounts": 3})
    listing = CALLS.listing(request, page_size=3, keep=lambda call: call.call_id != "call_2")
    assert [c.call_id for c in listing] == ["call_1", "call_3"]
    assert (listing.listed, listing.kept, len(sent)) == (3, 2, 1)


@pytest.mark.parametrize(
    ("bodies", "expected_pages"),
    [
        ([{"data": calls(1, 2)}, {"data": calls(3)}, {"data": []}], 3),  # silent and short: read on to empty
        ([{"data": calls(1, 2), "totalCounts": 3}, {"data": calls(3), "totalCounts": 3}], 2),
        ([{"data": calls(1, 2), "totalPages": 1}], 1),
        ([{"data": calls(1, 2), "hasNext": False, "totalPages": 5}], 1),
    ],
)
def test_where_the_list_ends(bodies, expected_pages):
    request, sent = pages_of(*bodies)
    list(CALLS.listing(request, page_size=2))
    assert len(sent) == expected_pages
