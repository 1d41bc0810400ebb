"""CreateCampaignOperator, UpdateCampaignOperator and ListCampaignsOperator against the simulator."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from airflow.providers.common.compat.sdk import DAG

from airflow_provider_sigmamind.exceptions import SigmaMindInvalidInputError, SigmaMindNotFoundError
from airflow_provider_sigmamind.operators.campaign import (
    CreateCampaignOperator,
    ListCampaignsOperator,
    UpdateCampaignOperator,
)
from airflow_provider_sigmamind.simulator.protocol import parse_multipart

CSV = "Phone Number,Customer Name\n+14155550101,Michael\n+14155550102,Priya\n"
ROWS = [{"Phone Number": "+14155550101", "Customer Name": "Michael"}]
FIELDS = {"sip_phone_number": "+14155552671", "agent_id": "agent_D5D0p7TUs66TTAEAx"}


def create(**kwargs) -> CreateCampaignOperator:
    return CreateCampaignOperator(task_id="create_campaign", **{"campaign_name": "Q4", **FIELDS, **kwargs})


def uploaded(simulator) -> dict[str, bytes]:
    (post,) = [r for r in simulator.requests if r.method == "POST"]
    return parse_multipart(post.body, post.headers["content-type"])


# -- CreateCampaignOperator -----------------------------------------------------------------------


def test_create_from_a_file_path_returns_the_created_campaign(sigmamind_conn, simulator, tmp_path, capsys):
    path = tmp_path / "contacts.csv"
    path.write_text(CSV)

    result = create(contacts=str(path)).execute(context={})

    assert result == simulator.campaign(result["campaignId"])
    assert result["campaignId"].startswith("camp_")
    assert result["campaignStatus"] == "live"
    json.dumps(result)  # XCom-safe
    assert uploaded(simulator)["file"] == CSV.encode()
    log = capsys.readouterr().out
    assert "Contact list checked: 2 contacts, no problems found" in log
    assert f"Created campaign 'Q4' [{result['campaignId']}]" in log


def test_create_from_csv_text_or_rows_from_xcom(sigmamind_conn, simulator):
    create(contacts=CSV, campaign_name="from text").execute(context={})
    create(contacts=ROWS, campaign_name="from rows").execute(context={})

    files = [parse_multipart(r.body, r.headers["content-type"])["file"] for r in simulator.requests]
    assert files == [CSV.encode(), b"Phone Number,Customer Name\r\n+14155550101,Michael\r\n"]


def test_rendered_template_strings_are_converted(sigmamind_conn, simulator):
    """What templates render to: text. Numbers become numbers, empty schedule fields are left out."""
    operator = create(
        contacts=CSV,
        concurrent_calls="4",
        scheduled_date="",
        scheduled_time="",
        scheduled_timezone="",
        variables={"promo": "SPRING"},
    )

    operator.execute(context={})

    form = uploaded(simulator)
    assert form["concurrentCalls"] == b"4"
    assert "isScheduled" not in form
    assert json.loads(form["variables"]) == {"promo": "SPRING"}


def test_a_bad_list_fails_the_task_with_every_problem_before_sending(sigmamind_conn, simulator):
    contacts = "Phone Number,Customer Name\n+1234,Ann\n+14155550102,\n"

    with pytest.raises(SigmaMindInvalidInputError) as excinfo:
        create(contacts=contacts).execute(context={})

    assert excinfo.value.problems == [
        "Row 1: invalid phone number '+1234'",
        "Row 2: missing required variable 'customer_name'",
    ]
    assert simulator.requests == []


def test_warn_only_creates_anyway(sigmamind_conn, simulator, capsys):
    contacts = "Phone Number,Customer Name\n+1234,Ann\n"

    result = create(contacts=contacts, validate="warn").execute(context={})

    assert result["errors"] == ["Row 1: invalid phone number '+1234'"]
    assert "will be created despite 1 problem found before sending" in capsys.readouterr().out


def test_required_variables_and_the_phone_check_reach_the_validation(sigmamind_conn, simulator):
    contacts = "Phone Number,Customer Name,Notes\n+4155552671,Ann,\n"
    with pytest.raises(SigmaMindInvalidInputError) as excinfo:
        create(contacts=contacts, required_variables=["customer_name"]).execute(context={})
    assert excinfo.value.problems == ["Row 1: invalid phone number '+4155552671' (too short for country code +41)"]

    create(contacts=contacts, required_variables=["customer_name"], phone_check="e164").execute(context={})
    assert len(simulator.requests) == 1


@pytest.mark.parametrize(
    ("contacts", "message"),
    [
        ("/no/such/contacts.csv", "contacts: no file at '/no/such/contacts.csv'; a one-line string is read as a path"),
        ("   ", "contacts is empty"),
        (42, "contacts must be a file path, CSV text or a list of rows"),
    ],
)
def test_contacts_that_are_neither_file_text_nor_rows(sigmamind_conn, simulator, contacts, message):
    with pytest.raises(SigmaMindInvalidInputError, match=message):
        create(contacts=contacts).execute(context={})
    assert simulator.requests == []


def test_bad_numbers_of_calls_are_refused(sigmamind_conn, simulator):
    with pytest.raises(SigmaMindInvalidInputError, match="concurrent_calls must be a whole number, got 'four'"):
        create(contacts=CSV, concurrent_calls="four").execute(context={})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"validate": "strict"}, "validate must be one of error, warn, off"), ({"phone_check": "x"}, "phone_check")],
)
def test_create_options_are_checked_when_the_dag_is_parsed(kwargs, message):
    with pytest.raises(ValueError, match=message):
        create(contacts=CSV, **kwargs)


def test_create_templates_what_users_template_and_does_no_io_at_construction(simulator):
    operator = create(contacts="/data/{{ ds }}.csv")
    assert set(operator.template_fields) >= {
        "campaign_name",
        "sip_phone_number",
        "agent_id",
        "contacts",
        "concurrent_calls",
        "scheduled_date",
        "scheduled_time",
        "scheduled_timezone",
        "variables",
        "required_variables",
        "sigmamind_conn_id",
    }
    assert "hook" not in operator.__dict__
    assert simulator.requests == []


def test_create_templates_render(tmp_path):
    with DAG(dag_id="render_create", schedule=None):
        operator = create(
            campaign_name="Renewals {{ params.day }}",
            contacts=str(tmp_path) + "/{{ params.day }}.csv",
            scheduled_time="{{ params.time }}",
        )
    operator.render_template_fields(context={"params": {"day": "2026-06-01", "time": "09:00:00"}})

    assert operator.campaign_name == "Renewals 2026-06-01"
    assert operator.contacts == f"{tmp_path}/2026-06-01.csv"
    assert operator.scheduled_time == "09:00:00"


# -- UpdateCampaignOperator -----------------------------------------------------------------------


def test_update_sends_only_what_is_given(sigmamind_conn, simulator):
    served = simulator.add_campaign(name="Q4")
    before = simulator.campaign(served["campaignId"])
    operator = UpdateCampaignOperator(
        task_id="update", campaign_id=served["campaignId"], concurrent_calls="7", campaign_name=""
    )

    result = operator.execute(context={})

    (patch,) = simulator.requests
    assert json.loads(patch.body) == {"concurrentCalls": 7}  # the empty rendered name is "leave as it is"
    assert result == {**before, "concurrentCalls": 7}


def test_update_passes_every_field_converting_rendered_text(sigmamind_conn, simulator):
    served = simulator.add_campaign(name="Q4")
    rendered = {
        "campaign_name": "Q4 (moved)",
        "sip_phone_number": "+14155552672",
        "agent_id": "agent_2",
        "concurrent_calls": " 7 ",
        "scheduled": True,
        "scheduled_date": "2031-07-01",
        "scheduled_time": "08:00:00",
        "scheduled_timezone": "America/Los_Angeles",
        "dynamic_variables": {"promo": "X"},
    }

    UpdateCampaignOperator(task_id="update", campaign_id=served["campaignId"], **rendered).execute(context={})

    (patch,) = simulator.requests
    assert json.loads(patch.body) == {
        "campaignName": "Q4 (moved)",
        "sipPhoneNumber": "+14155552672",
        "agentId": "agent_2",
        "concurrentCalls": 7,
        "isScheduled": True,
        "scheduledDate": "2031-07-01",
        "scheduledTime": "08:00:00",
        "scheduledTimezone": "America/Los_Angeles",
        "dynamicVariables": {"promo": "X"},
    }


def test_an_empty_rendered_required_field_is_reported_as_empty(sigmamind_conn, simulator):
    with pytest.raises(SigmaMindInvalidInputError) as excinfo:
        create(contacts=CSV, campaign_name=" ").execute(context={})
    assert excinfo.value.problems == ["campaign_name is empty; it must be 1 to 128 characters"]
    assert simulator.requests == []


def test_update_of_an_unknown_campaign(sigmamind_conn, simulator):
    with pytest.raises(SigmaMindNotFoundError):
        UpdateCampaignOperator(task_id="update", campaign_id="camp_Gone", agent_id="a").execute(context={})


def test_update_with_nothing_to_change_fails_without_sending(sigmamind_conn, simulator):
    with pytest.raises(SigmaMindInvalidInputError, match="nothing to update"):
        UpdateCampaignOperator(task_id="update", campaign_id="camp_x", campaign_name="").execute(context={})
    assert simulator.requests == []


def test_update_scheduled_must_be_a_bool():
    with pytest.raises(ValueError, match="scheduled must be True, False or None"):
        UpdateCampaignOperator(task_id="update", campaign_id="camp_x", scheduled="yes")


def test_update_templates():
    operator = UpdateCampaignOperator(task_id="update", campaign_id="{{ params.id }}", campaign_name="x")
    assert set(operator.template_fields) == {
        "campaign_id",
        "campaign_name",
        "sip_phone_number",
        "agent_id",
        "concurrent_calls",
        "scheduled_date",
        "scheduled_time",
        "scheduled_timezone",
        "dynamic_variables",
        "sigmamind_conn_id",
    }


# -- ListCampaignsOperator ------------------------------------------------------------------------


def test_list_returns_a_compact_json_list_across_pages(sigmamind_conn, simulator):
    for index in range(5):
        simulator.add_campaign(name=f"c{index}", status="live" if index % 2 else "completed", errors=["Row 1: x"])
    scheduled = simulator.add_campaign(name="later", live_after=3600)

    result = ListCampaignsOperator(task_id="list", page_size=2).execute(context={})

    assert [item["campaignName"] for item in result] == ["c0", "c1", "c2", "c3", "c4", "later"]
    assert result[0] == {
        "campaignId": result[0]["campaignId"],
        "campaignName": "c0",
        "campaignStatus": "completed",
        "scheduledDate": None,
        "concurrentCalls": 5,
        "errorCount": 1,
    }
    assert result[-1]["campaignStatus"] == "scheduled"
    assert datetime.fromisoformat(result[-1]["scheduledDate"]) == datetime.fromisoformat(scheduled["scheduledDate"])
    assert json.loads(json.dumps(result)) == result
    assert len(simulator.requests) == 3


def test_list_filters_on_a_templated_status(sigmamind_conn, simulator):
    simulator.add_campaign(name="a", status="paused")
    simulator.add_campaign(name="b", status="live")

    paused = ListCampaignsOperator(task_id="list", status="paused").execute(context={})
    everything = ListCampaignsOperator(task_id="list", status="").execute(context={})  # a blank template

    assert [item["campaignName"] for item in paused] == ["a"]
    assert [item["campaignName"] for item in everything] == ["a", "b"]
    assert [r.query.get("status") for r in simulator.requests] == ["paused", None]


def test_list_limit_stops_reading_and_warns(sigmamind_conn, simulator, capsys):
    for index in range(30):
        simulator.add_campaign(name=f"c{index}")

    result = ListCampaignsOperator(task_id="list", limit=3, page_size=10).execute(context={})

    assert [item["campaignName"] for item in result] == ["c0", "c1", "c2"]
    assert len(simulator.requests) == 1
    assert "More than 3 campaigns matched; returning the first 3" in capsys.readouterr().out


def test_list_arguments_are_checked_when_the_dag_is_parsed():
    with pytest.raises(ValueError, match="limit must be a whole number >= 0"):
        ListCampaignsOperator(task_id="list", limit=-1)
    with pytest.raises(ValueError, match="page_size must be a whole number >= 1"):
        ListCampaignsOperator(task_id="list", page_size=0)
    assert set(ListCampaignsOperator(task_id="list").template_fields) == {"status", "sigmamind_conn_id"}
