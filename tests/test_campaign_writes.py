"""What a create or an update sends, checked, and the errors around them (no HTTP: the hook's tests send)."""

from __future__ import annotations

import logging

import pytest

from airflow_provider_sigmamind.campaign_fields import CampaignChanges, NewCampaign
from airflow_provider_sigmamind.campaign_writes import (
    MAX_PROBLEMS_SHOWN,
    contact_bytes,
    create_request,
    explain_create_failure,
    problems_error,
    update_body,
)
from airflow_provider_sigmamind.exceptions import (
    SigmaMindAuthError,
    SigmaMindInvalidInputError,
    SigmaMindRateLimitError,
    SigmaMindRejectedError,
    SigmaMindResponseError,
    SigmaMindServerError,
    SigmaMindTLSError,
    SigmaMindTransportError,
)

CSV = "Phone Number,Customer Name\n+14155550101,Ann\n"
CAMPAIGN = NewCampaign(campaign_name="Q4", sip_phone_number="+14155552671", agent_id="agent_1")
log = logging.getLogger("tests.campaign_writes")


def request(contacts: object = CSV, campaign: NewCampaign = CAMPAIGN, **options):
    settings = {"file_name": None, "validate": "error", "required_variables": None, "phone_check": "valid", **options}
    return create_request(campaign, contacts, log=log, **settings)  # type: ignore[arg-type]


def test_contacts_become_the_bytes_to_upload(tmp_path):
    path = tmp_path / "list.csv"
    path.write_bytes(CSV.encode())
    rows = [{"Phone Number": "+14155550101", "Customer Name": "Ann"}]

    assert contact_bytes(CSV) == contact_bytes(CSV.encode()) == contact_bytes(path) == CSV.encode()
    assert contact_bytes(rows) == b"Phone Number,Customer Name\r\n+14155550101,Ann\r\n"
    with pytest.raises(SigmaMindInvalidInputError, match=r"contacts: cannot read '.*missing\.csv': No such file"):
        contact_bytes(tmp_path / "missing.csv")
    with pytest.raises(SigmaMindInvalidInputError, match="got bytearray"):
        contact_bytes(bytearray(b"x"))


def test_a_create_request_carries_the_form_and_the_named_file(tmp_path):
    path = tmp_path / "renewals.csv"
    path.write_text(CSV)

    sent = request(path)

    assert sent.form == CAMPAIGN.form()
    assert sent.files == {"file": ("renewals.csv", CSV.encode(), "text/csv")}
    assert request().file_name == "contacts.csv"
    assert request(file_name="mine.csv").file_name == "mine.csv"


def test_every_problem_of_fields_and_list_is_raised_at_once():
    campaign = NewCampaign(campaign_name="Q4", sip_phone_number="+1", agent_id="a")

    with pytest.raises(SigmaMindInvalidInputError) as excinfo:
        request("Phone,Name\n+1234,\n", campaign)

    assert excinfo.value.problems == [
        "sip_phone_number '+1' is not an E.164 number (^\\+[1-9][0-9]{6,14}$, e.g. +14155552671)",
        "Row 1: invalid phone number '+1234'",
        "Row 1: missing required variable 'name'",
    ]
    assert str(excinfo.value).startswith("campaign 'Q4' was not created: 3 problems found before sending:\n")


def test_warn_logs_the_problems_and_a_clean_check_says_so(caplog):
    with caplog.at_level(logging.INFO, logger=log.name):
        request("Phone,Name\n+1234,B\n", validate="warn")
        request()
    assert [record.getMessage().splitlines()[0] for record in caplog.records] == [
        "campaign 'Q4' will be created despite 1 problem found before sending:",
        "Contact list checked: 1 contacts, no problems found",
    ]


def test_validation_off_does_not_look_but_json_must_still_be_json(caplog):
    with caplog.at_level(logging.INFO, logger=log.name):
        assert request("not a contact list", validate="off").contacts == b"not a contact list"
    assert caplog.records == []
    with pytest.raises(SigmaMindInvalidInputError, match="variables cannot be sent as JSON"):
        request(campaign=NewCampaign(**CAMPAIGN.given(), variables={"x": object()}), validate="off")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"validate": "maybe"}, "validate must be one of error, warn, off, got 'maybe'"),
        ({"phone_check": "strict"}, "phone_check must be one of valid, e164, got 'strict'"),
    ],
)
def test_bad_options_are_refused(options, message):
    with pytest.raises(SigmaMindInvalidInputError, match=message):
        request(**options)


def test_an_update_body_is_checked_first():
    assert update_body(CampaignChanges(concurrent_calls=2), "camp_x") == {"concurrentCalls": 2}
    with pytest.raises(SigmaMindInvalidInputError, match="nothing to update for campaign 'camp_x': pass at least one"):
        update_body(CampaignChanges(), "camp_x")
    with pytest.raises(SigmaMindInvalidInputError) as excinfo:
        update_body(CampaignChanges(concurrent_calls=0), "camp_x")
    assert str(excinfo.value).startswith("campaign 'camp_x' was not updated: 1 problem found before sending:\n  - ")


def test_a_long_list_of_problems_is_cut_in_the_message_but_kept_whole():
    problems = [f"problem {index}" for index in range(MAX_PROBLEMS_SHOWN + 7)]

    error = problems_error("nothing happened", problems)

    assert error.problems == problems
    lines = str(error).splitlines()
    assert lines[0] == f"nothing happened: {len(problems)} problems found before sending:"
    assert lines[-1] == "  ... and 7 more"
    assert len(lines) == MAX_PROBLEMS_SHOWN + 2


@pytest.mark.parametrize(
    ("error", "added"),
    [
        (SigmaMindServerError("down"), "SigmaMind may have created campaign 'Q4' anyway"),
        (SigmaMindTransportError("reset"), "SigmaMind may have created campaign 'Q4' anyway"),
        (SigmaMindResponseError("html"), "SigmaMind may have created campaign 'Q4' anyway"),
        (SigmaMindRateLimitError("429"), "nothing was created (rate limited)"),
        (SigmaMindRejectedError("taken", status_code=409), "'Q4' is taken, perhaps by an earlier attempt"),
        (SigmaMindRejectedError("bad", status_code=400), None),
        (SigmaMindTLSError("certificate"), None),  # no request reached SigmaMind
        (SigmaMindAuthError("key"), None),
    ],
)
def test_a_failed_create_says_whether_the_campaign_may_exist(error, added):
    before = str(error)

    explained = explain_create_failure(error, "Q4")

    assert explained is error
    if added is None:
        assert str(explained) == before
    else:
        assert str(explained).startswith(before + "; ")
        assert added in str(explained)
