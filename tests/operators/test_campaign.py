"""GetCampaignOperator against the simulator."""

from __future__ import annotations

import pytest

from airflow_provider_sigmamind.exceptions import SigmaMindContactListError, SigmaMindNotFoundError
from airflow_provider_sigmamind.operators.campaign import GetCampaignOperator
from tests.helpers import logged_warnings

ROW_ERRORS = ["Row 3: missing required variable 'customer_name'", "Row 7: invalid phone number '+1234'"]


def test_returns_the_payload_as_sent_and_logs_a_summary(sigmamind_conn, simulator, capsys):
    served = simulator.add_campaign(name="Q4 Outreach", status="scheduled", live_after=60)
    operator = GetCampaignOperator(task_id="fetch", campaign_id=served["campaignId"])

    result = operator.execute(context={})

    assert result == simulator.campaign(served["campaignId"])
    assert result["campaignStatus"] == "scheduled"
    log = capsys.readouterr().out
    assert f"Fetched campaign 'Q4 Outreach' [{served['campaignId']}] status=scheduled scheduled=20" in log


def test_row_errors_are_a_warning_by_default(sigmamind_conn, simulator, capsys, caplog):
    served = simulator.add_campaign(errors=ROW_ERRORS)
    operator = GetCampaignOperator(task_id="fetch", campaign_id=served["campaignId"])

    result = operator.execute(context={})

    assert result["errors"] == ROW_ERRORS
    warnings = logged_warnings(capsys, caplog)
    assert sum(line.startswith("campaign ") for line in warnings) == 1
    log = "\n".join(warnings)
    assert "2 contact-list row error(s)" in log
    assert all(error in log for error in ROW_ERRORS)


def test_row_errors_fail_the_task_when_asked(sigmamind_conn, simulator):
    served = simulator.add_campaign(errors=ROW_ERRORS)
    operator = GetCampaignOperator(task_id="fetch", campaign_id=served["campaignId"], fail_on_csv_errors=True)

    with pytest.raises(SigmaMindContactListError) as excinfo:
        operator.execute(context={})

    assert all(error in str(excinfo.value) for error in ROW_ERRORS)


def test_no_row_errors_never_fail(sigmamind_conn, simulator):
    served = simulator.add_campaign(overrides={"errors": None})
    operator = GetCampaignOperator(task_id="fetch", campaign_id=served["campaignId"], fail_on_csv_errors=True)
    assert operator.execute(context={})["errors"] is None


def test_unknown_campaign_fails_with_not_found(sigmamind_conn, simulator):
    operator = GetCampaignOperator(task_id="fetch", campaign_id="camp_Nope")
    with pytest.raises(SigmaMindNotFoundError, match="'camp_Nope' was not found"):
        operator.execute(context={})


def test_templated_fields_and_no_io_at_construction(simulator):
    operator = GetCampaignOperator(task_id="fetch", campaign_id="{{ params.x }}", sigmamind_conn_id="other")
    assert set(operator.template_fields) == {"campaign_id", "sigmamind_conn_id"}
    assert simulator.requests == []
    assert "hook" not in operator.__dict__
