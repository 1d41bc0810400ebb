"""The call model: both status enums, reasons outside the enum, phone numbers and every other drift."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_sigmamind.models import (
    CALL_COLUMNS,
    Call,
    CallPage,
    CallStatus,
    PayloadError,
    TerminationReason,
    parse_call,
    parse_call_page,
)

NEWER = {
    "callId": "call-8f3a",
    "callType": "outbound",
    "phoneNumber": "+14155552671",
    "campaign": {"campaignId": "camp_XiQEBcj9cc5TFRB4", "campaignName": "Q4", "campaignStatus": "completed"},
    "status": "ended",
    "startTime": "2025-09-25T19:00:00.000Z",
    "endTime": "2025-09-25T19:03:12Z",
    "createdAt": "2025-09-25T18:59:59Z",
    "updatedAt": "2025-09-25T19:03:12.500Z",
    "duration": 192,
    "terminationReason": "customer_ended_call",
    "dynamicVariables": {"customer_name": "Michael"},
    "recordingUrl": "https://example.invalid/r.wav",
    "agent": {"name": "A", "agentId": "agent_1", "status": "Live"},
}


def test_a_newer_call_parses_into_typed_fields():
    call = parse_call(NEWER)
    assert isinstance(call, Call)
    assert (call.call_id, call.status, call.termination_reason) == (
        "call-8f3a",
        CallStatus.ENDED,
        TerminationReason.CUSTOMER_ENDED_CALL,
    )
    assert (call.campaign_id, call.campaign_name, call.agent_id) == ("camp_XiQEBcj9cc5TFRB4", "Q4", "agent_1")
    assert call.start_time == datetime(2025, 9, 25, 19, 0, tzinfo=UTC)
    assert call.updated_at == datetime(2025, 9, 25, 19, 3, 12, 500_000, tzinfo=UTC)
    assert (call.duration, call.variables, call.phone_number) == (192, {"customer_name": "Michael"}, "+14155552671")
    assert call.payload is NEWER
    assert call.status.is_final


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("completed", CallStatus.COMPLETED),
        ("failed", CallStatus.FAILED),
        ("ended", CallStatus.ENDED),
        ("not-connected", CallStatus.NOT_CONNECTED),
        ("NOT_CONNECTED", CallStatus.NOT_CONNECTED),
        (" In-Progress ", CallStatus.IN_PROGRESS),
        ("error", CallStatus.ERROR),
        ("scheduled", CallStatus.SCHEDULED),
    ],
)
def test_both_generations_of_the_status_enum(raw, status):
    assert parse_call({**NEWER, "status": raw}).status is status


@pytest.mark.parametrize("raw", ["voicemail-left", "", 3, None, {"s": 1}])
def test_an_unknown_status_is_kept_and_never_final(raw):
    call = parse_call({**NEWER, "status": raw})
    assert call.status is CallStatus.UNKNOWN
    assert not call.status.is_final
    assert call.raw_status == (None if raw is None else str(raw))
    assert call.status_text == call.raw_status


@pytest.mark.parametrize(
    ("raw", "reason", "text"),
    [
        ("no-answer", TerminationReason.NO_ANSWER, "no-answer"),
        ("no_answer", TerminationReason.NO_ANSWER, "no-answer"),
        ("VOICEMAIL", TerminationReason.VOICEMAIL, "voicemail"),
        ("inactive", TerminationReason.UNKNOWN, "inactive"),  # the API's own example, outside its enum
        ("user_ended_call", TerminationReason.UNKNOWN, "user_ended_call"),
        (None, None, None),
        ("", None, None),
    ],
)
def test_termination_reasons_inside_and_outside_the_enum(raw, reason, text):
    call = parse_call({**NEWER, "terminationReason": raw})
    assert call.termination_reason is reason
    assert call.reason_text == text


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ("+14155552671", "+14155552671"),
        (14155552671, "14155552671"),  # a bare number gains no "+"
        (14155552671.0, "14155552671"),
        ({"sipPhoneNumber": "+14155550000"}, None),  # the line that dialled is not the number called
        ("Object", None),
        (True, None),
        (None, None),
    ],
)
def test_phone_numbers_as_strings_numbers_or_objects(raw, text):
    assert parse_call({**NEWER, "phoneNumber": raw}).phone_number == text


def test_older_variables_and_null_times_before_the_call():
    older = {"callId": "call_1", "status": "scheduled", "variables": {"a": 1}, "startTime": None, "endTime": None}
    call = parse_call(older)
    assert (call.variables, call.start_time, call.end_time, call.duration) == ({"a": 1}, None, None, None)
    assert (call.campaign_id, call.call_type, call.recording_url, call.agent_id) == (None, None, None, None)
    both = parse_call({**older, "dynamicVariables": {"b": 2}})
    assert both.variables == {"b": 2}  # the newer name wins


@pytest.mark.parametrize(
    ("raw", "seconds"), [(12.5, 12.5), ("42", 42.0), (-1, None), ("nan", None), (True, None), ("x", None), ("", None)]
)
def test_durations(raw, seconds):
    assert parse_call({**NEWER, "duration": raw}).duration == seconds


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ([], "expected a JSON object, got list"),
        ({"status": "ended"}, "the call has no callId"),
        ({"callId": ""}, "the call has no callId"),
    ],
)
def test_what_is_not_a_call(payload, message):
    with pytest.raises(PayloadError, match=message):
        parse_call(payload)


def test_an_answer_about_another_call_is_refused():
    with pytest.raises(PayloadError, match="asked for call 'call_x' but the API answered with 'call-8f3a'"):
        parse_call(NEWER, expected_id="call_x")
    assert parse_call({"status": "ended"}, expected_id="call_x").call_id == "call_x"


def test_a_record_has_every_column_in_order_and_is_json():
    record = parse_call({**NEWER, "transcript": [{"role": "agent", "text": "Hi"}]}).record()
    assert list(record) == [name for name, _, _ in CALL_COLUMNS]
    assert record["start_time"] == "2025-09-25T19:00:00.000+00:00"
    assert json.loads(record["transcript"]) == [{"role": "agent", "text": "Hi"}]
    assert record["variables"] == {"customer_name": "Michael"}
    json.dumps(record)
    unknown = parse_call({**NEWER, "status": "voicemail-left", "terminationReason": "inactive"}).record()
    assert (unknown["status"], unknown["termination_reason"]) == ("voicemail-left", "inactive")


def test_the_call_page_reads_total_counts_plural():
    page = parse_call_page({"data": [NEWER], "page": 0, "size": 10, "totalCounts": 125, "totalPages": 13})
    assert isinstance(page, CallPage)
    assert (page.total_count, page.total_pages, page.has_next) == (125, 13, None)
    assert [c.call_id for c in page.calls] == ["call-8f3a"] == [c.call_id for c in page.items]
    assert page.has_more(0, 10)
    assert parse_call_page({"data": [NEWER], "totalCount": 1}).total_count == 1
    with pytest.raises(PayloadError, match="item 1 of the list: the call has no callId"):
        parse_call_page({"data": [NEWER, {}]})


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=10,
)


@given(st.dictionaries(st.sampled_from([*sorted(NEWER), "transcript", "variables"]), json_values))
def test_no_field_value_crashes_the_parser(fields):
    call = parse_call({**fields, "callId": "call_1"})
    json.dumps(call.record())
    assert call.call_id == "call_1"
