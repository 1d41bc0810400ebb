"""The export's summary and formats on their own (no HTTP): bounded counts, the histogram median."""

from __future__ import annotations

import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_sigmamind import call_export
from airflow_provider_sigmamind.call_export import HISTOGRAM_SECONDS, MAX_KEYS, CallSummary, check_format
from airflow_provider_sigmamind.exceptions import SigmaMindInvalidInputError
from airflow_provider_sigmamind.models import parse_call


def summary_of(*calls: dict) -> CallSummary:
    summary = CallSummary()
    for index, fields in enumerate(calls):
        summary.add(parse_call({"callId": f"call_{index}", **fields}))
    return summary


@given(st.lists(st.integers(min_value=0, max_value=HISTOGRAM_SECONDS - 1), min_size=1, max_size=200))
def test_the_median_of_whole_seconds_is_exact(durations):
    summary = summary_of(*({"duration": d} for d in durations))
    assert summary.median_seconds() == statistics.median(durations)
    assert summary.as_dict()["totalDurationSeconds"] == sum(durations)


def test_fractional_durations_are_binned_to_the_second_and_totalled_exactly():
    summary = summary_of({"duration": 10.4}, {"duration": 10.6}, {"duration": 30.25})
    assert summary.median_seconds() == 11  # 10.6 binned to 11: within half a second
    assert summary.as_dict()["totalDurationSeconds"] == 51.25


def test_calls_of_a_day_or_more_share_the_last_bucket():
    summary = summary_of({"duration": 5}, {"duration": 10**9}, {"duration": 2 * 10**9})
    assert summary.median_seconds() == HISTOGRAM_SECONDS
    assert len(summary.histogram) == 2
    assert summary.as_dict()["totalDurationSeconds"] == 3 * 10**9 + 5


def test_calls_without_a_duration_are_counted_but_not_timed():
    result = summary_of({"status": "in-progress"}, {"duration": 4}).as_dict()
    assert (result["calls"], result["callsWithDuration"], result["medianDurationSeconds"]) == (2, 1, 4)
    assert result["byStatus"] == {"in-progress": 1, "(none)": 1}
    assert result["byTerminationReason"] == {"(none)": 2}


def test_distinct_statuses_and_reasons_are_bounded():
    summary = summary_of(*({"status": f"odd-{n}", "terminationReason": f"r{n}"} for n in range(MAX_KEYS + 30)))
    result = summary.as_dict()
    assert len(result["byStatus"]) == MAX_KEYS + 1
    assert result["byStatus"]["(other)"] == 30
    assert len(result["byTerminationReason"]) == MAX_KEYS + 1


def test_unknown_statuses_and_reasons_are_counted_as_sent():
    result = summary_of({"status": "VOICEMAIL_LEFT", "terminationReason": "inactive"}, {"status": "Ended"}).as_dict()
    assert result["byStatus"] == {"VOICEMAIL_LEFT": 1, "ended": 1}
    assert result["byTerminationReason"] == {"inactive": 1, "(none)": 1}


@pytest.mark.parametrize("value", ["xlsx", "JSONL", None])
def test_only_the_three_formats(value):
    with pytest.raises(SigmaMindInvalidInputError, match="format must be one of jsonl, csv, parquet"):
        check_format(value)


def test_a_failed_write_removes_its_temporary_file(tmp_path):
    from airflow.sdk import ObjectStoragePath

    def calls():
        yield parse_call({"callId": "call_1"})
        raise RuntimeError("the listing broke")

    target = ObjectStoragePath(f"file://{tmp_path}/calls.jsonl")
    with pytest.raises(RuntimeError, match="the listing broke"):
        call_export.write_calls(calls(), target, "jsonl")
    assert list(tmp_path.iterdir()) == []
