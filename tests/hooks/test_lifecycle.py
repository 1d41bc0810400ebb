"""SigmaMindHook.create_campaign / list_campaigns / update_campaign against the simulator over HTTP."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from airflow_provider_sigmamind.campaign_fields import FIELDS, CampaignChanges, NewCampaign
from airflow_provider_sigmamind.exceptions import (
    SigmaMindInvalidInputError,
    SigmaMindNotFoundError,
    SigmaMindRateLimitError,
    SigmaMindRejectedError,
    SigmaMindResponseError,
    SigmaMindServerError,
    SigmaMindTransportError,
)
from airflow_provider_sigmamind.hooks.sigmamind import SigmaMindHook
from airflow_provider_sigmamind.models import CampaignPage, CampaignStatus, PayloadError, parse_campaign_page
from airflow_provider_sigmamind.schedule import local_schedule
from airflow_provider_sigmamind.simulator import Fault
from airflow_provider_sigmamind.simulator.protocol import parse_multipart
from tests.helpers import CANARY_API_KEY, FAST

ROWS = [
    {"Phone Number": "+14155550101", "Customer Name": "Michael", "Order ID": "12345"},
    {"Phone Number": "+14155550102", "Customer Name": "Priya", "Order ID": "12346"},
]
LINE = {"sip_phone_number": "+14155552671", "agent_id": "agent_D5D0p7TUs66TTAEAx"}
#: A good value for every field of the table.
EVERY_FIELD = {
    "campaign_name": "Everything",
    **LINE,
    "concurrent_calls": 4,
    "scheduled": True,
    "scheduled_date": "2031-07-01",
    "scheduled_time": "08:00:00",
    "scheduled_timezone": "America/Los_Angeles",
    "variables": {"promo": "SPRING"},
    "dynamic_variables": {"promo": "SUMMER"},
}


@pytest.fixture
def hook(sigmamind_conn) -> SigmaMindHook:
    """A hook on the simulator: 2 retries, no backoff."""
    with SigmaMindHook(sigmamind_conn_id=sigmamind_conn, retry_policy=FAST, max_retries=2) as hook:
        yield hook


def form_of(request) -> dict[str, bytes]:
    return parse_multipart(request.body, request.headers["content-type"])


def posts(simulator):
    return [r for r in simulator.requests if r.method == "POST"]


# -- create ---------------------------------------------------------------------------------------


def test_create_sends_the_documented_multipart_form_and_returns_a_typed_campaign(hook, simulator):
    campaign = hook.create_campaign(
        campaign_name="Q4 Outreach",
        contacts=ROWS,
        concurrent_calls=3,
        variables={"promo": "SPRING", "discount": 10},
        **LINE,
    )

    assert campaign.campaign_id.startswith("camp_")
    assert campaign.status is CampaignStatus.LIVE
    assert campaign.name == "Q4 Outreach"
    assert campaign.concurrent_calls == 3
    assert campaign.scheduled is False
    assert campaign.scheduled_date is None
    assert campaign.errors == []
    assert campaign.payload == simulator.campaign(campaign.campaign_id)
    (request,) = simulator.requests
    assert (request.method, request.path, request.status) == ("POST", "/v1/campaigns", 201)
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    form = form_of(request)
    assert form == {
        "campaignName": b"Q4 Outreach",
        "sipPhoneNumber": b"+14155552671",
        "agentId": b"agent_D5D0p7TUs66TTAEAx",
        "concurrentCalls": b"3",
        "variables": b'{"promo": "SPRING", "discount": 10}',
        "file": b"Phone Number,Customer Name,Order ID\r\n+14155550101,Michael,12345\r\n+14155550102,Priya,12346\r\n",
    }
    assert b'filename="contacts.csv"' in request.body
    assert b"Content-Type: text/csv" in request.body


def test_create_takes_csv_text_bytes_or_a_path(hook, simulator, tmp_path):
    text = "Phone Number,Customer Name\n+14155550101,Ann\n"
    path = tmp_path / "renewals.csv"
    path.write_text(text)

    for index, contacts in enumerate([text, text.encode(), path]):
        hook.create_campaign(campaign_name=f"c{index}", contacts=contacts, **LINE)

    assert [form_of(r)["file"] for r in posts(simulator)] == [text.encode()] * 3
    assert [b'filename="renewals.csv"' in r.body for r in posts(simulator)] == [False, False, True]


def test_a_scheduled_campaign_in_a_non_utc_zone_is_stored_at_the_right_utc_instant(hook, simulator):
    campaign = hook.create_campaign(
        campaign_name="Bangalore morning",
        contacts=ROWS,
        scheduled_date="2031-01-15",
        scheduled_time="09:30:00",
        scheduled_timezone="Asia/Kolkata",
        **LINE,
    )

    assert campaign.status is CampaignStatus.SCHEDULED
    assert campaign.scheduled is True
    assert campaign.scheduled_date == datetime(2031, 1, 15, 4, 0, tzinfo=UTC)  # 09:30 at UTC+5:30
    assert simulator.campaign(campaign.campaign_id)["scheduledDate"] == "2031-01-15T04:00:00.000Z"
    form = form_of(simulator.requests[0])
    assert {name: form[name] for name in ("isScheduled", "scheduledDate", "scheduledTime", "scheduledTimezone")} == {
        "isScheduled": b"true",
        "scheduledDate": b"2031-01-15",
        "scheduledTime": b"09:30:00",
        "scheduledTimezone": b"Asia/Kolkata",
    }


def test_a_campaign_scheduled_seconds_ahead_goes_live_then_completes(sigmamind_simulator_factory, monkeypatch):
    clock = [1000.0]
    simulator = sigmamind_simulator_factory(api_key=CANARY_API_KEY, live_duration=30, clock=lambda: clock[0])
    monkeypatch.setenv(
        "AIRFLOW_CONN_SIGMAMIND_DEFAULT",
        json.dumps({"conn_type": "sigmamind", "host": simulator.url, "password": CANARY_API_KEY}),
    )
    schedule = local_schedule(datetime.now(UTC) + timedelta(seconds=10), "America/Los_Angeles")
    with SigmaMindHook(retry_policy=FAST) as hook:
        created = hook.create_campaign(campaign_name="soon", contacts=ROWS, **schedule, **LINE)
        statuses = [hook.get_campaign(created.campaign_id).status]
        for moment in (1012.0, 1050.0):
            clock[0] = moment
            statuses.append(hook.get_campaign(created.campaign_id).status)

    assert created.status is CampaignStatus.SCHEDULED
    assert statuses == [CampaignStatus.SCHEDULED, CampaignStatus.LIVE, CampaignStatus.COMPLETED]


def test_validation_lists_every_problem_and_sends_nothing(hook, simulator):
    contacts = "Phone Number,Customer Name\n+14155550101,Ann\n+1234,Bob\n+14155550101,\n"

    with pytest.raises(SigmaMindInvalidInputError) as excinfo:
        hook.create_campaign(
            campaign_name="Q4",
            sip_phone_number="+1415",
            agent_id="agent_1",
            contacts=contacts,
            scheduled_date="2020-01-01",
            scheduled_time="09:00:00",
            scheduled_timezone="Europe/Berlin",
        )

    assert excinfo.value.problems == [
        "sip_phone_number '+1415' is not an E.164 number (^\\+[1-9][0-9]{6,14}$, e.g. +14155552671)",
        "the schedule 2020-01-01 09:00:00 in Europe/Berlin (2020-01-01T08:00:00Z) is in the past",
        "Row 2: invalid phone number '+1234'",
        "Row 3: missing required variable 'customer_name'",
        "Row 3: duplicate phone number '+14155550101' (also in row 1)",
    ]
    message = str(excinfo.value)
    assert message.startswith("campaign 'Q4' was not created: 5 problems found before sending:\n  - sip_phone_number")
    assert all(f"  - {problem}" in message for problem in excinfo.value.problems)
    assert simulator.requests == []


def test_a_huge_list_of_problems_is_cut_in_the_message_but_kept_whole(hook, simulator):
    contacts = "Phone,Name\n" + "".join(f"+1{index},x\n" for index in range(150))

    with pytest.raises(SigmaMindInvalidInputError) as excinfo:
        hook.create_campaign(campaign_name="many", contacts=contacts, **LINE)

    assert len(excinfo.value.problems) == 150
    assert str(excinfo.value).endswith("\n  ... and 50 more")
    assert simulator.requests == []


def test_warn_mode_logs_the_problems_and_the_api_reports_the_rows(hook, simulator, capsys):
    contacts = "Phone Number,Customer Name\n+14155550101,Ann\n+1234,Bob\n+14155550103,\n"

    campaign = hook.create_campaign(campaign_name="warned", contacts=contacts, validate="warn", **LINE)

    api_errors = ["Row 2: invalid phone number '+1234'", "Row 3: missing required variable 'customer_name'"]
    assert campaign.errors == api_errors  # the API's own report of the same rows
    assert len(posts(simulator)) == 1
    log = capsys.readouterr().out
    assert "campaign 'warned' will be created despite 2 problems found before sending" in log
    assert all(error in log for error in api_errors)
    assert "SigmaMind reported 2 contact-list row error(s)" in log


def test_validation_off_sends_as_is(hook, simulator):
    campaign = hook.create_campaign(campaign_name="raw", contacts="Phone,Name\n+4155552671,A\n", validate="off", **LINE)
    assert campaign.errors == []  # the pattern is fine, so the API has nothing to say
    assert len(posts(simulator)) == 1


def test_the_e164_phone_check_lets_through_what_only_libphonenumber_rejects(hook, simulator):
    contacts = "Phone,Name\n+4155552671,A\n"
    with pytest.raises(SigmaMindInvalidInputError, match=r"too short for country code \+41"):
        hook.create_campaign(campaign_name="strict", contacts=contacts, **LINE)
    hook.create_campaign(campaign_name="loose", contacts=contacts, phone_check="e164", **LINE)
    assert len(posts(simulator)) == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"validate": "maybe"}, "validate must be one of error, warn, off"),
        ({"phone_check": "strict"}, "phone_check must be one of valid, e164"),
        ({"contacts": 42}, "contacts must be CSV text, bytes, a path or a list of rows"),
        ({"contacts": [{"Phone": {"nested": 1}}]}, "contacts: contact 1: the value for 'Phone' is a dict"),
        ({"variables": {"when": object()}, "validate": "off"}, "variables cannot be sent as JSON"),
    ],
)
def test_bad_arguments_are_refused_before_sending(hook, simulator, kwargs, message):
    arguments = {"campaign_name": "x", "contacts": ROWS, **LINE, **kwargs}
    with pytest.raises(SigmaMindInvalidInputError, match=message):
        hook.create_campaign(**arguments)
    assert simulator.requests == []


def test_an_unreadable_path_is_named(hook, simulator, tmp_path):
    missing = tmp_path / "nope.csv"
    with pytest.raises(SigmaMindInvalidInputError, match=r"contacts: cannot read '.*nope\.csv': No such file"):
        hook.create_campaign(campaign_name="x", contacts=missing, **LINE)


def test_a_create_that_fails_ambiguously_is_not_retried(hook, simulator):
    """The answer is lost after SigmaMind accepted the create: one POST only, an error that says
    the campaign may exist, and the way to check it; a second create of that name is refused."""
    simulator.inject(Fault.reset_mid_body())

    with pytest.raises(SigmaMindTransportError) as excinfo:
        hook.create_campaign(campaign_name="Renewals 2026-06-01", contacts=ROWS, **LINE)

    assert len(posts(simulator)) == 1  # max_retries=2, yet a single attempt
    message = str(excinfo.value)
    assert "not retried, because SigmaMind may have created campaign 'Renewals 2026-06-01' anyway" in message
    assert "list_campaigns()" in message
    assert CANARY_API_KEY not in message
    (created,) = [c for c in hook.list_campaigns() if c.name == "Renewals 2026-06-01"]  # it did exist
    with pytest.raises(SigmaMindRejectedError) as again:
        hook.create_campaign(campaign_name="Renewals 2026-06-01", contacts=ROWS, **LINE)
    assert again.value.status_code == 409
    assert "campaign names are unique per account and 'Renewals 2026-06-01' is taken" in str(again.value)
    assert [c.campaign_id for c in hook.list_campaigns()] == [created.campaign_id]


@pytest.mark.parametrize(
    ("fault", "error", "detail"),
    [
        (Fault.server_error(503), SigmaMindServerError, "SigmaMind may have created campaign 'x' anyway"),
        (Fault.drop(), SigmaMindTransportError, "SigmaMind may have created campaign 'x' anyway"),
        (Fault.malformed("html"), SigmaMindResponseError, "SigmaMind may have created campaign 'x' anyway"),
        (Fault.rate_limit(retry_after=0), SigmaMindRateLimitError, "nothing was created (rate limited)"),
    ],
)
def test_no_failed_create_is_retried(hook, simulator, fault, error, detail):
    simulator.inject(fault, times=None)

    with pytest.raises(error, match=re.escape(detail)):
        hook.create_campaign(campaign_name="x", contacts=ROWS, **LINE)

    assert len(posts(simulator)) == 1


def test_every_field_of_the_table_reaches_the_create_form(hook, simulator):
    arguments = {field.name: EVERY_FIELD[field.name] for field in NewCampaign.arguments()}

    hook.create_campaign(contacts=ROWS, **arguments)

    form = form_of(simulator.requests[0])
    assert set(form) == {field.create for field in FIELDS if field.create} | {"file"}


# -- list -----------------------------------------------------------------------------------------


def test_list_reads_every_page_lazily(hook, simulator):
    ids = [simulator.add_campaign(name=f"c{index}")["campaignId"] for index in range(25)]

    campaigns = hook.list_campaigns(page_size=10)
    assert simulator.requests == []  # nothing is fetched before iterating
    first = next(campaigns)
    assert len(simulator.requests) == 1
    rest = list(campaigns)

    assert [c.campaign_id for c in [first, *rest]] == ids
    assert [(r.query["page"], r.query["size"]) for r in simulator.requests] == [("0", "10"), ("1", "10"), ("2", "10")]


def test_list_filters_on_status(hook, simulator):
    simulator.add_campaign(name="a", status="live")
    simulator.add_campaign(name="b", status="completed")
    simulator.add_campaign(name="c", status="live")

    live = list(hook.list_campaigns("live", page_size=1))

    assert [c.name for c in live] == ["a", "c"]
    assert {r.query["status"] for r in simulator.requests} == {"live"}
    assert list(hook.list_campaigns(CampaignStatus.PAUSED)) == []


@pytest.mark.parametrize(
    ("status", "page_size", "message"),
    [
        ("dialling", 10, "status: 'dialling' is not a campaign status"),
        (["live", "paused"], 10, "status must be one status or None, got list"),
        (None, 0, "page_size must be a whole number of at least 1, got 0"),
    ],
)
def test_list_refuses_bad_arguments_at_once(hook, simulator, status, page_size, message):
    with pytest.raises(SigmaMindInvalidInputError, match=message):
        hook.list_campaigns(status, page_size=page_size)
    assert simulator.requests == []


def page(items, **envelope):
    return json.dumps({"data": items, **envelope})


def campaign_json(index: int) -> dict:
    return {"campaignId": f"camp_{index:016d}", "campaignName": f"c{index}", "campaignStatus": "live"}


def test_list_follows_total_counts_when_has_next_is_absent(hook, simulator):
    """Another generation of the API: ``totalCounts`` and no ``hasNext``/``totalPages``."""
    simulator.inject(Fault.body(page([campaign_json(0), campaign_json(1)], page=0, size=2, totalCounts=3)))
    simulator.inject(Fault.body(page([campaign_json(2)], page=1, size=2, totalCounts=3)))

    names = [c.name for c in hook.list_campaigns(page_size=2)]

    assert names == ["c0", "c1", "c2"]
    assert len(simulator.requests) == 2


def test_list_stops_when_a_server_ignores_the_page_number(hook, simulator, capsys):
    simulator.inject(Fault.body(page([campaign_json(0), campaign_json(1)], hasNext=True)), times=None)

    names = [c.name for c in hook.list_campaigns(page_size=2)]

    assert names == ["c0", "c1"]
    assert len(simulator.requests) == 2
    assert "Page 1 of the campaign list repeated campaigns already listed; stopped there" in capsys.readouterr().out


def test_list_yields_a_campaign_that_shifts_pages_once(hook, simulator):
    simulator.inject(Fault.body(page([campaign_json(0), campaign_json(1)], hasNext=True)))
    simulator.inject(Fault.body(page([campaign_json(1), campaign_json(2)], hasNext=False)))

    assert [c.name for c in hook.list_campaigns(page_size=2)] == ["c0", "c1", "c2"]


def test_a_list_page_that_is_not_a_list_is_a_response_error(hook, simulator):
    simulator.inject(Fault.body(json.dumps({"content": []})))
    with pytest.raises(SigmaMindResponseError, match=r"campaign list \(page 0\) is not usable: the list has no 'data'"):
        list(hook.list_campaigns())


def test_list_pages_are_retried_like_any_read(hook, simulator):
    simulator.add_campaign(name="a")
    simulator.inject(Fault.server_error(503))
    assert [c.name for c in hook.list_campaigns()] == ["a"]
    assert [r.status for r in simulator.requests] == [503, 200]


@pytest.mark.parametrize(
    ("envelope", "more"),
    [
        ({"hasNext": True, "totalPages": 1}, True),  # hasNext wins
        ({"hasNext": False, "totalPages": 9}, False),
        ({"totalPages": 3}, True),
        ({"totalPages": 2}, False),
        ({"totalCount": 5}, True),
        ({"totalCounts": 4}, False),
        ({"totalCount": "many", "totalCounts": 5}, True),  # an unreadable count gives way to its twin
        ({}, True),  # a full page and no counts: there may be more
    ],
)
def test_page_envelopes(envelope, more):
    parsed = parse_campaign_page({"data": [campaign_json(0), campaign_json(1)], **envelope})
    assert isinstance(parsed, CampaignPage)
    assert parsed.has_more(1, 2) is more


def test_an_empty_page_ends_the_list_whatever_it_claims():
    assert parse_campaign_page({"data": [], "hasNext": True}).has_more(0, 10) is False


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ([], "expected a JSON object, got list"),
        ({"data": None}, "the list has no 'data' array"),
        ({"data": [{"campaignId": "camp_x"}]}, "item 0 of the list: the campaign has no campaignStatus"),
    ],
)
def test_malformed_pages(payload, message):
    with pytest.raises(PayloadError, match=message):
        parse_campaign_page(payload)


# -- update ---------------------------------------------------------------------------------------


def test_updating_one_field_sends_only_it_and_leaves_the_others_untouched(hook, simulator):
    created = hook.create_campaign(campaign_name="Q4", contacts=ROWS, concurrent_calls=2, **LINE)
    before = simulator.campaign(created.campaign_id)

    updated = hook.update_campaign(created.campaign_id, concurrent_calls=9)

    patch = simulator.requests[-1]
    assert (patch.method, patch.campaign_id) == ("PATCH", created.campaign_id)
    assert json.loads(patch.body) == {"concurrentCalls": 9}
    assert updated.concurrent_calls == 9
    after = simulator.campaign(created.campaign_id)
    assert after == {**before, "concurrentCalls": 9}


def test_update_renames_and_reschedules_in_a_non_utc_zone(hook, simulator):
    created = hook.create_campaign(campaign_name="Q4", contacts=ROWS, **LINE)

    updated = hook.update_campaign(
        created.campaign_id,
        campaign_name="Q4 (moved)",
        scheduled=True,
        scheduled_date="2031-07-01",
        scheduled_time="08:00:00",
        scheduled_timezone="America/Los_Angeles",
    )

    assert json.loads(simulator.requests[-1].body) == {
        "campaignName": "Q4 (moved)",
        "isScheduled": True,
        "scheduledDate": "2031-07-01",
        "scheduledTime": "08:00:00",
        "scheduledTimezone": "America/Los_Angeles",
    }
    assert updated.name == "Q4 (moved)"
    assert updated.status is CampaignStatus.SCHEDULED
    assert updated.scheduled_date == datetime(2031, 7, 1, 15, 0, tzinfo=UTC)  # PDT is UTC-7


def test_every_field_of_the_table_reaches_the_update_body(hook, simulator):
    created = hook.create_campaign(campaign_name="Q4", contacts=ROWS, **LINE)
    arguments = {field.name: EVERY_FIELD[field.name] for field in CampaignChanges.arguments()}

    hook.update_campaign(created.campaign_id, **arguments)

    body = json.loads(simulator.requests[-1].body)
    assert body == {field.update: EVERY_FIELD[field.name] for field in FIELDS if field.update}


def test_update_refuses_nothing_and_bad_fields_without_sending(hook, simulator):
    with pytest.raises(SigmaMindInvalidInputError, match="nothing to update for campaign 'camp_x'"):
        hook.update_campaign("camp_x")
    with pytest.raises(SigmaMindInvalidInputError) as excinfo:
        hook.update_campaign("camp_x", agent_id="", concurrent_calls=0, scheduled_timezone="Moon/Base")
    assert excinfo.value.problems == [
        "agent_id is empty; it must be 1 to 64 characters",
        "concurrent_calls must be a whole number of at least 1, got 0",
        "scheduled_timezone 'Moon/Base' is not an IANA time zone (e.g. America/Los_Angeles)",
    ]
    assert simulator.requests == []


def test_update_of_an_unknown_campaign_is_not_found(hook, simulator):
    with pytest.raises(SigmaMindNotFoundError, match="'camp_Gone' was not found"):
        hook.update_campaign("camp_Gone", concurrent_calls=2)


def test_update_is_retried_after_a_transient_failure(hook, simulator):
    created = hook.create_campaign(campaign_name="Q4", contacts=ROWS, **LINE)
    simulator.inject(Fault.server_error(502), campaign_id=created.campaign_id)

    hook.update_campaign(created.campaign_id, dynamic_variables={"promo": "X"})

    assert [(r.method, r.status) for r in simulator.requests_for(created.campaign_id)] == [
        ("PATCH", 502),
        ("PATCH", 200),
    ]


@pytest.mark.parametrize(
    "envelope",
    [("totalCount",), ("totalCounts",), (), ("hasPrevious",), ("page", "totalCount")],
    ids=["total-count", "total-counts", "data-only", "has-previous-only", "page-and-total"],
)
def test_a_silent_page_cap_loses_no_campaign(sigmamind_simulator_factory, monkeypatch, envelope):
    """A server that caps pages at 7 without saying so, and sends only part of the envelope."""
    from tests.helpers import CANARY_API_KEY, connection_json

    sim = sigmamind_simulator_factory(api_key=CANARY_API_KEY, max_page_size=7, list_envelope=envelope)
    monkeypatch.setenv("AIRFLOW_CONN_SIGMAMIND_DEFAULT", connection_json(sim.url, max_retries=0))
    if "totalCounts" in envelope:  # the other generation's spelling
        sim.inject(Fault.body(page([campaign_json(i) for i in range(7)], totalCounts=23)))
        sim.inject(Fault.body(page([campaign_json(i) for i in range(7, 14)], totalCounts=23)))
        sim.inject(Fault.body(page([campaign_json(i) for i in range(14, 21)], totalCounts=23)))
        sim.inject(Fault.body(page([campaign_json(i) for i in range(21, 23)], totalCounts=23)))
        expected = [f"c{i}" for i in range(23)]
    else:
        expected = [sim.add_campaign(name=f"c{i}")["campaignName"] for i in range(23)]
    with SigmaMindHook() as hook:
        names = [c.name for c in hook.list_campaigns(page_size=100)]
    assert names == expected


def test_counts_that_do_not_add_up_are_reported(hook, simulator, capsys):
    simulator.inject(Fault.body(page([campaign_json(0), campaign_json(1)], totalCount=5)))
    simulator.inject(Fault.body(page([], totalCount=5)))
    names = [c.name for c in hook.list_campaigns(page_size=2)]
    assert names == ["c0", "c1"]
    assert "Listed 2 campaigns where SigmaMind reported 5 in all (totalCount)" in capsys.readouterr().out
