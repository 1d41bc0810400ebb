"""Tests for the campaign model: status parsing, the wait verdict, and the tolerant payload parser."""

from __future__ import annotations

import copy
import json
from typing import Any

import pendulum
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_sigmamind.models import (
    DEFAULT_TARGET_STATUSES,
    TERMINAL_STATUSES,
    Campaign,
    CampaignStatus,
    PayloadError,
    Verdict,
    judge,
    parse_campaign,
    parse_statuses,
)

LIVE = CampaignStatus.LIVE
SCHEDULED = CampaignStatus.SCHEDULED
PAUSED = CampaignStatus.PAUSED
COMPLETED = CampaignStatus.COMPLETED
UNKNOWN = CampaignStatus.UNKNOWN

#: The example body of SigmaMind's "Get Campaign" page, verbatim.
DOCUMENTED_EXAMPLE = """
{
  "campaignId": "camp_XiQEBcj9cc5TFRB4",
  "campaignName": "Q4 Outreach Campaign",
  "campaignStatus": "live",
  "scheduledDate": "2025-09-25T19:00:00.000Z",
  "concurrentCalls": 5,
  "agent": {
    "name": "New AI Agent",
    "agentId": "agent_D5D0p7TUs66TTAEAx",
    "status": "Live"
  },
  "phoneNumber": {
    "sipPhoneNumber": "+14155552671",
    "provider": "twilio",
    "inboundAgentId": "agent_D5D0p7TUs66TTAEAx",
    "outboundAgentId": "agent_D5D0p7TUs66TTAEAx",
    "outboundPhoneNumber": "+14155552671",
    "active": true,
    "terminationSipURI": "sip.telnyx.com",
    "friendlyName": "Support Line - US"
  },
  "errors": [
    "Row 3: missing required variable 'customer_name'",
    "Row 7: invalid phone number '+1234'"
  ],
  "scheduled": true
}
"""


def documented() -> dict[str, Any]:
    return json.loads(DOCUMENTED_EXAMPLE)


def minimal(**fields: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {"campaignId": "XiQEBcj9cc5TFRB4", "campaignStatus": "live"}
    payload.update(fields)
    return payload


# -- CampaignStatus.parse ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("live", LIVE),
        ("LIVE", LIVE),
        ("Live", LIVE),
        (" live ", LIVE),
        ("\tlive\n", LIVE),
        ("scheduled", SCHEDULED),
        ("Scheduled", SCHEDULED),
        ("PAUSED", PAUSED),
        ("  paused", PAUSED),
        ("completed", COMPLETED),
        ("Completed\r\n", COMPLETED),
        (LIVE, LIVE),
        (COMPLETED, COMPLETED),
        # anything else is UNKNOWN, never a near miss
        ("", UNKNOWN),
        ("   ", UNKNOWN),
        ("unknown", UNKNOWN),
        ("active", UNKNOWN),
        ("failed", UNKNOWN),
        ("lives", UNKNOWN),
        ("li ve", UNKNOWN),
        ("live.", UNKNOWN),
        ("\u200blive", UNKNOWN),
        ("complete", UNKNOWN),
        # non-strings
        (None, UNKNOWN),
        (0, UNKNOWN),
        (1, UNKNOWN),
        (True, UNKNOWN),
        (1.5, UNKNOWN),
        (b"live", UNKNOWN),
        (["live"], UNKNOWN),
        ({"live": 1}, UNKNOWN),
    ],
)
def test_status_parse(value: object, expected: CampaignStatus) -> None:
    assert CampaignStatus.parse(value) is expected


def test_only_completed_is_terminal() -> None:
    assert frozenset({COMPLETED}) == TERMINAL_STATUSES
    assert [s for s in CampaignStatus if s.is_terminal] == [COMPLETED]


def test_default_targets_are_live_and_completed() -> None:
    assert set(DEFAULT_TARGET_STATUSES) == {LIVE, COMPLETED}


@pytest.mark.parametrize(
    ("status", "targets", "expected"),
    [
        (COMPLETED, {LIVE}, False),
        (COMPLETED, {COMPLETED}, True),
        (COMPLETED, {LIVE, COMPLETED}, True),
        (LIVE, {COMPLETED}, True),
        (SCHEDULED, {LIVE}, True),
        (PAUSED, {LIVE}, True),
        (UNKNOWN, {LIVE}, True),
    ],
)
def test_can_reach(status: CampaignStatus, targets: set[CampaignStatus], expected: bool) -> None:
    assert status.can_reach(targets) is expected


# -- judge ---------------------------------------------------------------------------------------

BOTH = (LIVE, COMPLETED)


@pytest.mark.parametrize(
    ("status", "targets", "failures", "outcome", "reason_part"),
    [
        # a target status is success
        (LIVE, BOTH, (), "success", "is live"),
        (COMPLETED, BOTH, (), "success", "is completed"),
        (LIVE, (LIVE,), (), "success", "is live"),
        (COMPLETED, (COMPLETED,), (), "success", "is completed"),
        # statuses that may still move on wait
        (SCHEDULED, BOTH, (), "wait", "waiting for"),
        (PAUSED, BOTH, (), "wait", "waiting for"),
        (SCHEDULED, (LIVE,), (), "wait", "waiting for live"),
        (LIVE, (COMPLETED,), (), "wait", "waiting for completed"),
        (PAUSED, (COMPLETED,), (), "wait", "waiting for completed"),
        # a configured failure status fails
        (PAUSED, BOTH, (PAUSED,), "failure", "failure status"),
        (SCHEDULED, (LIVE,), (SCHEDULED, PAUSED), "failure", "failure status"),
        # a finished campaign can never become live
        (COMPLETED, (LIVE,), (), "failure", "can never become live"),
        (COMPLETED, (LIVE, PAUSED), (), "failure", "can never become"),
        # unknown always waits, whatever was configured
        (UNKNOWN, BOTH, (), "wait", "unknown status"),
        (UNKNOWN, (LIVE,), (), "wait", "unknown status"),
        (UNKNOWN, (UNKNOWN,), (), "wait", "unknown status"),
        (UNKNOWN, BOTH, (UNKNOWN,), "wait", "unknown status"),
    ],
)
def test_judge(
    status: CampaignStatus,
    targets: tuple[CampaignStatus, ...],
    failures: tuple[CampaignStatus, ...],
    outcome: str,
    reason_part: str,
) -> None:
    verdict = judge(status, targets=targets, failures=failures, raw_status="Dialling", campaign_id="camp_1")
    assert isinstance(verdict, Verdict)
    assert verdict.outcome == outcome
    assert reason_part in verdict.reason
    assert "'camp_1'" in verdict.reason


def test_judge_unknown_reason_quotes_raw_status_and_never_claims_success() -> None:
    verdict = judge(UNKNOWN, targets=BOTH, raw_status="Dialling", campaign_id="c")
    assert verdict.outcome == "wait"
    assert "'Dialling'" in verdict.reason
    assert "not counted" in verdict.reason


def test_judge_without_campaign_id_says_the_campaign() -> None:
    assert judge(LIVE, targets=BOTH).reason == "the campaign is live"


def test_judge_accepts_one_shot_iterables() -> None:
    verdict = judge(COMPLETED, targets=iter([LIVE]), failures=iter([PAUSED]), campaign_id="c")
    assert verdict.outcome == "failure"
    assert "can never become live" in verdict.reason


def test_judge_failure_reason_names_the_wanted_statuses_sorted() -> None:
    verdict = judge(COMPLETED, targets=[PAUSED, LIVE], campaign_id="c")
    assert "can never become live or paused" in verdict.reason


# -- parse_statuses ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (None, frozenset()),
        ([], frozenset()),
        ("live", frozenset({LIVE})),
        (" LIVE ", frozenset({LIVE})),
        (LIVE, frozenset({LIVE})),
        (["live", "completed"], frozenset({LIVE, COMPLETED})),
        (("Paused", SCHEDULED), frozenset({PAUSED, SCHEDULED})),
        (["live", "LIVE", LIVE], frozenset({LIVE})),
        (iter(["completed"]), frozenset({COMPLETED})),
    ],
)
def test_parse_statuses(values: Any, expected: frozenset[CampaignStatus]) -> None:
    assert parse_statuses(values, what="target_statuses") == expected


@pytest.mark.parametrize(
    ("values", "offender"),
    [
        ("unknown", "'unknown'"),
        (UNKNOWN, "unknown"),
        ("", "''"),
        ("active", "'active'"),
        ("live,completed", "'live,completed'"),
        (["live", "done"], "'done'"),
        (["live", None], "None"),
        ([3], "3"),
    ],
)
def test_parse_statuses_rejects_bad_values_naming_the_parameter(values: Any, offender: str) -> None:
    with pytest.raises(ValueError, match="failure_statuses") as excinfo:
        parse_statuses(values, what="failure_statuses")
    message = str(excinfo.value)
    assert offender in message
    assert "live, scheduled, paused, completed" in message


# -- parse_campaign ------------------------------------------------------------------------------


def test_documented_example() -> None:
    payload = documented()
    campaign = parse_campaign(payload, expected_id="camp_XiQEBcj9cc5TFRB4")
    assert campaign.campaign_id == "camp_XiQEBcj9cc5TFRB4"
    assert campaign.status is LIVE
    assert campaign.raw_status == "live"
    assert campaign.name == "Q4 Outreach Campaign"
    assert campaign.scheduled_date == pendulum.datetime(2025, 9, 25, 19, 0, 0, tz="UTC")
    assert campaign.scheduled_date is not None
    assert campaign.scheduled_date.utcoffset() == pendulum.duration(0)
    assert campaign.errors == [
        "Row 3: missing required variable 'customer_name'",
        "Row 7: invalid phone number '+1234'",
    ]
    assert campaign.concurrent_calls == 5
    assert campaign.scheduled is True
    assert campaign.payload is payload
    assert campaign.payload == documented()


@pytest.mark.parametrize("campaign_id", ["XiQEBcj9cc5TFRB4", "camp-XiQEBcj9cc5TFRB4", "camp_XiQEBcj9cc5TFRB4"])
def test_ids_are_kept_verbatim(campaign_id: str) -> None:
    campaign = parse_campaign(minimal(campaignId=campaign_id), expected_id=campaign_id)
    assert campaign.campaign_id == campaign_id
    # and without an expected id too
    assert parse_campaign(minimal(campaignId=campaign_id)).campaign_id == campaign_id


@pytest.mark.parametrize(
    ("asked", "answered"),
    [
        ("XiQEBcj9cc5TFRB4", "camp_XiQEBcj9cc5TFRB4"),
        ("camp_XiQEBcj9cc5TFRB4", "XiQEBcj9cc5TFRB4"),
        ("camp-XiQEBcj9cc5TFRB4", "camp_XiQEBcj9cc5TFRB4"),
        ("abc", "ABC"),
        ("abc", "someone-else"),
    ],
)
def test_another_campaign_is_rejected(asked: str, answered: str) -> None:
    with pytest.raises(PayloadError, match="asked for campaign") as excinfo:
        parse_campaign(minimal(campaignId=answered), expected_id=asked)
    assert repr(asked) in str(excinfo.value)


def test_another_campaign_message_is_bounded() -> None:
    with pytest.raises(PayloadError) as excinfo:
        parse_campaign(minimal(campaignId="x" * 10_000), expected_id="abc")
    assert len(str(excinfo.value)) < 200


def test_missing_campaign_id_falls_back_to_the_expected_one() -> None:
    payload = {"campaignStatus": "paused"}
    campaign = parse_campaign(payload, expected_id="camp_1")
    assert campaign.campaign_id == "camp_1"
    assert campaign.status is PAUSED


@pytest.mark.parametrize("campaign_id", [None, "", 123, ["a"]])
def test_unusable_campaign_id_without_expected_id_is_rejected(campaign_id: object) -> None:
    payload: dict[str, Any] = {"campaignStatus": "live"}
    if campaign_id is not None:
        payload["campaignId"] = campaign_id
    with pytest.raises(PayloadError, match="campaignId"):
        parse_campaign(payload)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2023-11-07T05:31:56Z", pendulum.datetime(2023, 11, 7, 5, 31, 56, tz="UTC")),
        ("2025-09-25T19:00:00.000Z", pendulum.datetime(2025, 9, 25, 19, tz="UTC")),
        ("2025-09-25T19:00:00.123Z", pendulum.datetime(2025, 9, 25, 19, 0, 0, 123000, tz="UTC")),
        ("2025-09-25T21:00:00+02:00", pendulum.datetime(2025, 9, 25, 19, tz="UTC")),
        (None, None),
        ("", None),
        ("garbage", None),
        ("TBD", None),
        ("Object", None),
        ("2023-13-45T00:00:00Z", None),
        (1700000000, None),
        (["2023-11-07T05:31:56Z"], None),
        ({"date": "2023-11-07"}, None),
        pytest.param("99999999999999999999", None),
        pytest.param("now", None),
        pytest.param("5", None),
        pytest.param("Monday", None),
        pytest.param("12:00", None),
        pytest.param("9999-12-31T23:59:59-05:00", None, id="after-year-9999-in-utc"),
        pytest.param("0001-01-01T00:00:00+05:00", None, id="before-year-1-in-utc"),
        pytest.param("9999-12-31T23:59:59+00:00", pendulum.datetime(9999, 12, 31, 23, 59, 59, tz="UTC"), id="edge"),
    ],
)
def test_scheduled_date(value: object, expected: pendulum.DateTime | None) -> None:
    payload = minimal(scheduledDate=value)
    campaign = parse_campaign(payload)
    assert campaign.scheduled_date == expected
    if expected is not None:
        assert campaign.scheduled_date is not None
        assert campaign.scheduled_date.timezone_name == "UTC"
        # exactly what pendulum.instance() makes of it: same type, zone object and fields
        assert repr(campaign.scheduled_date) == repr(pendulum.instance(expected)) == repr(expected)
        assert type(campaign.scheduled_date) is pendulum.DateTime
    # the raw value always stays in the payload
    assert campaign.payload["scheduledDate"] == value


def test_scheduled_date_absent() -> None:
    assert parse_campaign(minimal()).scheduled_date is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, []),
        ([], []),
        ("", []),
        ("Row 3: bad", ["Row 3: bad"]),
        (["Row 3: bad", "Row 7: worse"], ["Row 3: bad", "Row 7: worse"]),
        ([{"message": "Row 3: bad"}, {"error": "Row 4: bad"}], ["Row 3: bad", "Row 4: bad"]),
        ([{"row": 3, "column": "Phone"}], ['{"column": "Phone", "row": 3}']),
        ([{"message": None, "row": 9}], ['{"message": null, "row": 9}']),
        ([3, None], ["3", "None"]),
        ({"row": 3}, ["{'row': 3}"]),
        (7, ["7"]),
    ],
)
def test_errors_variants(value: object, expected: list[str]) -> None:
    campaign = parse_campaign(minimal(errors=value))
    assert campaign.errors == expected
    assert all(isinstance(e, str) for e in campaign.errors)


def test_errors_absent_is_empty_list() -> None:
    assert parse_campaign(minimal()).errors == []


def test_phone_number_as_the_string_object() -> None:
    payload = minimal(phoneNumber="Object", agent="Object")
    campaign = parse_campaign(payload)
    assert campaign.status is LIVE
    assert campaign.payload["phoneNumber"] == "Object"


def test_phone_values_as_numbers() -> None:
    payload = documented()
    payload["phoneNumber"]["sipPhoneNumber"] = 14155552671
    payload["phoneNumber"]["outboundPhoneNumber"] = 14155552671
    campaign = parse_campaign(payload)
    assert campaign.payload["phoneNumber"]["sipPhoneNumber"] == 14155552671
    assert campaign.status is LIVE


@pytest.mark.parametrize("agent_status", ["active", "Testing", "Live", "LIVE", None, 3])
def test_agent_status_any_casing(agent_status: object) -> None:
    payload = documented()
    payload["agent"]["status"] = agent_status
    assert parse_campaign(payload).status is LIVE


def test_unknown_fields_are_kept_and_payload_is_the_same_object() -> None:
    payload = documented()
    payload["dialledCount"] = 42
    payload["nested"] = {"a": [1, 2, {"b": None}]}
    snapshot = copy.deepcopy(payload)
    campaign = parse_campaign(payload)
    assert campaign.payload is payload
    assert campaign.payload["dialledCount"] == 42
    assert campaign.payload["nested"] == {"a": [1, 2, {"b": None}]}
    # the parser does not modify what it was given
    assert payload == snapshot


@pytest.mark.parametrize(
    ("raw", "status"),
    [("LIVE", LIVE), (" Completed ", COMPLETED), ("Dialling", UNKNOWN), ("", UNKNOWN), ("unknown", UNKNOWN)],
)
def test_raw_status_is_kept(raw: str, status: CampaignStatus) -> None:
    campaign = parse_campaign(minimal(campaignStatus=raw))
    assert campaign.status is status
    assert campaign.raw_status == raw


@pytest.mark.parametrize(
    ("fields", "concurrent", "scheduled", "name"),
    [
        ({"concurrentCalls": 5, "scheduled": False, "campaignName": "n"}, 5, False, "n"),
        ({"concurrentCalls": "5", "scheduled": "true", "campaignName": 3}, None, None, None),
        ({"concurrentCalls": True, "scheduled": 1}, None, None, None),
        ({"concurrentCalls": 2.5}, None, None, None),
        ({"isScheduled": True}, None, True, None),
        ({"scheduled": False, "isScheduled": True}, None, False, None),
        ({}, None, None, None),
    ],
)
def test_optional_fields_are_typed_or_none(
    fields: dict[str, Any], concurrent: int | None, scheduled: bool | None, name: str | None
) -> None:
    campaign = parse_campaign(minimal(**fields))
    assert campaign.concurrent_calls == concurrent
    assert campaign.scheduled is scheduled
    assert campaign.name == name


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        (None, "got NoneType"),
        ([], "got list"),
        ([documented()], "got list"),
        ("live", "got str"),
        (42, "got int"),
        (b"{}", "got bytes"),
    ],
)
def test_non_objects_are_rejected(payload: object, match: str) -> None:
    with pytest.raises(PayloadError, match=match):
        parse_campaign(payload)


@pytest.mark.parametrize(
    ("status_field", "match"),
    [
        ({}, "no campaignStatus"),
        ({"campaignStatus": None}, "no campaignStatus"),
        ({"campaignStatus": 1}, "campaignStatus is int"),
        ({"campaignStatus": 1.0}, "campaignStatus is float"),
        ({"campaignStatus": True}, "campaignStatus is bool"),
        ({"campaignStatus": ["live"]}, "campaignStatus is list"),
        ({"campaignStatus": {"value": "live"}}, "campaignStatus is dict"),
    ],
)
def test_unusable_status_is_rejected(status_field: dict[str, Any], match: str) -> None:
    payload = {"campaignId": "c1", **status_field}
    with pytest.raises(PayloadError, match=match):
        parse_campaign(payload, expected_id="c1")


def test_payload_error_is_a_value_error() -> None:
    assert issubclass(PayloadError, ValueError)


# -- Campaign.summary ----------------------------------------------------------------------------


def test_summary_of_documented_example() -> None:
    summary = parse_campaign(documented()).summary()
    assert summary == (
        "campaign 'Q4 Outreach Campaign' [camp_XiQEBcj9cc5TFRB4] status=live scheduled=2025-09-25T19:00:00Z"
    )


def test_summary_unnamed_unknown_unscheduled() -> None:
    summary = parse_campaign({"campaignId": "c-9", "campaignStatus": "Dialling"}).summary()
    assert summary == "campaign '(unnamed)' [c-9] status=unknown ('Dialling') scheduled=started at creation"


def test_summary_is_one_line() -> None:
    summary = parse_campaign(minimal(campaignName="line one\nline two", campaignStatus="x\ny")).summary()
    assert "\n" not in summary


def test_repr_leaves_out_the_payload() -> None:
    payload = minimal(secretish="do-not-print-me")
    assert "do-not-print-me" not in repr(parse_campaign(payload))


def test_campaign_is_frozen() -> None:
    campaign = parse_campaign(minimal())
    with pytest.raises(AttributeError):
        campaign.status = COMPLETED  # type: ignore[misc]
    assert isinstance(campaign, Campaign)


# -- property: any JSON-ish dict -----------------------------------------------------------------

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
known_keys = st.sampled_from(
    [
        "campaignId",
        "campaignName",
        "campaignStatus",
        "scheduledDate",
        "concurrentCalls",
        "agent",
        "phoneNumber",
        "errors",
        "scheduled",
        "isScheduled",
    ]
)
status_texts = st.one_of(
    st.sampled_from(["live", "LIVE", " scheduled ", "paused", "Completed", "failed", "", "unknown"]),
    st.text(max_size=12),
)
date_values = st.one_of(
    st.sampled_from(["2023-11-07T05:31:56Z", "2025-09-25T19:00:00.000Z", None, "", "garbage"]),
    st.datetimes().map(lambda d: d.isoformat()),
    json_values,
)
drift_fields = {
    "scheduledDate": date_values,
    "errors": st.one_of(st.lists(st.one_of(st.text(max_size=20), json_values), max_size=3), json_values),
    "campaignName": json_values,
    "concurrentCalls": json_values,
    "scheduled": json_values,
    "isScheduled": json_values,
    "agent": json_values,
    "phoneNumber": st.one_of(st.just("Object"), json_values),
    "extraField": json_values,
}
#: Mostly campaign-shaped bodies (a string status, a known id), so most examples parse.
campaign_like = st.fixed_dictionaries(
    {
        "campaignStatus": status_texts,
        "campaignId": st.sampled_from(["XiQEBcj9cc5TFRB4", "XiQEBcj9cc5TFRB4", "camp-XiQEBcj9cc5TFRB4", "camp_X"]),
    },
    optional=drift_fields,
)
#: Anything at all: every field may be any JSON value, or the body may not be an object.
anything = st.one_of(
    st.fixed_dictionaries({}, optional={"campaignId": json_values, "campaignStatus": json_values, **drift_fields}),
    st.dictionaries(st.one_of(known_keys, st.text(max_size=10)), json_values, max_size=8),
    json_values,
)


def check_campaign(campaign: Campaign, payload: Any, expected_id: str | None) -> None:
    assert isinstance(campaign.status, CampaignStatus)
    assert campaign.status in set(CampaignStatus)
    assert campaign.status is CampaignStatus.parse(payload["campaignStatus"])
    assert campaign.payload is payload
    assert campaign.raw_status == payload["campaignStatus"]
    assert isinstance(campaign.campaign_id, str)
    assert campaign.campaign_id
    if expected_id is not None:
        assert campaign.campaign_id == expected_id
    assert isinstance(campaign.errors, list)
    assert all(isinstance(e, str) for e in campaign.errors)
    assert campaign.scheduled_date is None or isinstance(campaign.scheduled_date, pendulum.DateTime)
    assert campaign.concurrent_calls is None or type(campaign.concurrent_calls) is int
    assert campaign.scheduled in (None, True, False)
    assert isinstance(campaign.summary(), str)


HYPOTHESIS = settings(
    max_examples=60, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck)
)


@HYPOTHESIS
@given(payload=campaign_like)
@pytest.mark.filterwarnings("ignore:tzname .* identified but not understood")
def test_campaign_shaped_payload_always_parses(payload: dict[str, Any]) -> None:
    check_campaign(parse_campaign(payload), payload, None)


@HYPOTHESIS
@given(payload=st.one_of(campaign_like, anything), expected_id=st.sampled_from([None, "XiQEBcj9cc5TFRB4"]))
@pytest.mark.filterwarnings("ignore:tzname .* identified but not understood")
def test_any_jsonish_payload_parses_or_raises_payload_error(payload: Any, expected_id: str | None) -> None:
    try:
        campaign = parse_campaign(payload, expected_id=expected_id)
    except PayloadError:
        return
    check_campaign(campaign, payload, expected_id)
