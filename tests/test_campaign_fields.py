"""The outbound campaign fields: the one table, the create and update payloads, and who reads them (pure)."""

from __future__ import annotations

import inspect
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from airflow_provider_sigmamind.campaign_fields import (
    FIELDS,
    CampaignChanges,
    NewCampaign,
    campaign_field_problems,
    update_field_problems,
)
from airflow_provider_sigmamind.hooks.sigmamind import SigmaMindHook
from airflow_provider_sigmamind.operators.campaign import CreateCampaignOperator, UpdateCampaignOperator

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
REQUIRED = {"campaign_name": "Q4 Outreach", "sip_phone_number": "+14155552671", "agent_id": "agent_D5D0p7TUs66TTAEAx"}
LIFECYCLE_DOC = Path(__file__).resolve().parent.parent / "docs" / "lifecycle.md"


# -- the table ----------------------------------------------------------------------------------


def test_each_name_is_defined_once_per_request():
    names = [field.name for field in FIELDS]
    creates = [field.create for field in FIELDS if field.create]
    updates = [field.update for field in FIELDS if field.update]
    assert len(set(names)) == len(names)
    assert len(set(creates)) == len(creates)
    assert len(set(updates)) == len(updates)
    assert all(name == name.lower() for name in names)
    assert {field.kind for field in FIELDS} == {"text", "count", "flag", "object"}


def test_the_documented_name_drift_between_create_and_update():
    by_name = {field.name: field for field in FIELDS}
    assert (by_name["variables"].create, by_name["variables"].update) == ("variables", None)
    assert (by_name["dynamic_variables"].create, by_name["dynamic_variables"].update) == (None, "dynamicVariables")
    assert by_name["scheduled"].create == by_name["scheduled"].update == "isScheduled"


def test_each_payload_takes_exactly_the_fields_its_request_sends():
    assert {field.name for field in CampaignChanges.arguments()} == {field.name for field in FIELDS if field.update}
    # A create sends isScheduled but does not take it: it follows from the scheduling fields.
    assert {field.name for field in NewCampaign.arguments()} == {
        field.name for field in FIELDS if field.create and field.name != "scheduled"
    }
    assert NewCampaign.required() == set(REQUIRED)
    assert CampaignChanges.required() == frozenset()


def field_parameters(function) -> dict[str, inspect.Parameter]:
    names = {field.name for field in FIELDS}
    return {name: p for name, p in inspect.signature(function).parameters.items() if name in names}


@pytest.mark.parametrize(
    ("function", "payload"),
    [
        (SigmaMindHook.create_campaign, NewCampaign),
        (SigmaMindHook.update_campaign, CampaignChanges),
        (CreateCampaignOperator.__init__, NewCampaign),
        (UpdateCampaignOperator.__init__, CampaignChanges),
    ],
)
def test_hook_and_operators_take_every_field_of_their_payload_by_keyword(function, payload):
    """The public signatures stay as users call them; this holds them to the table."""
    parameters = field_parameters(function)
    assert list(parameters) == [field.name for field in payload.arguments()]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in parameters.values())
    optional = [name for name, p in parameters.items() if name not in payload.required()]
    assert all(parameters[name].default is None for name in optional)
    assert all(parameters[name].default is inspect.Parameter.empty for name in payload.required())


def test_operators_template_every_field_but_the_scheduled_flag():
    assert set(CreateCampaignOperator.template_fields) >= {field.name for field in NewCampaign.arguments()}
    assert set(UpdateCampaignOperator.template_fields) >= {field.name for field in CampaignChanges.arguments()} - {
        "scheduled"
    }
    assert "scheduled" not in UpdateCampaignOperator.template_fields
    assert CreateCampaignOperator.template_fields_renderers == {"variables": "json"}
    assert UpdateCampaignOperator.template_fields_renderers == {"dynamic_variables": "json"}


def section(text: str, heading: str) -> str:
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end]


def test_the_lifecycle_guide_shows_the_table_and_every_operator_field():
    text = LIFECYCLE_DOC.read_text()
    table = section(text, "The fields, and their names in each request")
    for field in FIELDS:
        (row,) = [line for line in table.splitlines() if line.startswith("|") and f"`{field.name}`" in line]
        assert all(f"`{name}`" in row for name in (field.create, field.update) if name)
    create = section(text, "CreateCampaignOperator")
    update = section(text, "UpdateCampaignOperator")
    assert all(f"`{field.name}`" in create for field in NewCampaign.arguments())
    assert all(f"`{field.name}`" in update and f"`{field.update}`" in update for field in CampaignChanges.arguments())


# -- a create -----------------------------------------------------------------------------------


def test_good_fields_have_no_problems():
    assert NewCampaign(**REQUIRED, concurrent_calls=5, variables={"promo": "SPRING"}).problems() == []


def test_every_bad_field_is_reported_in_the_order_of_the_table():
    campaign = NewCampaign(
        campaign_name="x" * 129,
        sip_phone_number="4155552671",
        agent_id="",
        concurrent_calls=0,
        scheduled_date="2026-02-30",
        scheduled_time="9:00",
        scheduled_timezone="Mars/Olympus_Mons",
        variables={"when": datetime(2026, 1, 1)},
    )

    assert campaign.problems(now=NOW) == [
        "campaign_name is 129 characters long; the limit is 128",
        "sip_phone_number '4155552671' is not an E.164 number (^\\+[1-9][0-9]{6,14}$, e.g. +14155552671)",
        "agent_id is empty; it must be 1 to 64 characters",
        "concurrent_calls must be a whole number of at least 1, got 0",
        "scheduled_date '2026-02-30' is not a date in YYYY-MM-DD form",
        "scheduled_time '9:00' is not a 24-hour time in HH:mm:ss form",
        "scheduled_timezone 'Mars/Olympus_Mons' is not an IANA time zone (e.g. America/Los_Angeles)",
        "variables cannot be sent as JSON: Object of type datetime is not JSON serializable",
    ]


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"agent_id": "a" * 65}, "agent_id is 65 characters long; the limit is 64"),
        ({"campaign_name": None}, "campaign_name must be text of 1 to 128 characters, got NoneType"),
        ({"campaign_name": "   "}, "campaign_name is empty; it must be 1 to 128 characters"),
        ({"concurrent_calls": True}, "concurrent_calls must be a whole number of at least 1, got True"),
        ({"concurrent_calls": "5"}, "concurrent_calls must be a whole number of at least 1, got '5'"),
        ({"variables": ["a"]}, "variables must be a mapping of variable names to values (a JSON object), got list"),
        ({"variables": {1: "a"}}, "variables must be a mapping of variable names to values"),
        ({"variables": {"x": float("nan")}}, "variables cannot be sent as JSON: Out of range float values"),
        ({"sip_phone_number": "+1 415 555 2671"}, "sip_phone_number '+1 415 555 2671' is not an E.164 number"),
        ({"sip_phone_number": 14155552671}, "sip_phone_number 14155552671 is not an E.164 number"),
        ({"scheduled_date": "2031-01-01"}, "a scheduled campaign needs scheduled_date, scheduled_time and"),
        (
            {"scheduled_date": "2026-05-01", "scheduled_time": "10:00:00", "scheduled_timezone": "Europe/Paris"},
            "the schedule 2026-05-01 10:00:00 in Europe/Paris (2026-05-01T08:00:00Z) is in the past",
        ),
    ],
)
def test_one_bad_field(changes, problem):
    (found,) = NewCampaign(**{**REQUIRED, **changes}).problems(now=NOW)
    assert found.startswith(problem)


def test_a_long_value_is_cut_in_its_problem():
    (problem,) = NewCampaign(**{**REQUIRED, "sip_phone_number": "+" + "9" * 500}).problems()
    assert len(problem) < 200
    assert "9…' is not an E.164 number" in problem


def test_the_clock_is_the_default_now():
    past = {"scheduled_date": "2001-01-01", "scheduled_time": "00:00:00", "scheduled_timezone": "UTC"}
    future = {**past, "scheduled_date": "2999-01-01"}
    assert NewCampaign(**REQUIRED, **future).problems() == []
    assert len(NewCampaign(**REQUIRED, **past).problems()) == 1


def test_the_create_form_is_text_in_the_api_names_with_only_what_is_given():
    plain = NewCampaign(**REQUIRED)
    assert plain.scheduled is None
    assert plain.form() == {
        "campaignName": "Q4 Outreach",
        "sipPhoneNumber": "+14155552671",
        "agentId": "agent_D5D0p7TUs66TTAEAx",
    }

    full = NewCampaign(
        **REQUIRED,
        concurrent_calls=3,
        scheduled_date="2031-01-15",
        scheduled_time="09:30:00",
        scheduled_timezone="Asia/Kolkata",
        variables={"promo": "SPRING", "discount": 10},
    )
    assert full.scheduled is True
    form = full.form()
    assert list(form) == [
        "campaignName",
        "sipPhoneNumber",
        "agentId",
        "concurrentCalls",
        "isScheduled",
        "scheduledDate",
        "scheduledTime",
        "scheduledTimezone",
        "variables",
    ]
    assert (form["concurrentCalls"], form["isScheduled"], form["scheduledTimezone"]) == ("3", "true", "Asia/Kolkata")
    assert json.loads(form["variables"]) == {"promo": "SPRING", "discount": 10}


def test_variables_that_cannot_be_json_cannot_be_rendered():
    with pytest.raises(ValueError, match="variables cannot be sent as JSON"):
        NewCampaign(**REQUIRED, variables={"when": object()}).form()


def test_a_payload_is_built_from_arguments_ignoring_the_rest():
    arguments = {**REQUIRED, "contacts": "x", "validate": "off", "self": object(), "concurrent_calls": None}
    assert NewCampaign.from_arguments(arguments) == NewCampaign(**REQUIRED)
    assert CampaignChanges.from_arguments({"campaign_id": "camp_x", "agent_id": "a"}) == CampaignChanges(agent_id="a")


def test_payloads_are_frozen():
    with pytest.raises(AttributeError):
        NewCampaign(**REQUIRED).agent_id = "other"  # type: ignore[misc]


# -- an update ----------------------------------------------------------------------------------


def test_an_update_checks_and_sends_only_the_fields_given():
    changes = CampaignChanges(concurrent_calls=3, scheduled=False, dynamic_variables={"promo": "X"})
    assert changes.given() == {"concurrent_calls": 3, "scheduled": False, "dynamic_variables": {"promo": "X"}}
    assert changes.problems() == []
    assert changes.json_body() == {"concurrentCalls": 3, "isScheduled": False, "dynamicVariables": {"promo": "X"}}
    assert CampaignChanges(scheduled_time="10:00:00").problems() == []  # the API merges the rest
    assert CampaignChanges().given() == {}


def test_an_update_reports_every_problem_the_whole_schedule_included():
    changes = CampaignChanges(
        agent_id="",
        scheduled="yes",  # type: ignore[arg-type]
        scheduled_date="2026-05-01",
        scheduled_time="10:00:00",
        scheduled_timezone="Europe/Paris",
    )
    assert changes.problems(now=NOW) == [
        "agent_id is empty; it must be 1 to 64 characters",
        "scheduled must be True or False, got 'yes'",
        "the schedule 2026-05-01 10:00:00 in Europe/Paris (2026-05-01T08:00:00Z) is in the past",
    ]


# -- the function forms (also importable from contacts, deprecated there) ------------------------


def test_campaign_field_problems_is_the_create_payloads_check():
    fields = {**REQUIRED, "concurrent_calls": 0}
    assert campaign_field_problems(**fields, now=NOW) == NewCampaign(**fields).problems(now=NOW)
    assert campaign_field_problems(**fields) == ["concurrent_calls must be a whole number of at least 1, got 0"]


def test_update_field_problems_names_what_cannot_be_updated():
    assert update_field_problems({"concurrent_calls": 3}) == []
    assert update_field_problems({"scheduled": "yes", "status": "live", "campaign_name": None}) == [
        "scheduled must be True or False, got 'yes'",
        "status is not a field that can be updated",
    ]
    past = {"scheduled_date": "2026-05-01", "scheduled_time": "10:00:00", "scheduled_timezone": "Europe/Paris"}
    assert update_field_problems(past, now=NOW) == [
        "the schedule 2026-05-01 10:00:00 in Europe/Paris (2026-05-01T08:00:00Z) is in the past"
    ]
